"""A table model over the queue that reads only the rows a view asks for, a page at a time.

The queue may hold a million messages, so the model never loads them all: it keeps the filtered count, and a
small cache of rows around what the view shows. A missing row is fetched with its page, by keyset from a cached
neighbour when there is one (cheap at any depth), else by offset from the nearer end of the list. Updates come
as message ids (:meth:`QueueTableModel.apply_changes`): one read of those rows and one ``dataChanged``.
"""

from __future__ import annotations

import logging
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal

from mailgui.clock import Clock, SystemClock
from mailgui.gui.queue_view.cells import (  # COL_REPLY and COL_STATE: for those who import them from here
    COL_CREATED,
    COL_NEXT,
    COL_REPLY,
    COL_STATE,
    COLUMNS,
    ID_ROLE,
    SUMMARY_ROLE,
    cell_data,
    cell_text,
)
from mailgui.gui.queue_view.search import BackgroundSearch
from mailgui.queue import MessageSummary, Queue

log = logging.getLogger(__name__)

__all__ = ["COLUMNS", "COL_CREATED", "COL_NEXT", "COL_REPLY", "COL_STATE", "ID_ROLE", "SUMMARY_ROLE", "QueueTableModel"]

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
    """Newest first; filtered by state and searched by address or subject in SQL, never in Python."""

    PAGE = 100
    MAX_CACHED = 3000  # rows kept; older pages are dropped as the view moves on
    NEW_ROWS_LIMIT = PAGE  # more new messages than this in one tick are counted, not read (until shown)
    BACKGROUND_RECOUNT = 20_000  # longer state-filtered lists are recounted in a thread on live changes

    countChanged = Signal(int)
    searchingChanged = Signal(bool)  # a search is running in the background (True) or has finished (False)
    searchFailed = Signal(str)

    def __init__(self, queue: Queue, clock: Clock | None = None, parent: Any = None):
        super().__init__(parent)
        self.queue = queue
        self.clock: Clock = clock or SystemClock()
        self._statuses: tuple[str, ...] | None = None
        self._search = ""
        self._count = 0
        self._high_water = 0  # newest id in the queue when rows were last counted
        self._rows: dict[int, MessageSummary] = {}
        self._texts: dict[int, tuple[Any, ...]] = {}  # id -> (summary, cell texts): formatted once per paint-burst
        self._row_of: dict[int, int] = {}
        self._visible: tuple[int, int] | None = None
        self._reload_pending = False
        # A search's matches, newest first, found once in a thread (BackgroundSearch); None without a search.
        self._ids: list[int] | None = None
        self._search_token = 0
        self._search_high_water = 0
        self._recount_token = 0  # a background recount under a state filter is running
        self._recount_again = False
        self._recount_high_water = 0
        self.searching = False
        self._searcher = BackgroundSearch(queue.path, self)
        self._searcher.finished.connect(self._search_finished)
        self.fetches = 0  # page reads, for tests and benches
        # While the user drags the scroll bar across a million rows, paint placeholders instead of reading
        # every page flown over; the view reads the rows it stops on (see QueueView).
        self.defer_fetches = False
        # "in 4 min" drifts as time passes: repaint the time columns now and then (the view repaints what it shows).
        self._clock_timer = QTimer(self)
        self._clock_timer.setInterval(30_000)
        self._clock_timer.timeout.connect(self.update_times)
        self._clock_timer.start()
        self._recount()

    # -- filter and reload -------------------------------------------------------------------------------
    @property
    def statuses(self) -> tuple[str, ...] | None:
        return self._statuses

    @property
    def search(self) -> str:
        return self._search

    def set_filter(self, statuses: Sequence[str] | None = None, search: str = "") -> None:
        statuses_t = tuple(statuses) if statuses else None
        search = search.strip()
        if statuses_t == self._statuses and search == self._search:
            return
        self._statuses, self._search = statuses_t, search
        if search:
            # Show nothing of the old list under the new search while its matches are being found.
            self.beginResetModel()
            self._clear()
            self._ids, self._count = [], 0
            self.endResetModel()
            self.countChanged.emit(0)
        self.refresh()

    def refresh(self) -> None:
        """Count again and drop every cached row. Views keep their selection by id across it (see QueueView).
        With a search, the matches are found again in the background and the list is replaced when they are."""
        self._reload_pending = False
        self._recount_token, self._recount_again = 0, False  # a count under way is now stale
        if self._search:
            self._search_high_water = self._newest_id()
            self._search_token = self._searcher.start(self._statuses, self._search)
            self._set_searching(True)
            return
        self._set_searching(False)
        self._ids = None
        self.beginResetModel()
        self._rows.clear()
        self._row_of.clear()
        self._texts.clear()
        self._recount()
        self.endResetModel()
        self.countChanged.emit(self._count)

    def _clear(self) -> None:
        self._rows.clear()
        self._row_of.clear()
        self._texts.clear()

    def _set_searching(self, searching: bool) -> None:
        if searching != self.searching:
            self.searching = searching
            self.searchingChanged.emit(searching)

    def _search_finished(self, token: int, result: object) -> None:
        if token and token == self._recount_token:
            self._recount_finished(result)
            return
        if token != self._search_token or not self._search:
            return  # superseded by another search, or the search box was cleared
        self._set_searching(False)
        if not isinstance(result, list):
            self.searchFailed.emit(str(result))
            return
        hw = self._search_high_water
        self.beginResetModel()
        self._clear()
        # Matches newer than the mark are left to the next update, which inserts them at the top.
        self._ids = [i for i in result if i <= hw]
        self._count = len(self._ids)
        self._high_water = hw
        self.endResetModel()
        self.countChanged.emit(self._count)

    def _recount_finished(self, result: object) -> None:
        self._recount_token = 0
        if not isinstance(result, int):
            # Said once per failure (the thread logged why); the next change tries again.
            log.warning("recounting the queue list failed: %s", result)
            return
        self.beginResetModel()
        self._clear()
        self._count = result
        self._high_water = self._recount_high_water
        self.endResetModel()
        self.countChanged.emit(self._count)
        if self._recount_again:
            self._recount_again = False
            self._schedule_reload()

    def shutdown(self) -> None:
        """Stop a search in progress and join its thread (the view does this when it closes)."""
        self._search_token += 1
        self._clock_timer.stop()
        self._searcher.wait()

    def _recount(self) -> None:
        self._high_water = self._newest_id()
        self._count = self.queue.count_messages(self._statuses, self._search or None)

    def _schedule_reload(self) -> None:
        # Never reset the model from inside data(): views do not expect it mid-paint.
        if not self._reload_pending:
            self._reload_pending = True
            QTimer.singleShot(0, self._reload_if_pending)

    def _reload_if_pending(self) -> None:
        if not self._reload_pending:
            return
        if self._statuses is not None and not self._search and self._count > self.BACKGROUND_RECOUNT:
            # Live changes under a state filter: count in the background, reset when the count is in. One
            # recount at a time; changes meanwhile make one more.
            self._reload_pending = False
            if self._recount_token:
                self._recount_again = True
                return
            self._recount_high_water = self._newest_id()
            self._recount_token = self._searcher.start(self._statuses, "", count_before=self._recount_high_water + 1)
            return
        self.refresh()

    # -- what the view shows -----------------------------------------------------------------------------
    def set_visible_rows(self, first: int, last: int) -> None:
        """The rows on screen; updates read only these fresh, and the cache keeps them."""
        self._visible = (first, last) if first >= 0 and last >= first else None

    def fetch_visible(self) -> None:
        """Read the rows on screen now (after a scroll-bar drag) and repaint them."""
        rows = self.visible_rows()
        missing = [r for r in rows if r not in self._rows]
        for row in missing:
            if row not in self._rows:
                self.summary(row)
        if missing:
            self.dataChanged.emit(self.index(missing[0], 0), self.index(missing[-1], len(COLUMNS) - 1))

    def visible_rows(self) -> range:
        if self._visible is None:
            return range(0, 0)
        first, last = self._visible
        return range(max(first, 0), min(last, self._count - 1) + 1)

    # -- Qt model API --------------------------------------------------------------------------------------
    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else self._count

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
        if role not in _ROLES or not index.isValid() or not (0 <= index.row() < self._count):
            return None
        s = self._rows.get(index.row())
        if s is None and not self.defer_fetches:
            s = self.summary(index.row())
        if s is None:
            return "…" if role == Qt.ItemDataRole.DisplayRole else None
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            texts = self._texts.get(s.id)
            if texts is None or texts[0] is not s:
                texts = self._texts[s.id] = (s, *(self._display(s, c) for c in range(len(COLUMNS))))
            return texts[col + 1]
        if role == ID_ROLE:
            return s.id
        if role == SUMMARY_ROLE:
            return s
        return cell_data(s, col, role)

    def _display(self, s: MessageSummary, col: int) -> str:
        return cell_text(s, col, self.clock.now())

    # -- rows and ids --------------------------------------------------------------------------------------
    def summary(self, row: int) -> MessageSummary | None:
        """The message on ``row``, reading its page if it is not cached; None if the queue changed under us."""
        s = self._rows.get(row)
        if s is None and 0 <= row < self._count:
            self._fetch_page(row)
            s = self._rows.get(row)
        return s

    def message_id(self, row: int) -> int | None:
        s = self.summary(row)
        return None if s is None else s.id

    def cached_row_of(self, message_id: int) -> int | None:
        return self._row_of.get(message_id)

    def row_of(self, message_id: int) -> int | None:
        """The row of a message under the current filter, or None if it is not in the list (any more)."""
        row = self._row_of.get(message_id)
        if row is not None:
            return row
        if self._ids is not None:
            at = bisect_left(self._ids, -message_id, key=lambda i: -i)  # newest first: descending ids
            return at if at < len(self._ids) and self._ids[at] == message_id else None
        # Count the shorter side of the list: an id range is cheap when it is short.
        if message_id * 2 >= self._high_water:
            row = self.queue.count_messages(self._statuses, self._search or None, after_id=message_id)
        else:
            row = (
                self._count - 1 - self.queue.count_messages(self._statuses, self._search or None, before_id=message_id)
            )
        if row < self._count and self.message_id(row) == message_id:
            return row
        return None

    def _fetch_page(self, row: int) -> None:
        start = row - row % self.PAGE
        end = min(start + self.PAGE, self._count)
        if self._ids is not None:
            self._fetch_by_id(start, end, row)
            return
        statuses, search, n = self._statuses, self._search or None, end - start
        above, below = self._rows.get(start - 1), self._rows.get(end)
        if above is not None:
            page = self.queue.list_messages(statuses, search, limit=n, before_id=above.id)
        elif below is not None:
            page = self.queue.list_messages(statuses, search, limit=n, after_id=below.id, newest_first=False)[::-1]
        elif start <= self._count - end:
            page = self.queue.list_messages(statuses, search, limit=n, offset=start)
        else:
            page = self.queue.list_messages(statuses, search, limit=n, offset=self._count - end, newest_first=False)
            page.reverse()
        self.fetches += 1
        if len(page) != n:
            log.info("queue changed while reading rows %d-%d (%d of %d came back); reloading", start, end, len(page), n)
            self._schedule_reload()
        if len(self._rows) + n > self.MAX_CACHED:
            self._evict(keep_near=row)
        for offset, s in enumerate(page):
            self._put(start + offset, s)

    def _fetch_by_id(self, start: int, end: int, row: int) -> None:
        want = self._ids[start:end] if self._ids is not None else []
        got = {s.id: s for s in self.queue.get_summaries(want)}
        self.fetches += 1
        if len(got) != len(want):
            log.info("%d searched messages vanished (deleted elsewhere); searching again", len(want) - len(got))
            self._schedule_reload()
        if len(self._rows) + len(want) > self.MAX_CACHED:
            self._evict(keep_near=row)
        for offset, mid in enumerate(want):
            if mid in got:
                self._put(start + offset, got[mid])

    def _put(self, row: int, s: MessageSummary) -> None:
        old = self._rows.get(row)
        if old is not None and self._row_of.get(old.id) == row:
            del self._row_of[old.id]
        self._rows[row] = s
        self._row_of[s.id] = row

    def _evict(self, keep_near: int) -> None:
        half = self.MAX_CACHED // 2
        shown = self.visible_rows()
        for row in [r for r in self._rows if abs(r - keep_near) > half and r not in shown]:
            mid = self._rows.pop(row).id
            self._row_of.pop(mid, None)
            self._texts.pop(mid, None)

    # -- live updates --------------------------------------------------------------------------------------
    def apply_changes(self, ids: Iterable[int], *, external: bool = False) -> None:
        """Bring the model up to date with messages that changed: new ones go in at the top; rows on screen
        are read again in one query and announced in one ``dataChanged``; cached rows off screen are dropped
        (they are read again when scrolled to).

        ``external``: another process changed the queue too (ids unknown), so every row on screen is read again;
        a row that vanished (deleted elsewhere) makes the model count again. Under a state filter a change to a
        row not on screen may move it in or out of the list, so the model counts again then as well.
        """
        ids = set(ids)
        if not ids and not external:
            return
        if external or max(ids) > self._high_water:
            self._insert_new()
        known = {i for i in ids if i in self._row_of}
        if external:
            known.update(self._rows[r].id for r in self.visible_rows() if r in self._rows)
        if self._statuses is not None:
            # A changed message not on screen is not read again, so whether it left (or joined) the filtered
            # list is unknown: count again. (Rows on screen are read; one that left makes _update_rows reload.)
            shown = self.visible_rows() if self._visible is not None else None
            if any(i <= self._high_water and (shown is None or self._row_of.get(i, -1) not in shown) for i in ids):
                self._schedule_reload()
        self._update_rows(sorted(known))

    def _insert_new(self) -> None:
        """Insert the messages newer than the high-water mark at the top. A few are read at once; a flood
        (a bulk import) is only counted, and its rows are read when shown. Rows already read keep their ids,
        so views keep their selection without a reload."""
        statuses, search = self._statuses, self._search or None
        if self.searching:
            return  # the search's own result comes first; newer matches are inserted after it
        top = self._newest_id()
        if top <= self._high_water:
            return
        if self._ids is not None:
            new_ids = self.queue.message_ids(statuses, search, after_id=self._high_water, before_id=top + 1)
            self._high_water = top
            if new_ids:
                self._insert_at_top(len(new_ids), [], new_ids)
            return
        new = self.queue.list_messages(
            statuses, search, after_id=self._high_water, newest_first=False, limit=self.NEW_ROWS_LIMIT
        )
        if len(new) < self.NEW_ROWS_LIMIT:
            k = len(new)
            top = max([top, *(s.id for s in new)])
        else:  # bounded by ``top``: what arrives meanwhile is found on the next tick
            k = self.queue.count_messages(statuses, search, after_id=self._high_water, before_id=top + 1)
            new = []
        self._high_water = top
        if k:
            self._insert_at_top(k, new, None)

    def _insert_at_top(self, k: int, new: list[MessageSummary], new_ids: list[int] | None) -> None:
        """Insert ``k`` rows at the top; ``new`` (oldest first) are those already read."""
        self.beginInsertRows(QModelIndex(), 0, k - 1)
        if new_ids is not None and self._ids is not None:
            self._ids[0:0] = new_ids
        shifted = {row + k: s for row, s in self._rows.items()}
        self._rows = {}
        self._row_of = {}
        for row, s in enumerate(reversed(new)):
            self._put(row, s)
        for row, s in shifted.items():
            self._put(row, s)
        self._count += k
        if self._visible is not None:
            self._visible = (self._visible[0] + k, self._visible[1] + k)
        self.endInsertRows()
        self.countChanged.emit(self._count)

    def _newest_id(self) -> int:
        newest = self.queue.list_messages(limit=1)
        return newest[0].id if newest else 0

    def _update_rows(self, ids: Sequence[int]) -> None:
        if not ids:
            return
        shown = self.visible_rows()
        on_screen = [i for i in ids if self._row_of[i] in shown] if self._visible is not None else list(ids)
        fresh = {s.id: s for s in self.queue.get_summaries(on_screen)} if on_screen else {}
        touched: list[int] = []
        gone = False
        for i in ids:
            row = self._row_of[i]
            touched.append(row)
            s = fresh.get(i)
            if s is None:
                # Off screen: drop it and read it again when it is shown. On screen but missing: deleted elsewhere.
                gone = gone or i in on_screen
                del self._row_of[i]
                del self._rows[row]
            else:
                self._rows[row] = s
                if self._statuses is not None and s.status not in self._statuses:
                    gone = True  # it left the filtered list
        if gone:
            self._schedule_reload()
        self.dataChanged.emit(self.index(min(touched), 0), self.index(max(touched), len(COLUMNS) - 1))

    def update_times(self) -> None:
        self._texts.clear()  # "in 4 min" is now "in 3 min"
        rows = self.visible_rows() or range(0, min(self._count, self.PAGE))
        if rows:
            self.dataChanged.emit(
                self.index(rows.start, COL_CREATED), self.index(rows.stop - 1, COL_NEXT), [Qt.ItemDataRole.DisplayRole]
            )
