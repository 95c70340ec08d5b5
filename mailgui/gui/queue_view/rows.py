"""The queue list as a view sees it, in plain Python: the filtered count, a cache of rows read a page at a time,
a search's matches, and the changes that keep them true. No Qt: :class:`QueueTableModel` adapts it, as napari's
Qt models adapt its pure evented lists, and the tests drive it without a QApplication.

The queue may hold a million messages, so the list never loads them all: it keeps the filtered count, and a
small cache of rows around what the view shows. A missing row is read with its page, by keyset from a cached
neighbour when there is one (cheap at any depth), else by offset from the nearer end of the list. Updates come
as message ids (:meth:`QueueRows.apply_changes`): one read of those rows, announced as one changed range.
"""

from __future__ import annotations

import logging
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from typing import Protocol

from mailgui.queue import MessageSummary, Queue

log = logging.getLogger(__name__)


class Searcher(Protocol):
    """Finds matches away from the caller's thread; each result comes back as
    ``QueueRows.search_finished(token, result)`` (a list of ids newest first, a count, or the Error)."""

    def start(self, statuses: Sequence[str] | None, search: str, *, count_before: int | None = None) -> int: ...
    def wait(self, timeout: float = 10.0) -> bool: ...


class RowEvents(Protocol):
    """What :class:`QueueRows` announces, in the order a Qt model must hear it."""

    def rows_resetting(self) -> None: ...
    def rows_reset(self) -> None: ...
    def rows_inserting(self, count: int) -> None: ...  # ``count`` rows go in at the top
    def rows_inserted(self) -> None: ...
    def rows_changed(self, first: int, last: int) -> None: ...
    def count_changed(self, count: int) -> None: ...
    def searching_changed(self, searching: bool) -> None: ...
    def search_failed(self, text: str) -> None: ...
    def reload_soon(self) -> None: ...  # call reload_if_pending() on a later turn (never while a view paints)


