"""What the short lists' views share (bounces, mailbox, drafts): a read-only table over a paged model, a count,
the entry under the cursor shown beside the list, and the same entry selected again after a refresh."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QTableView, QWidget

from mailgui.errors import Error
from mailgui.gui.lists.paged_model import RECORD_ROLE, PagedTableModel

T = TypeVar("T")

ROW_HEIGHT = 26


class RecordListView(QWidget, Generic[T]):
    """Subclasses call :meth:`_build_list` first, with their model and what the list needs to know of their
    entries: how one entry is told from another, how a count of them reads, what to do with the entry under the
    cursor and after a refresh. Callables rather than methods to override: nothing to forget to implement (an
    ``abc.ABC`` cannot be mixed into a Qt class: Shiboken's metaclass conflicts with ``ABCMeta``), and mypy checks
    each against the entry type."""

    READ_ERROR = "The queue could not be read"
    model: PagedTableModel[T]

    def _build_list(
        self,
        model: PagedTableModel[T],
        object_name: str,
        *,
        key: Callable[[T], Hashable],
        count_text: Callable[[int], str],
        show: Callable[[T | None], None] | None = None,
        after_refresh: Callable[[bool, bool], None] | None = None,
    ) -> None:
        """``key``: an entry's identity, the same after a refresh; ``show``: the entry under the cursor (None for
        none), shown beside the list; ``after_refresh(changed, reselected)``: after each refresh that read the
        queue."""
        self.model = model
        self._entry_key = key
        self._entry_count_text = count_text
        self._show_entry = show
        self._on_refresh = after_refresh
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
        if show is not None:
            table.selectionModel().currentRowChanged.connect(self._current_changed)
        self.table = table
        self.count_label = QLabel()
        self.count_label.setProperty("role", "hint")
        model.modelReset.connect(self._update_count)
        self._update_count()

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
            wanted = self._entry_key(current)
            for row in range(min(self.model.rowCount(), self.model.pages.PAGE)):
                record = self.model.record(row)
                if record is not None and self._entry_key(record) == wanted:
                    self.table.selectRow(row)
                    reselected = True
                    break
        if self._on_refresh is not None:
            self._on_refresh(changed, reselected)

    def _update_count(self, *_args: Any) -> None:
        self.count_label.setText(self._entry_count_text(self.model.rowCount()))

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        assert self._show_entry is not None  # connected only when given
        self._show_entry(current.data(RECORD_ROLE) if current.isValid() else None)
