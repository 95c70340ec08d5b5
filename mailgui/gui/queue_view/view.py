"""The queue view: a filterable table of every message, a details pane beside it, and actions on the selection."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import QItemSelection, QItemSelectionModel, QItemSelectionRange, QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QSplitter,
    QTableView,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from mailgui.clock import Clock, SystemClock
from mailgui.errors import Error
from mailgui.gui import status_style
from mailgui.gui.queue_view.actions import QueueActions
from mailgui.gui.queue_view.cells import ID_ROLE
from mailgui.gui.queue_view.change_watcher import ChangeWatcher
from mailgui.gui.queue_view.model import QueueTableModel
from mailgui.gui.resources import icon
from mailgui.gui.widgets.details import DetailsPane
from mailgui.gui.widgets.plain import plain_label
from mailgui.queue import Queue

log = logging.getLogger(__name__)

# (label, states) for the filter; None is every message.
FILTERS: list[tuple[str, tuple[str, ...] | None, str]] = [
    ("All messages", None, "queue"),
    ("Needs attention (deferred, bounced)", ("deferred", "bounced"), "warning"),
    *((style.word, (state,), style.icon_name) for state, style in status_style.MESSAGE_STATES.items()),
]

# Every column but the last (last reply), which stretches: they fit beside the details pane in a 1280-wide window.
COLUMN_WIDTHS = (92, 60, 105, 135, 160, 64, 84)
ROW_HEIGHT = 26
UPDATE_DELAY_MS = 150  # worker updates that arrive within this are shown together
SEARCH_DELAY_MS = 300
RESTORE_LIMIT = 1000  # selected ids put back after a reload; beyond this, a reload clears the selection
RESTORE_BUDGET_S = 0.15  # finding rows of ids deep in a filtered million-row list costs a count each
DRAG_SETTLE_MS = 80


class QueueView(QWidget):
    """The queue table with filter, search, details and actions. Embed it; feed it worker updates with
    :meth:`notify_changed`; it notices other processes' changes itself (``watcher``)."""

    editAsNew = Signal(int)  # the user wants a new message prefilled from this one
    countChanged = Signal(int)  # messages in the (filtered) list

    def __init__(self, queue: Queue, parent: Any = None, clock: Clock | None = None):
        super().__init__(parent)
        self.queue = queue
        self.clock: Clock = clock or SystemClock()
        self.model = QueueTableModel(queue, self.clock, self)
        self.rows = self.model.rows  # the list itself: filter, paging, live updates (plain Python)
        self._pending: set[int] = set()
        self._external = False
        self._saved_selection: tuple[list[int], int | None] = ([], None)
        self.update_ticks = 0  # coalesced refreshes done, for tests and benches

        self._build_filter_bar()
        self._build_table()
        self.details = DetailsPane(queue, self.clock)
        self.queue_actions = QueueActions(queue, self, self)
        self.queue_actions.editAsNew.connect(self.editAsNew)
        self._build_actions()

        self.notice = plain_label()  # may quote an error from the queue
        self.notice.setObjectName("noticeBar")
        self.notice.setWordWrap(True)
        self.notice.setContentsMargins(8, 4, 8, 4)
        self.notice.hide()

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(self.table)
        splitter.addWidget(self.details)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([660, 340])  # proportions: the table gets the room, the details the rest
        self.details.setMinimumWidth(380)  # its recipients' replies stay readable
        self.splitter = splitter

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        layout.addWidget(self.toolbar)
        layout.addLayout(self.filter_bar)
        layout.addWidget(self.notice)
        layout.addWidget(splitter, 1)

        self._update_timer = QTimer(self)
        self._update_timer.setSingleShot(True)
        self._update_timer.setInterval(UPDATE_DELAY_MS)
        self._update_timer.timeout.connect(self._apply_updates)

        self.watcher = ChangeWatcher(queue, parent=self)
        self.watcher.changed.connect(self._external_change)
        self.watcher.failed.connect(self._show_error)

        self.model.modelAboutToBeReset.connect(self._save_selection)
        self.model.modelReset.connect(self._restore_selection)
        self.model.countChanged.connect(self._count_changed)
        self.model.rowsInserted.connect(self._rows_inserted)
        self.model.searchingChanged.connect(self._searching_changed)
        self.model.searchFailed.connect(lambda text: self._show_error(f"The search failed: {text}"))
        self._count_changed(self.model.rowCount())
        self._selection_changed()

    # -- building ------------------------------------------------------------------------------------------
    def _build_filter_bar(self) -> None:
        self.filter_combo = QComboBox()
        self.filter_combo.setToolTip("Show only messages in this state")
        for label, states, icon_name in FILTERS:
            self.filter_combo.addItem(icon(icon_name), label, states)
        self.filter_combo.currentIndexChanged.connect(self._filter_changed)
        self.search_box = QLineEdit()
        self.search_box.setPlaceholderText("Search by address or subject")
        self.search_box.setClearButtonEnabled(True)
        self.search_box.textChanged.connect(self._search_edited)
        self.search_box.returnPressed.connect(self._search_now)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self._search_now)
        self.count_label = QLabel()
        self.count_label.setProperty("role", "hint")
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Show:"))
        bar.addWidget(self.filter_combo)
        bar.addWidget(self.search_box, 1)
        bar.addWidget(self.count_label)
        self.filter_bar = bar

    def _build_table(self) -> None:
        table = QTableView()
        table.setModel(self.model)
        table.setObjectName("queueTable")
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        table.setAlternatingRowColors(True)
        table.setShowGrid(False)
        table.setWordWrap(False)
        table.setTextElideMode(Qt.TextElideMode.ElideRight)
        table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerItem)
        table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        table.customContextMenuRequested.connect(self._context_menu)
        # A million rows: fixed row heights and fixed column widths, never sized to contents.
        vh = table.verticalHeader()
        vh.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vh.setDefaultSectionSize(ROW_HEIGHT)
        vh.hide()
        hh = table.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        hh.setStretchLastSection(True)
        hh.setHighlightSections(False)
        hh.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        for col, width in enumerate(COLUMN_WIDTHS):
            table.setColumnWidth(col, width)
        # The stretched last reply may shrink with the window instead of scrolling out of view: Qt keeps a
        # stretched last section at least as wide as it was before it stretched (100 by default).
        hh.setMinimumSectionSize(48)
        table.setColumnWidth(len(COLUMN_WIDTHS), 48)
        table.selectionModel().selectionChanged.connect(self._selection_changed)
        table.selectionModel().currentRowChanged.connect(self._current_changed)
        bar = table.verticalScrollBar()
        bar.valueChanged.connect(self._viewport_moved)
        bar.sliderPressed.connect(self._drag_started)
        bar.sliderReleased.connect(self._drag_ended)
        self._drag_settle = QTimer(self)
        self._drag_settle.setSingleShot(True)
        self._drag_settle.setInterval(DRAG_SETTLE_MS)
        self._drag_settle.timeout.connect(self._fetch_where_the_drag_rests)
        table.doubleClicked.connect(lambda _index: self.details.setFocus())
        self.table = table

    def _action(
        self,
        text: str,
        icon_name: str,
        shortcut: QKeySequence | QKeySequence.StandardKey | str,
        slot: Callable[[], None],
    ) -> QAction:
        action = QAction(icon(icon_name), text, self)
        action.setShortcut(QKeySequence(shortcut))
        # Only while the queue view has focus, so compose and settings keep their own keys.
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.setToolTip(f"{text} ({QKeySequence(shortcut).toString(QKeySequence.SequenceFormat.NativeText)})")
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        acts = self.queue_actions
        self.retry_action = self._action("Retry now", "refresh", "Ctrl+R", acts.retry_selected)
        self.cancel_action = self._action("Cancel", "stopped", "Ctrl+Shift+X", acts.cancel_selected)
        self.delete_action = self._action("Delete…", "remove", QKeySequence.StandardKey.Delete, acts.delete_selected)
        self.edit_action = self._action("Edit as new", "compose", "Ctrl+E", acts.edit_selected_as_new)
        # No key of its own: F5 belongs to the main window, whose refresh reaches this view too (the same key
        # in two live contexts is ambiguous to Qt, and then neither fires).
        self.refresh_action = QAction(icon("refresh"), "Refresh", self)
        self.refresh_action.setToolTip("Read the queue again (F5)")
        self.refresh_action.triggered.connect(self.refresh)
        self.find_action = self._action("Find", "queue", QKeySequence.StandardKey.Find, self._focus_search)
        self.toolbar = QToolBar("Queue actions")
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for a in (self.retry_action, self.cancel_action, self.delete_action, self.edit_action):
            self.toolbar.addAction(a)
        self.toolbar.addSeparator()
        self.toolbar.addAction(self.refresh_action)

    # -- public --------------------------------------------------------------------------------------------
    def notify_changed(self, ids: Iterable[int]) -> None:
        """Messages changed (from the worker, in this process): shown together on the next short tick."""
        self._pending.update(ids)
        if not self._update_timer.isActive():
            self._update_timer.start()

    def refresh(self) -> None:
        """Count and read everything shown again; the selection stays on the same messages."""
        self._pending.clear()
        self._external = False
        self.rows.refresh()
        self.details.refresh()

    def _selected_ranges(self) -> list[QItemSelectionRange]:
        selection = self.table.selectionModel().selection()
        return [selection.at(i) for i in range(selection.count())]

    def selected_count(self) -> int:
        """How many rows are selected, from the selection's ranges (a million selected rows is one range)."""
        return sum(r.height() for r in self._selected_ranges())

    def selected_ids(self) -> list[int]:
        rows = sorted({row for r in self._selected_ranges() for row in range(r.top(), r.bottom() + 1)})
        return [mid for mid in (self.rows.message_id(r) for r in rows) if mid is not None]

    def current_id(self) -> int | None:
        index = self.table.currentIndex()
        return None if not index.isValid() else self.rows.message_id(index.row())

    def select_ids(self, ids: Iterable[int], current: int | None = None) -> None:
        """Select these messages (those still in the list); make ``current`` the current row."""
        selection = QItemSelection()
        last = self.model.columnCount() - 1
        ids = list(ids)[:RESTORE_LIMIT]
        # Cached rows cost nothing; each other one costs a count, so stop when the budget is spent.
        ids.sort(key=lambda i: self.rows.cached_row_of(i) is None)
        deadline = time.perf_counter() + RESTORE_BUDGET_S
        for n, mid in enumerate(ids):
            if self.rows.cached_row_of(mid) is None and time.perf_counter() > deadline:
                log.info("queue view: %d selected messages not re-selected after the reload (too slow)", len(ids) - n)
                break
            row = self.rows.row_of(mid)
            if row is not None:
                selection.select(self.model.index(row, 0), self.model.index(row, last))
        sm = self.table.selectionModel()
        flags = QItemSelectionModel.SelectionFlag
        if current is not None and (row := self.rows.row_of(current)) is not None:
            sm.setCurrentIndex(self.model.index(row, 0), flags.NoUpdate)
        sm.select(selection, flags.ClearAndSelect | flags.Rows)

    # -- updates -------------------------------------------------------------------------------------------
    def _external_change(self) -> None:
        self._external = True
        if not self._update_timer.isActive():
            self._update_timer.start()

    def _apply_updates(self) -> None:
        ids, self._pending = self._pending, set()
        external, self._external = self._external, False
        self._viewport_moved()
        try:
            self.rows.apply_changes(ids, external=external)
        except Error as exc:
            self._show_error(f"The queue could not be read: {exc}")
            return
        self.update_ticks += 1
        if self.details.message_id is not None and (external or self.details.message_id in ids):
            self.details.refresh()
        self._selection_changed()

    def _viewport_moved(self, *_args: object) -> None:
        first = self.table.rowAt(0)
        last = self.table.rowAt(self.table.viewport().height() - 1)
        if first < 0:
            self.rows.set_visible_rows(-1, -1)
            return
        if last < 0:
            last = self.model.rowCount() - 1
        self.rows.set_visible_rows(first, last)
        if self.model.defer_fetches:
            self._drag_settle.start()  # read the rows once the drag rests here a moment

    def _drag_started(self) -> None:
        self.model.defer_fetches = True

    def _drag_ended(self) -> None:
        self._drag_settle.stop()
        self.model.defer_fetches = False
        self._viewport_moved()
        self.rows.fetch_visible()

    def _fetch_where_the_drag_rests(self) -> None:
        if self.model.defer_fetches:
            self._viewport_moved()
            self.rows.fetch_visible()

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self._viewport_moved()

    def _rows_inserted(self, _parent: QModelIndex, first: int, last: int) -> None:
        # New messages arrive at the top. Someone reading further down keeps seeing the same messages (and
        # the model keeps them cached); someone at the top sees the new ones come in.
        bar = self.table.verticalScrollBar()
        if first == 0 and bar.value() > 0:
            bar.setValue(bar.value() + last - first + 1)

    def _save_selection(self) -> None:
        ids = self.selected_ids() if self.selected_count() <= RESTORE_LIMIT else []
        self._saved_selection = (ids, self.current_id())

    def _restore_selection(self) -> None:
        ids, current = self._saved_selection
        self._saved_selection = ([], None)
        if ids or current is not None:
            self.select_ids(ids, current)
        self._viewport_moved()

    def _count_changed(self, count: int) -> None:
        if not self.rows.searching:
            self.count_label.setText(f"{count:,} message{'s' if count != 1 else ''}")
        self.countChanged.emit(count)

    def _searching_changed(self, searching: bool) -> None:
        if searching:
            self.count_label.setText("Searching…")
        else:
            self._count_changed(self.model.rowCount())

    def shutdown(self) -> None:
        """For good (the app is ending, or a test is done): nothing may fire on a queue closed after this."""
        self.watcher.stop()
        self._update_timer.stop()
        self._search_timer.stop()
        self._drag_settle.stop()
        self.model.shutdown()

    def closeEvent(self, event: Any) -> None:
        self.shutdown()
        super().closeEvent(event)

    # -- filter and search ---------------------------------------------------------------------------------
    def _filter_changed(self) -> None:
        self._apply_filter()

    def _search_edited(self) -> None:
        self._search_timer.start()

    def _search_now(self) -> None:
        self._search_timer.stop()
        self._apply_filter()

    def _apply_filter(self) -> None:
        try:
            self.rows.set_filter(self.filter_combo.currentData(), self.search_box.text())
        except Error as exc:
            self._show_error(f"The queue could not be read: {exc}")

    def _focus_search(self) -> None:
        self.search_box.setFocus()
        self.search_box.selectAll()

    # -- selection -----------------------------------------------------------------------------------------
    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self.details.show_message(current.data(ID_ROLE) if current.isValid() else None)

    def _selection_changed(self, *_args: object) -> None:
        count = self.selected_count()
        if count > RESTORE_LIMIT:
            states = set(status_style.MESSAGE_STATES)  # too many to look at: let the queue refuse what it must
        else:
            rows = self.table.selectionModel().selectedRows()
            states = {s.status for s in (self.rows.summary(i.row()) for i in rows) if s is not None}
        self.retry_action.setEnabled(bool(states - {"sending", "sent"}))
        self.cancel_action.setEnabled(bool(states & {"queued", "deferred"}))
        self.delete_action.setEnabled(bool(states - {"sending"}))
        self.edit_action.setEnabled(self.current_id() is not None and count > 0)

    def _context_menu(self, pos: Any) -> None:
        menu = QMenu(self)
        for a in (self.retry_action, self.cancel_action, self.delete_action, self.edit_action):
            menu.addAction(a)
        menu.popup(self.table.viewport().mapToGlobal(pos))

    # -- notices -------------------------------------------------------------------------------------------
    def show_notice(self, text: str, error: bool = False) -> None:
        self.notice.setObjectName("errorBar" if error else "noticeBar")
        self.notice.style().unpolish(self.notice)  # the style sheet picks the bar's colour by object name
        self.notice.style().polish(self.notice)
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    def _show_error(self, text: str) -> None:
        self.show_notice(text, error=True)