class QueueRows:
    """Newest first; filtered by state and searched by address or subject in SQL, never in Python."""

    PAGE = 100
    MAX_CACHED = 3000  # rows kept; older pages are dropped as the view moves on
    NEW_ROWS_LIMIT = PAGE  # more new messages than this in one tick are counted, not read (until shown)
    BACKGROUND_RECOUNT = 20_000  # longer state-filtered lists are recounted by the searcher on live changes

    def __init__(self, queue: Queue, searcher: Searcher, events: RowEvents):
        self.queue = queue
        self.searcher = searcher
        self.events = events
        self.statuses: tuple[str, ...] | None = None
        self.search = ""
        self.count = 0
        self.high_water = 0  # newest id in the queue when rows were last counted
        self.rows: dict[int, MessageSummary] = {}
        self._row_of: dict[int, int] = {}
        self._visible: tuple[int, int] | None = None
        self.reload_pending = False
        # A search's matches, newest first, found once by the searcher; None without a search.
        self._ids: list[int] | None = None
        self._search_token = 0
        self._search_high_water = 0
        self.recount_token = 0  # a recount under a state filter is running
        self._recount_again = False
        self._recount_high_water = 0
        self.searching = False
        self.fetches = 0  # page reads, for tests and benches
        self._recount()

    # -- filter and reload -------------------------------------------------------------------------------
    def set_filter(self, statuses: Sequence[str] | None = None, search: str = "") -> None:
        statuses_t = tuple(statuses) if statuses else None
        search = search.strip()
        if statuses_t == self.statuses and search == self.search:
            return
        self.statuses, self.search = statuses_t, search
        if search:
            # Show nothing of the old list under the new search while its matches are being found.
            self.events.rows_resetting()
            self._clear()
            self._ids, self.count = [], 0
            self.events.rows_reset()
            self.events.count_changed(0)
        self.refresh()

    def refresh(self) -> None:
        """Count again and drop every cached row. Views keep their selection by id across it (see QueueView).
        With a search, the matches are found again in the background and the list is replaced when they are."""
        self.reload_pending = False
        self.recount_token, self._recount_again = 0, False  # a count under way is now stale
        if self.search:
            self._search_high_water = self._newest_id()
            self._search_token = self.searcher.start(self.statuses, self.search)
            self._set_searching(True)
            return
        self._set_searching(False)
        self._ids = None
        self.events.rows_resetting()
        self._clear()
        self._recount()
        self.events.rows_reset()
        self.events.count_changed(self.count)

    def _clear(self) -> None:
        self.rows.clear()
        self._row_of.clear()

    def _set_searching(self, searching: bool) -> None:
        if searching != self.searching:
            self.searching = searching
            self.events.searching_changed(searching)

    def search_finished(self, token: int, result: object) -> None:
        """The searcher's answer to :meth:`Searcher.start` ``token``; a stale one is dropped."""
        if token and token == self.recount_token:
            self._recount_finished(result)
            return
        if token != self._search_token or not self.search:
            return  # superseded by another search, or the search box was cleared
        self._set_searching(False)
        if not isinstance(result, list):
            self.events.search_failed(str(result))
            return
        hw = self._search_high_water
        self.events.rows_resetting()
        self._clear()
        # Matches newer than the mark are left to the next update, which inserts them at the top.
        self._ids = [i for i in result if i <= hw]
        self.count = len(self._ids)
        self.high_water = hw
        self.events.rows_reset()
        self.events.count_changed(self.count)

    def _recount_finished(self, result: object) -> None:
        self.recount_token = 0
        if not isinstance(result, int):
            # Said once per failure (the searcher logged why); the next change tries again.
            log.warning("recounting the queue list failed: %s", result)
            return
        self.events.rows_resetting()
        self._clear()
        self.count = result
        self.high_water = self._recount_high_water
        self.events.rows_reset()
        self.events.count_changed(self.count)
        if self._recount_again:
            self._recount_again = False
            self._schedule_reload()

    def shutdown(self) -> None:
        """Stop a search in progress and wait for the searcher (the view does this when it closes)."""
        self._search_token += 1
        self.searcher.wait()

    def _recount(self) -> None:
        self.high_water = self._newest_id()
        self.count = self.queue.count_messages(self.statuses, self.search or None)

    def _schedule_reload(self) -> None:
        # Never reset from inside a read for a paint: views do not expect it mid-paint.
        if not self.reload_pending:
            self.reload_pending = True
            self.events.reload_soon()

    def reload_if_pending(self) -> None:
        if not self.reload_pending:
            return
        if self.statuses is not None and not self.search and self.count > self.BACKGROUND_RECOUNT:
            # Live changes under a state filter: count in the background, reset when the count is in. One
            # recount at a time; changes meanwhile make one more.
            self.reload_pending = False
            if self.recount_token:
                self._recount_again = True
                return
            self._recount_high_water = self._newest_id()
            self.recount_token = self.searcher.start(self.statuses, "", count_before=self._recount_high_water + 1)
            return
        self.refresh()

    # -- what the view shows -----------------------------------------------------------------------------
    def set_visible_rows(self, first: int, last: int) -> None:
        """The rows on screen; updates read only these fresh, and the cache keeps them."""
        self._visible = (first, last) if first >= 0 and last >= first else None

    def visible_rows(self) -> range:
        if self._visible is None:
            return range(0, 0)
        first, last = self._visible
        return range(max(first, 0), min(last, self.count - 1) + 1)

    def fetch_visible(self) -> None:
        """Read the rows on screen now (after a scroll-bar drag) and announce them."""
        missing = [r for r in self.visible_rows() if r not in self.rows]
        for row in missing:
            if row not in self.rows:
                self.summary(row)
        if missing:
            self.events.rows_changed(missing[0], missing[-1])

    # -- rows and ids --------------------------------------------------------------------------------------
    def summary(self, row: int) -> MessageSummary | None:
        """The message on ``row``, reading its page if it is not cached; None if the queue changed under us."""
        s = self.rows.get(row)
        if s is None and 0 <= row < self.count:
            self._fetch_page(row)
            s = self.rows.get(row)
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
        search = self.search or None
        if message_id * 2 >= self.high_water:
            row = self.queue.count_messages(self.statuses, search, after_id=message_id)
        else:
            row = self.count - 1 - self.queue.count_messages(self.statuses, search, before_id=message_id)
        if row < self.count and self.message_id(row) == message_id:
            return row
        return None

    def _fetch_page(self, row: int) -> None:
        start = row - row % self.PAGE
        end = min(start + self.PAGE, self.count)
        if self._ids is not None:
            self._fetch_by_id(start, end, row)
            return
        statuses, search, n = self.statuses, self.search or None, end - start
        above, below = self.rows.get(start - 1), self.rows.get(end)
        if above is not None:
            page = self.queue.list_messages(statuses, search, limit=n, before_id=above.id)
        elif below is not None:
            page = self.queue.list_messages(statuses, search, limit=n, after_id=below.id, newest_first=False)[::-1]
        elif start <= self.count - end:
            page = self.queue.list_messages(statuses, search, limit=n, offset=start)
        else:
            page = self.queue.list_messages(statuses, search, limit=n, offset=self.count - end, newest_first=False)
            page.reverse()
        self.fetches += 1
        if len(page) != n:
            log.info("queue changed while reading rows %d-%d (%d of %d came back); reloading", start, end, len(page), n)
            self._schedule_reload()
        if len(self.rows) + n > self.MAX_CACHED:
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
        if len(self.rows) + len(want) > self.MAX_CACHED:
            self._evict(keep_near=row)
        for offset, mid in enumerate(want):
            if mid in got:
                self._put(start + offset, got[mid])

    def _put(self, row: int, s: MessageSummary) -> None:
        old = self.rows.get(row)
        if old is not None and self._row_of.get(old.id) == row:
            del self._row_of[old.id]
        self.rows[row] = s
        self._row_of[s.id] = row

    def _evict(self, keep_near: int) -> None:
        half = self.MAX_CACHED // 2
        shown = self.visible_rows()
        for row in [r for r in self.rows if abs(r - keep_near) > half and r not in shown]:
            self._row_of.pop(self.rows.pop(row).id, None)

    # -- live updates --------------------------------------------------------------------------------------
    def apply_changes(self, ids: Iterable[int], *, external: bool = False) -> None:
        """Bring the list up to date with messages that changed: new ones go in at the top; rows on screen
        are read again in one query and announced as one changed range; cached rows off screen are dropped
        (they are read again when scrolled to).

        ``external``: another process changed the queue too (ids unknown), so every row on screen is read again;
        a row that vanished (deleted elsewhere) makes the list count again. Under a state filter a change to a
        row not on screen may move it in or out of the list, so the list counts again then as well.
        """
        ids = set(ids)
        if not ids and not external:
            return
        if external or max(ids) > self.high_water:
            self._insert_new()
        known = {i for i in ids if i in self._row_of}
        if external:
            known.update(self.rows[r].id for r in self.visible_rows() if r in self.rows)
        if self.statuses is not None:
            # A changed message not on screen is not read again, so whether it left (or joined) the filtered
            # list is unknown: count again. (Rows on screen are read; one that left makes _update_rows reload.)
            shown = self.visible_rows() if self._visible is not None else None
            if any(i <= self.high_water and (shown is None or self._row_of.get(i, -1) not in shown) for i in ids):
                self._schedule_reload()
        self._update_rows(sorted(known))

    def _insert_new(self) -> None:
        """Insert the messages newer than the high-water mark at the top. A few are read at once; a flood
        (a bulk import) is only counted, and its rows are read when shown. Rows already read keep their ids,
        so views keep their selection without a reload."""
        statuses, search = self.statuses, self.search or None
        if self.searching:
            return  # the search's own result comes first; newer matches are inserted after it
        top = self._newest_id()
        if top <= self.high_water:
            return
        if self._ids is not None:
            new_ids = self.queue.message_ids(statuses, search, after_id=self.high_water, before_id=top + 1)
            self.high_water = top
            if new_ids:
                self._insert_at_top(len(new_ids), [], new_ids)
            return
        new = self.queue.list_messages(
            statuses, search, after_id=self.high_water, newest_first=False, limit=self.NEW_ROWS_LIMIT
        )
        if len(new) < self.NEW_ROWS_LIMIT:
            k = len(new)
            top = max([top, *(s.id for s in new)])
        else:  # bounded by ``top``: what arrives meanwhile is found on the next tick
            k = self.queue.count_messages(statuses, search, after_id=self.high_water, before_id=top + 1)
            new = []
        self.high_water = top
        if k:
            self._insert_at_top(k, new, None)

    def _insert_at_top(self, k: int, new: list[MessageSummary], new_ids: list[int] | None) -> None:
        """Insert ``k`` rows at the top; ``new`` (oldest first) are those already read."""
        self.events.rows_inserting(k)
        if new_ids is not None and self._ids is not None:
            self._ids[0:0] = new_ids
        shifted = {row + k: s for row, s in self.rows.items()}
        self.rows = {}
        self._row_of = {}
        for row, s in enumerate(reversed(new)):
            self._put(row, s)
        for row, s in shifted.items():
            self._put(row, s)
        self.count += k
        if self._visible is not None:
            self._visible = (self._visible[0] + k, self._visible[1] + k)
        self.events.rows_inserted()
        self.events.count_changed(self.count)

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
                del self.rows[row]
            else:
                self.rows[row] = s
                if self.statuses is not None and s.status not in self.statuses:
                    gone = True  # it left the filtered list
        if gone:
            self._schedule_reload()
        self.events.rows_changed(min(touched), max(touched))
