"""The Drafts list: unsent compose windows saved in the queue file, to reopen or delete."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from mailgui.gui.resources import icon
from mailgui.queue import Queue


class DraftsView(QWidget):
    """Drafts are few (one per unsent message), so a plain table widget reloaded whole is enough."""

    openDraft = Signal(int)

    def __init__(self, queue: Queue, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("draftsView")
        self.queue = queue
        self.table = QTableWidget(0, 3, self)
        self.table.setObjectName("draftsTable")
        self.table.setHorizontalHeaderLabels(["Saved", "To", "Subject"])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.setColumnWidth(0, 150)
        self.table.setColumnWidth(1, 260)
        self.table.doubleClicked.connect(lambda _i: self.open_selected())
        self.empty = QLabel("No drafts. Unsent messages are saved here automatically.")
        self.empty.setProperty("role", "hint")
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
        buttons.addWidget(self.empty, 1)
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.delete_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.confirm)
        layout.addLayout(buttons)
        QShortcut(QKeySequence(Qt.Key.Key_Return), self.table, self.open_selected)
        QShortcut(QKeySequence.StandardKey.Delete, self.table, self.ask_delete)
        self.reload()

    def reload(self) -> None:
        drafts = self.queue.list_drafts()
        self.table.setRowCount(len(drafts))
        for row, d in enumerate(drafts):
            when = QTableWidgetItem(f"{datetime.fromtimestamp(d.updated_at):%Y-%m-%d %H:%M}")
            when.setData(Qt.ItemDataRole.UserRole, d.id)
            self.table.setItem(row, 0, when)
            self.table.setItem(row, 1, QTableWidgetItem(d.fields.to or "(no recipient)"))
            self.table.setItem(row, 2, QTableWidgetItem(d.fields.subject or "(no subject)"))
        self.empty.setVisible(not drafts)
        self.open_button.setEnabled(bool(drafts))
        self.delete_button.setEnabled(bool(drafts))

    def selected_id(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        row = rows[0].row() if rows else (0 if self.table.rowCount() == 1 else -1)
        if row < 0:
            return None
        item = self.table.item(row, 0)
        return None if item is None else int(item.data(Qt.ItemDataRole.UserRole))

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
            self.reload()
