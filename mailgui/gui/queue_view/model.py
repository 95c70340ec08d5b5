"""The queue table's Qt model: a thin adapter over :class:`~mailgui.gui.queue_view.rows.QueueRows`.

The rows, their paging, the search's matches and the live updates are plain Python in ``rows.py``; this model
answers Qt's questions from them (formatting each row's texts once), turns what they announce into Qt's begin/end
calls and signals, hands them the background search's answers, and repaints the "in 4 min" columns as time passes.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal

from mailgui.clock import Clock, SystemClock
from mailgui.gui.queue_view.cells import COL_CREATED, COL_NEXT, COLUMNS, ID_ROLE, SUMMARY_ROLE, cell_data, cell_text
from mailgui.gui.queue_view.rows import QueueRows
from mailgui.gui.queue_view.search import BackgroundSearch
from mailgui.queue import MessageSummary, Queue

_Index = QModelIndex | QPersistentModelIndex

_ROLES = frozenset(
    int(r)
    for r in (
        Qt.ItemDataRole.DisplayRole,
        Qt.ItemDataRole.DecorationRole,
        Qt.ItemDataRole.ToolTipRole,
        Qt.ItemDataRole.FontRole,
        Qt.ItemDataRole.TextAlignmentRole,
        Qt.ItemDataRole.ForegroundRole,
        ID_ROLE,
        SUMMARY_ROLE,
    )
)


class QueueTableModel(QAbstractTableModel):
    """The queue, newest first, for a QTableView; :attr:`rows` is the list itself (filter, paging, updates)."""

    countChanged = Signal(int)
    searchingChanged = Signal(bool)  # a search is running in the background (True) or has finished (False)
    searchFailed = Signal(str)

    def __init__(self, queue: Queue, clock: Clock | None = None, parent: Any = None):
        super().__init__(parent)
        self.queue = queue
        self.clock: Clock = clock or SystemClock()
        self._texts: dict[int, tuple[Any, ...]] = {}  # id -> (summary, cell texts): formatted once per paint-burst
        self.searcher = BackgroundSearch(queue.path, self)
        self.rows = QueueRows(queue, self.searcher, self)
        self.searcher.finished.connect(self.rows.search_finished)
        # While the user drags the scroll bar across a million rows, paint placeholders instead of reading
        # every page flown over; the view reads the rows it stops on (see QueueView).
        self.defer_fetches = False
        # "in 4 min" drifts as time passes: repaint the time columns now and then (the view repaints what it shows).
        self._clock_timer = QTimer(self)
        self._clock_timer.setInterval(30_000)
        self._clock_timer.timeout.connect(self.update_times)
        self._clock_timer.start()

    def shutdown(self) -> None:
        """Stop a search in progress and join its thread (the view does this when it closes)."""
        self._clock_timer.stop()
        self.rows.shutdown()

    # -- what QueueRows announces (RowEvents) ------------------------------------------------------------
    def rows_resetting(self) -> None:
        self.beginResetModel()

    def rows_reset(self) -> None:
        self._texts.clear()
        self.endResetModel()

    def rows_inserting(self, count: int) -> None:
        self.beginInsertRows(QModelIndex(), 0, count - 1)

    def rows_inserted(self) -> None:
        self.endInsertRows()

    def rows_changed(self, first: int, last: int) -> None:
        self.dataChanged.emit(self.index(first, 0), self.index(last, len(COLUMNS) - 1))

    def count_changed(self, count: int) -> None:
        self.countChanged.emit(count)

    def searching_changed(self, searching: bool) -> None:
        self.searchingChanged.emit(searching)

    def search_failed(self, text: str) -> None:
        self.searchFailed.emit(text)

    def reload_soon(self) -> None:
        QTimer.singleShot(0, self, self.rows.reload_if_pending)

    # -- Qt model API --------------------------------------------------------------------------------------
    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else self.rows.count

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(COLUMNS):
            if role == Qt.ItemDataRole.DisplayRole:
                return COLUMNS[section]
            if role == Qt.ItemDataRole.TextAlignmentRole:
                return int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        # Called a few thousand times per paint: leave early for roles this model does not answer.
        rows = self.rows
        if role not in _ROLES or not index.isValid() or not (0 <= index.row() < rows.count):
            return None
        s = rows.rows.get(index.row())
        if s is None and not self.defer_fetches:
            s = rows.summary(index.row())
        if s is None:
            return "…" if role == Qt.ItemDataRole.DisplayRole else None
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display_texts(s)[col + 1]
        if role == ID_ROLE:
            return s.id
        if role == SUMMARY_ROLE:
            return s
        return cell_data(s, col, role)

    def _display_texts(self, s: MessageSummary) -> tuple[Any, ...]:
        texts = self._texts.get(s.id)
        if texts is None or texts[0] is not s:  # a fresh read of the row is a new summary: format it again
            if len(self._texts) > 2 * self.rows.MAX_CACHED:
                self._texts.clear()  # rows evicted from the list's cache leave their texts behind
            now = self.clock.now()
            texts = self._texts[s.id] = (s, *(cell_text(s, c, now) for c in range(len(COLUMNS))))
        return texts

    def update_times(self) -> None:
        self._texts.clear()  # "in 4 min" is now "in 3 min"
        rows = self.rows.visible_rows() or range(0, min(self.rows.count, self.rows.PAGE))
        if rows:
            self.dataChanged.emit(
                self.index(rows.start, COL_CREATED), self.index(rows.stop - 1, COL_NEXT), [Qt.ItemDataRole.DisplayRole]
            )
