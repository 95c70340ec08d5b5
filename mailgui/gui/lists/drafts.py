"""The Drafts list: unsent compose windows saved in the queue file, to reopen or delete."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QFrame, QHBoxLayout, QHeaderView, QLabel, QPushButton, QVBoxLayout, QWidget

from mailgui.gui.lists.paged_model import RECORD_ROLE, PagedTableModel
from mailgui.gui.lists.record_list import RecordListView
from mailgui.gui.resources import icon
from mailgui.queue import Queue
from mailgui.queue.drafts import Draft

(COL_SAVED, COL_TO, COL_SUBJECT) = range(3)
NO_DRAFTS = "No drafts. Unsent messages are saved here automatically."


class DraftsModel(PagedTableModel[Draft]):
    COLUMNS = ("Saved", "To", "Subject")

    def count(self) -> int:
        return self.queue.count_drafts()

    def read(self, offset: int, limit: int) -> list[Draft]:
        # Drafts are few (one per unsent compose window): the queue lists them whole.
        return self.queue.list_drafts()[offset : offset + limit]

    # No signature: telling whether a draft changed would read them all, which is what a refresh does anyway.

    def cell(self, d: Draft, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            if column == COL_SAVED:
                return f"{datetime.fromtimestamp(d.updated_at):%Y-%m-%d %H:%M}"
            if column == COL_TO:
                return d.fields.to or "(no recipient)"
            if column == COL_SUBJECT:
                return d.fields.subject or "(no subject)"
        return None


class DraftsView(RecordListView[Draft]):
    """Drafts, most recently saved first; the selected one is kept across the reloads autosave causes."""

    openDraft = Signal(int)
    READ_ERROR = "The drafts could not be read"

    def __init__(self, queue: Queue, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("draftsView")
        self.queue = queue
        self._build_list(
            DraftsModel(queue, parent=self),
            "draftsTable",
            key=lambda d: d.id,
            count_text=lambda n: NO_DRAFTS if n == 0 else f"{n:,} draft{'s' if n != 1 else ''}",
            after_refresh=self._refreshed,  # nothing is shown beside the list: a draft opens in a compose window
        )
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(COL_SUBJECT, QHeaderView.ResizeMode.Stretch)
        self.table.setColumnWidth(COL_SAVED, 150)
        self.table.setColumnWidth(COL_TO, 260)
        self.table.doubleClicked.connect(lambda _i: self.open_selected())
        self.open_button = QPushButton(icon("compose"), "Open")
        self.open_button.setToolTip("Open the selected draft (Return)")
        self.open_button.clicked.connect(self.open_selected)
        self.delete_button = QPushButton(icon("remove"), "Delete…")
        self.delete_button.clicked.connect(self.ask_delete)
        self.confirm = QFrame()
        self.confirm.setObjectName("confirmBar")
        row = QHBoxLayout(self.confirm)
        row.setContentsMargins(8, 4, 8, 4)
        self.confirm_text = QLabel()
        yes = QPushButton("Delete")
        yes.setObjectName("deleteDraftYes")
        yes.clicked.connect(self.delete_selected)
        no = QPushButton("Keep")
        no.clicked.connect(self.confirm.hide)
        row.addWidget(self.confirm_text, 1)
        row.addWidget(yes)
        row.addWidget(no)
        self.confirm.hide()
        buttons = QHBoxLayout()
        buttons.addWidget(self.count_label, 1)
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.delete_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.confirm)
        layout.addLayout(buttons)
        QShortcut(QKeySequence(Qt.Key.Key_Return), self.table, self.open_selected)
        QShortcut(QKeySequence.StandardKey.Delete, self.table, self.ask_delete)
        self._refreshed(True, False)

    # -- the list ------------------------------------------------------------------------------------------
    def _refreshed(self, changed: bool, reselected: bool) -> None:
        any_drafts = self.model.rowCount() > 0
        self.open_button.setEnabled(any_drafts)
        self.delete_button.setEnabled(any_drafts)

    # -- open, delete --------------------------------------------------------------------------------------
    def selected_id(self) -> int | None:
        """The selected draft's id; the only draft's if there is one and nothing is selected."""
        rows = self.table.selectionModel().selectedRows()
        index: QModelIndex = (
            rows[0] if rows else self.model.index(0, 0) if self.model.rowCount() == 1 else QModelIndex()
        )
        draft = index.data(RECORD_ROLE) if index.isValid() else None
        return None if draft is None else int(draft.id)

    def open_selected(self) -> None:
        draft_id = self.selected_id()
        if draft_id is not None:
            self.openDraft.emit(draft_id)

    def ask_delete(self) -> None:
        if self.selected_id() is None:
            return
        self.confirm_text.setText("Delete the selected draft for good?")
        self.confirm.show()

    def delete_selected(self) -> None:
        self.confirm.hide()
        draft_id = self.selected_id()
        if draft_id is not None:
            self.queue.delete_draft(draft_id)
            self.refresh()
