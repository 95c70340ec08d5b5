"""QueueRows, the queue list in plain Python: paging, the row cache, searches, recounts and live updates,
driven without Qt (a searcher that answers when the test says, and a recorder of what the list announces)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from mailgui.clock import FakeClock
from mailgui.errors import Error
from mailgui.gui.queue_view.rows import QueueRows
from mailgui.message import MessageFields, build_message
from mailgui.queue import Queue
from mailgui.queue.bulk import enqueue_many
from tests.gui.queue_data import enqueue, fill_varied


@dataclass
class Request:
    token: int
    statuses: Sequence[str] | None
    search: str
    count_before: int | None


@dataclass
class HeldSearcher:
    """Takes searches and answers them only when :meth:`answer` is called, as a thread would later."""

    queue: Queue
    requests: list[Request] = field(default_factory=list)
    waited: int = 0
    _token: int = 0

    def start(self, statuses: Sequence[str] | None, search: str, *, count_before: int | None = None) -> int:
        self._token += 1
        self.requests.append(Request(self._token, statuses, search, count_before))
        return self._token

    def wait(self, timeout: float = 10.0) -> bool:
        self.waited += 1
        return True

    def answer(self, rows: QueueRows, result: object = None) -> None:
        """Answer the oldest open request with what the queue says now (or with ``result``)."""
        r = self.requests.pop(0)
        if result is None:
            if r.count_before is None:
                result = self.queue.message_ids(r.statuses, r.search)
            else:
                result = self.queue.count_messages(r.statuses, r.search or None, before_id=r.count_before)
        rows.search_finished(r.token, result)


class Announced:
    """Records what the list announces, as (event, args) pairs."""

    def __init__(self) -> None:
        self.events: list[tuple[str, tuple[object, ...]]] = []

    def names(self) -> list[str]:
        return [name for name, _ in self.events]

    def of(self, name: str) -> list[tuple[object, ...]]:
        return [args for n, args in self.events if n == name]

    def rows_resetting(self) -> None:
        self.events.append(("resetting", ()))

    def rows_reset(self) -> None:
        self.events.append(("reset", ()))

    def rows_inserting(self, count: int) -> None:
        self.events.append(("inserting", (count,)))

    def rows_inserted(self) -> None:
        self.events.append(("inserted", ()))

    def rows_changed(self, first: int, last: int) -> None:
        self.events.append(("changed", (first, last)))

    def count_changed(self, count: int) -> None:
        self.events.append(("count", (count,)))

    def searching_changed(self, searching: bool) -> None:
        self.events.append(("searching", (searching,)))

    def search_failed(self, text: str) -> None:
        self.events.append(("failed", (text,)))

    def reload_soon(self) -> None:
        self.events.append(("reload_soon", ()))


def make(queue: Queue) -> tuple[QueueRows, HeldSearcher, Announced]:
    searcher, announced = HeldSearcher(queue), Announced()
    return QueueRows(queue, searcher, announced), searcher, announced


def bulk(queue: Queue, clock: FakeClock, n: int) -> list[int]:
    queue.add_sender("@example.com")
    msgs = [
        build_message(
            MessageFields(sender="a@example.com", to=f"r{i}@example.org", subject=f"bulk {i}", body="x"),
            now=clock.now(),
        )
        for i in range(n)
    ]
    enqueue_many(queue, msgs)
    return sorted((s.id for s in queue.list_messages(limit=n + 10)), reverse=True)


def test_the_list_is_plain_python_importing_no_qt() -> None:
    code = "import sys, mailgui.gui.queue_view.rows; print(sorted(m for m in sys.modules if m.startswith('PySide6')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_pages_are_read_by_keyset_from_a_cached_neighbour_else_by_offset_from_the_nearer_end(queue, clock):
    expected = bulk(queue, clock, 1050)
    rows, _, _ = make(queue)
    assert rows.count == 1050 and rows.fetches == 0
    calls: list[dict[str, object]] = []
    real = queue.list_messages

    def spy(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        calls.append(kwargs)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    queue.list_messages = spy  # type: ignore[method-assign]
    assert rows.message_id(0) == expected[0]
    assert rows.message_id(1049) == expected[1049]
    assert rows.message_id(100) == expected[100]
    assert rows.message_id(999) == expected[999]
    assert rows.message_id(530) == expected[530]
    assert [("offset" in c, "before_id" in c, "after_id" in c) for c in calls] == [
        (True, False, False),  # the top: offset 0
        (True, False, False),  # the end: offset from the near end, oldest first
        (False, True, False),  # below the cached first page: keyset
        (False, False, True),  # above the cached last page: keyset
        (True, False, False),  # the middle, no neighbour cached: offset
    ]
    assert rows.fetches == 5
    for row in (0, 99, 100, 1049, 530, 531):
        rows.message_id(row)
    assert rows.fetches == 5  # cached


def test_the_cache_stays_bounded_and_keeps_the_rows_on_screen(queue, clock):
    expected = bulk(queue, clock, 1200)
    rows, _, _ = make(queue)
    rows.PAGE, rows.MAX_CACHED = 50, 200
    rows.set_visible_rows(0, 9)
    for row in range(0, 1200, 7):
        assert rows.message_id(row) == expected[row]
    assert len(rows.rows) <= 200 + 50
    assert all(r in rows.rows for r in range(10))  # on screen: never evicted


def test_new_messages_are_announced_as_an_insert_at_the_top_and_rows_keep_their_ids(queue, clock):
    bulk(queue, clock, 30)
    rows, _, announced = make(queue)
    before = [rows.message_id(r) for r in range(30)]
    new = [enqueue(queue, clock, 900 + i) for i in range(4)]
    rows.apply_changes(new[-1:])
    assert announced.names()[:3] == ["inserting", "inserted", "count"]  # then the named one, read again
    assert announced.of("inserting") == [(4,)] and announced.of("count") == [(34,)]
    assert rows.cached_row_of(before[0]) == 4  # cached rows moved down, not dropped
    assert [rows.message_id(r) for r in range(34)] == sorted(new, reverse=True) + before


def test_a_flood_of_new_messages_is_counted_not_read(queue, clock):
    bulk(queue, clock, 10)
    rows, _, announced = make(queue)
    rows.NEW_ROWS_LIMIT = 5
    new = [enqueue(queue, clock, 500 + i) for i in range(12)]
    fetches = rows.fetches
    rows.apply_changes([], external=True)
    assert announced.of("inserting") == [(12,)]
    assert rows.fetches == fetches and all(r not in rows.rows for r in range(12))  # read when shown
    assert rows.message_id(0) == max(new)


def test_changed_rows_on_screen_are_read_in_one_query_and_announced_as_one_range(queue, clock):
    bulk(queue, clock, 40)
    rows, _, announced = make(queue)
    rows.set_visible_rows(0, 29)
    ids = [rows.message_id(r) for r in range(0, 30, 3)]
    rows.message_id(35)  # cached, off screen
    for mid in ids:
        queue.cancel(mid)
    reads: list[list[int]] = []
    real = queue.get_summaries
    queue.get_summaries = lambda i: reads.append(list(i)) or real(i)  # type: ignore[method-assign]
    rows.apply_changes([*ids, rows.message_id(35)])
    assert len(reads) == 1 and sorted(reads[0]) == sorted(ids)  # the off-screen row is dropped, not read
    assert announced.of("changed") == [(0, 35)]
    assert 35 not in rows.rows
    assert {rows.rows[rows.row_of(i)].status for i in ids} == {"cancelled"}


def test_a_row_that_leaves_the_filtered_list_asks_for_a_reload_later_never_at_once(queue, clock):
    v = fill_varied(queue, clock)
    rows, _, announced = make(queue)
    rows.set_filter(["deferred"])
    rows.set_visible_rows(0, 5)
    assert rows.message_id(0) == v.deferred
    announced.events.clear()
    queue.requeue(v.deferred)
    rows.apply_changes([v.deferred])
    assert announced.names() == ["reload_soon", "changed"]  # no reset while a view may be painting
    rows.apply_changes([v.deferred])
    assert announced.names().count("reload_soon") == 1  # asked once until it happens
    rows.reload_if_pending()
    assert rows.count == 0 and announced.names()[-3:] == ["resetting", "reset", "count"]


def test_a_search_shows_nothing_until_its_matches_come_and_newer_matches_wait_for_the_next_update(queue, clock):
    bulk(queue, clock, 200)
    rows, searcher, announced = make(queue)
    rows.set_filter(None, "bulk 19")
    assert rows.searching and rows.count == 0
    assert announced.names() == ["resetting", "reset", "count", "searching"]
    late = enqueue(queue, clock, 1, subject="bulk 19 late")  # arrives while the search runs
    searcher.answer(rows)
    assert not rows.searching and rows.count == 11  # 19, 190-199; not the late one yet
    rows.apply_changes([late])
    assert rows.count == 12 and rows.message_id(0) == late
    assert rows.row_of(rows.message_id(11) or 0) == 11  # found by bisecting the matches


def test_a_newer_search_supersedes_an_older_one_and_a_cleared_box_drops_its_answer(queue, clock):
    bulk(queue, clock, 200)
    rows, searcher, _ = make(queue)
    rows.set_filter(None, "bulk 1")
    rows.set_filter(None, "bulk 19")
    searcher.answer(rows)  # the first search's answer: stale
    assert rows.searching and rows.count == 0
    searcher.answer(rows)
    assert rows.count == 11
    rows.set_filter(None, "bulk 2")
    rows.set_filter(None, "")
    searcher.answer(rows)  # the box was cleared meanwhile
    assert not rows.searching and rows.count == 200


def test_a_failed_search_is_announced_with_its_reason(queue, clock):
    bulk(queue, clock, 5)
    rows, searcher, announced = make(queue)
    rows.set_filter(None, "bulk")
    searcher.answer(rows, Error("search: database is locked"))
    assert announced.of("failed") == [("search: database is locked",)]
    assert not rows.searching


@pytest.mark.allow_log("mailgui.gui.queue_view.rows", match="^recounting the queue list failed")
def test_a_long_filtered_list_is_recounted_by_the_searcher_one_count_at_a_time(queue, clock):
    ids = bulk(queue, clock, 60)
    rows, searcher, announced = make(queue)
    rows.BACKGROUND_RECOUNT = 10
    rows.set_filter(["queued"])
    rows.set_visible_rows(0, 9)
    queue.cancel(ids[-1])  # off screen: whether it left the list is unknown, so count again
    rows.apply_changes([ids[-1]])
    rows.reload_if_pending()
    assert [r.count_before for r in searcher.requests] == [max(ids) + 1] and rows.recount_token
    queue.cancel(ids[-2])
    rows.apply_changes([ids[-2]])
    rows.reload_if_pending()
    assert len(searcher.requests) == 1  # one at a time: the second waits for the first
    announced.events.clear()
    searcher.answer(rows)
    assert rows.count == 58 and announced.names() == ["resetting", "reset", "count", "reload_soon"]
    rows.reload_if_pending()  # the count owed for the changes made meanwhile
    searcher.answer(rows, Error("interrupted"))
    assert rows.count == 58 and rows.recount_token == 0  # a failed count is logged; the next change tries again


def test_shutdown_ends_the_search_under_way_and_waits_for_the_searcher(queue, clock):
    bulk(queue, clock, 5)
    rows, searcher, _ = make(queue)
    rows.set_filter(None, "bulk")
    rows.shutdown()
    assert searcher.waited == 1
    searcher.answer(rows)
    assert rows.count == 0  # its answer came after the end: dropped
