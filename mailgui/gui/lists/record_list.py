"""What the short lists' views share (bounces, mailbox, drafts): a read-only table over a paged model, a count,
the entry under the cursor shown beside the list, and the same entry selected again after a refresh."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QTableView, QWidget

from mailgui.errors import Error
from mailgui.gui.lists.paged_model import RECORD_ROLE, PagedTableModel

T = TypeVar("T")

ROW_HEIGHT = 26


class RecordListView(QWidget, Generic[T]):
    """Subclasses make :attr:`model` and call :meth:`_build_list` first, then say how an entry is shown
    (:meth:`show_record`), which entries are the same (:meth:`same_record`) and how the count reads."""

    READ_ERROR = "The queue could not be read"
    model: PagedTableModel[T]

    def _build_list(self, model: PagedTableModel[T], object_name: str) -> None:
        self.model = model
        table = QTableView()
        table.setObjectName(object_name)
        table.setModel(model)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.setAlternatingRowColors(True)
        table.setShowGrid(False)
        table.setWordWrap(False)
        table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        table.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
        table.verticalHeader().hide()
        table.horizontalHeader().setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        table.selectionModel().currentRowChanged.connect(self._current_changed)
        self.table = table
        self.count_label = QLabel()
        self.count_label.setProperty("role", "hint")
        model.modelReset.connect(self._update_count)

    # -- for subclasses ------------------------------------------------------------------------------------
    def show_record(self, record: T | None) -> None:
        raise NotImplementedError

    def same_record(self, a: T, b: T) -> bool:
        raise NotImplementedError

    def count_text(self, n: int) -> str:
        raise NotImplementedError

    def after_refresh(self, changed: bool, reselected: bool) -> None:
        """Called after each refresh that read the queue."""

    # -- shared --------------------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Read the list again, keeping the same entry selected if it is still there (looked for on the first
        page: what was selected far down has most likely moved anyway)."""
        current = self.table.currentIndex().data(RECORD_ROLE)
        try:
            changed = self.model.refresh()
        except Error as exc:
            self.count_label.setText(f"{self.READ_ERROR}: {exc}")
            return
        reselected = False
        if changed and current is not None:
            for row in range(min(self.model.rowCount(), self.model.pages.PAGE)):
                record = self.model.record(row)
                if record is not None and self.same_record(record, current):
                    self.table.selectRow(row)
                    reselected = True
                    break
        self.after_refresh(changed, reselected)

    def _update_count(self, *_args: Any) -> None:
        self.count_label.setText(self.count_text(self.model.rowCount()))

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self.show_record(current.data(RECORD_ROLE) if current.isValid() else None)
