"""QueueTableModel: paged reads over the queue, checked by Qt's own model tester before and while it changes."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from mailgui.clock import FakeClock
from mailgui.gui.queue_view.cells import COL_ATTEMPTS, COL_NEXT, COL_REPLY, COL_STATE, COL_SUBJECT, COL_TO, ID_ROLE
from mailgui.gui.queue_view.model import QueueTableModel
from mailgui.message import MessageFields, build_message
from mailgui.queue import Queue
from mailgui.queue.bulk import enqueue_many
from tests.gui.queue_data import enqueue, fill_varied

D = Qt.ItemDataRole.DisplayRole
pytestmark = pytest.mark.usefixtures("qapp")  # the model owns a QTimer


def text(model: QueueTableModel, row: int, col: int) -> str:
    return model.data(model.index(row, col), D)


def ids_of(model: QueueTableModel) -> list[int]:
    return [model.data(model.index(r, 0), ID_ROLE) for r in range(model.rowCount())]


def search(qtbot, model: QueueTableModel, statuses, text: str) -> None:
    """Set a filter with a search and wait for its matches (found in a background thread)."""
    model.rows.set_filter(statuses, text)
    qtbot.waitUntil(lambda: not model.rows.searching)


def bulk(queue: Queue, clock: FakeClock, n: int) -> None:
    queue.add_sender("@example.com")
    msgs = [
        build_message(
            MessageFields(sender="a@example.com", to=f"r{i}@example.org", subject=f"bulk {i}", body="x"),
            now=clock.now(),
        )
        for i in range(n)
    ]
    enqueue_many(queue, msgs)


def test_model_passes_the_qt_model_tester_before_and_while_it_changes(qtbot, queue, clock, qtmodeltester):
    model = QueueTableModel(queue, clock)
    qtmodeltester.check(model)  # empty
    varied = fill_varied(queue, clock)
    model.rows.refresh()
    qtmodeltester.check(model)
    # While it changes: new rows at the top, an update, a state filter, a search, and a reload.
    new = [enqueue(queue, clock, 10 + i) for i in range(3)]
    model.rows.apply_changes(new)
    assert model.rowCount() == 9
    queue.cancel(varied.queued)
    model.rows.apply_changes([varied.queued])
    model.rows.set_filter(["sent", "bounced"])
    assert model.rowCount() == 2
    search(qtbot, model, None, "quarterly report 1")
    assert {text(model, r, COL_SUBJECT) for r in range(model.rowCount())} >= {"Quarterly report 10"}
    model.rows.set_filter(None)
    queue.delete([new[0]])
    model.rows.refresh()
    assert model.rowCount() == 8


def test_rows_are_newest_first_with_state_word_recipients_attempts_and_last_reply(queue, clock):
    v = fill_varied(queue, clock)
    model = QueueTableModel(queue, clock)
    assert ids_of(model) == sorted(ids_of(model), reverse=True)
    row = {model.data(model.index(r, 0), ID_ROLE): r for r in range(model.rowCount())}
    assert text(model, row[v.queued], COL_TO) == "frank@example.org +2"
    assert text(model, row[v.sent], COL_STATE) == "Sent"
    deferred = row[v.deferred]
    assert text(model, deferred, COL_STATE) == "Deferred"
    assert text(model, deferred, COL_ATTEMPTS) == "1"
    assert text(model, deferred, COL_REPLY) == "451 4.3.0 Try again later"
    bounced = row[v.bounced]
    assert text(model, bounced, COL_REPLY) == "550 5.1.1 <nobody@example.org>: User unknown"
    assert text(model, bounced, COL_NEXT) == ""
    # State is never colour alone: an icon and a word come with the colour.
    state = model.index(bounced, COL_STATE)
    assert not model.data(state, Qt.ItemDataRole.DecorationRole).isNull()
    assert model.data(state, Qt.ItemDataRole.ForegroundRole).name() == "#c62828"


def test_next_attempt_is_relative_to_the_injected_clock(queue, clock):
    v = fill_varied(queue, clock)  # deferred to 240 s after its attempt, then the clock moved 180 s
    model = QueueTableModel(queue, clock)
    row = model.rows.row_of(v.deferred)
    assert text(model, row, COL_NEXT) == "in 1 min"
    clock.advance(-600)
    changed = []
    model.dataChanged.connect(lambda a, b, roles=(): changed.append((a.column(), b.column())))
    model.update_times()  # the model's own timer does this every 30 s
    assert changed == [(1, 6)]  # created .. next attempt
    assert text(model, row, COL_NEXT) == "in 11 min"
    clock.advance(3 * 3600)
    model.update_times()
    assert text(model, row, COL_NEXT) == "now"


def test_filter_by_state_and_search_by_address_or_subject(qtbot, queue, clock):
    v = fill_varied(queue, clock)
    model = QueueTableModel(queue, clock)
    model.rows.set_filter(["deferred"])
    assert ids_of(model) == [v.deferred]
    search(qtbot, model, None, "nobody@example")
    assert ids_of(model) == [v.bounced]
    search(qtbot, model, None, "team LUNCH")
    assert ids_of(model) == [v.queued]
    search(qtbot, model, ["sent"], "team lunch")
    assert ids_of(model) == []
    search(qtbot, model, ["sent", "queued"], "team lunch")
    assert ids_of(model) == [v.queued]


def test_pages_are_read_lazily_and_every_row_is_the_right_message(queue, clock):
    bulk(queue, clock, 1050)
    model = QueueTableModel(queue, clock)
    model.rows.PAGE = 100
    expected = sorted((s.id for s in queue.list_messages(limit=2000)), reverse=True)
    assert model.rowCount() == 1050
    assert model.rows.fetches == 0
    assert model.rows.message_id(0) == expected[0]
    assert model.rows.fetches == 1
    assert model.rows.message_id(1049) == expected[1049]  # the end: read oldest-first from the near end
    assert model.rows.message_id(100) == expected[100]  # keyset after the cached first page
    assert model.rows.message_id(999) == expected[999]  # keyset before the cached last page
    assert model.rows.message_id(530) == expected[530]  # offset from the nearer end
    assert model.rows.fetches == 5
    for row in (0, 99, 100, 1049, 530, 531):
        model.rows.message_id(row)
    assert model.rows.fetches == 5  # cached


def test_the_row_cache_stays_small(queue, clock):
    bulk(queue, clock, 1200)
    model = QueueTableModel(queue, clock)
    model.rows.PAGE, model.rows.MAX_CACHED = 50, 200
    expected = sorted((s.id for s in queue.list_messages(limit=2000)), reverse=True)
    for row in range(0, 1200, 7):
        assert model.rows.message_id(row) == expected[row]
    assert len(model.rows.rows) <= 200 + 50


def test_changes_are_read_in_one_query_and_announced_in_one_data_changed(queue, clock, qtmodeltester):
    bulk(queue, clock, 40)
    model = QueueTableModel(queue, clock)
    qtmodeltester.check(model)
    model.rows.set_visible_rows(0, 29)
    for row in range(40):
        model.rows.message_id(row)
    ids = [model.rows.message_id(r) for r in range(0, 30, 3)]
    for mid in ids:
        queue.cancel(mid)
    reads, changed = [], []
    real = queue.get_summaries
    queue.get_summaries = lambda i: reads.append(list(i)) or real(i)  # type: ignore[method-assign]
    model.dataChanged.connect(lambda a, b, roles=(): changed.append((a.row(), b.row())))
    model.rows.apply_changes(ids)
    assert len(reads) == 1 and sorted(reads[0]) == sorted(ids)
    assert changed == [(0, 27)]
    assert all(text(model, model.rows.row_of(i), COL_STATE) == "Cancelled" for i in ids)


def test_new_messages_go_in_at_the_top_and_rows_keep_their_ids(queue, clock, qtmodeltester):
    bulk(queue, clock, 250)
    model = QueueTableModel(queue, clock)
    qtmodeltester.check(model)
    before = [model.rows.message_id(r) for r in range(250)]
    inserted = []
    model.rowsInserted.connect(lambda _p, first, last: inserted.append((first, last)))
    new = [enqueue(queue, clock, 900 + i) for i in range(4)]
    model.rows.apply_changes(new[-1:])  # the worker may name only one; every newer message goes in
    assert inserted == [(0, 3)]
    assert [model.rows.message_id(r) for r in range(254)] == sorted(new, reverse=True) + before


def test_another_process_changes_are_found_on_screen_rows(db_path, queue, clock):
    v = fill_varied(queue, clock)
    model = QueueTableModel(queue, clock)
    model.rows.set_visible_rows(0, 20)
    other = Queue(db_path, clock=clock)
    try:
        other.cancel(v.queued)
        new = enqueue(other, clock, 77)
        other.delete([v.sent])
    finally:
        other.close()
    resets = []
    model.modelReset.connect(lambda: resets.append(1))
    model.rows.apply_changes([], external=True)
    assert model.rows.message_id(0) == new
    assert text(model, model.rows.row_of(v.queued), COL_STATE) == "Cancelled"
    # The deleted row was on screen: the model counts again (on the next turn of the event loop).
    assert resets == []
    model.rows.reload_if_pending()
    assert resets == [1]
    assert v.sent not in ids_of(model)


@pytest.mark.parametrize("statuses", [["queued"], ["deferred", "bounced"]])
def test_under_a_state_filter_rows_moving_in_or_out_reload_the_list(queue, clock, statuses):
    v = fill_varied(queue, clock)
    model = QueueTableModel(queue, clock)
    model.rows.set_filter(statuses)
    before = model.rowCount()
    queue.requeue(v.deferred)  # deferred -> queued: moves between the two filters
    model.rows.apply_changes([v.deferred])
    model.rows.reload_if_pending()
    assert model.rowCount() == queue.count_messages(statuses)
    assert model.rowCount() != before


def test_row_of_finds_messages_from_either_end_of_the_list(qtbot, queue, clock):
    bulk(queue, clock, 300)
    model = QueueTableModel(queue, clock)
    search(qtbot, model, None, "bulk")
    expected = sorted((s.id for s in queue.list_messages(limit=1000)), reverse=True)
    for row in (0, 1, 150, 298, 299):
        assert model.rows.row_of(expected[row]) == row
    queue.cancel(expected[10])
    model.rows.set_filter(["queued"])
    assert model.rows.row_of(expected[10]) is None
    assert model.rows.row_of(expected[11]) == 10


def test_a_flood_of_new_messages_is_counted_and_inserted_without_a_reload(queue, clock, qtmodeltester):
    bulk(queue, clock, 30)
    model = QueueTableModel(queue, clock)
    qtmodeltester.check(model)
    model.rows.NEW_ROWS_LIMIT = 5
    top_before = model.rows.message_id(0)
    resets, inserted = [], []
    model.modelReset.connect(lambda: resets.append(1))
    model.rowsInserted.connect(lambda _p, first, last: inserted.append((first, last)))
    new = [enqueue(queue, clock, 500 + i) for i in range(12)]
    model.rows.apply_changes([], external=True)
    assert inserted == [(0, 11)] and resets == []
    assert [model.rows.message_id(r) for r in range(13)] == [*sorted(new, reverse=True), top_before]


def test_while_the_scroll_bar_is_dragged_rows_are_placeholders_until_it_rests(queue, clock):
    bulk(queue, clock, 500)
    model = QueueTableModel(queue, clock)
    model.defer_fetches = True
    assert model.data(model.index(300, COL_SUBJECT), D) == "…"
    assert model.rows.fetches == 0
    model.rows.set_visible_rows(300, 320)
    changed = []
    model.dataChanged.connect(lambda a, b, roles=(): changed.append((a.row(), b.row())))
    model.rows.fetch_visible()
    assert changed == [(300, 320)]
    assert model.data(model.index(300, COL_SUBJECT), D).startswith("bulk ")


def test_a_search_runs_in_the_background_and_follows_new_matches(qtbot, queue, clock, qtmodeltester):
    bulk(queue, clock, 400)
    model = QueueTableModel(queue, clock)
    qtmodeltester.check(model)
    states = []
    model.searchingChanged.connect(states.append)
    model.rows.set_filter(None, "bulk 1")  # bulk 1, 10-19, 100-199: 111 matches
    assert model.rows.searching and model.rowCount() == 0  # the GUI thread did not wait for the scan
    qtbot.waitUntil(lambda: not model.rows.searching)
    assert states == [True, False]
    assert model.rowCount() == 111
    subjects = [model.data(model.index(r, COL_SUBJECT), D) for r in range(111)]
    assert subjects[0] == "bulk 199" and subjects[-1] == "bulk 1"
    assert all(s.startswith("bulk 1") for s in subjects)
    # New matching messages arrive at the top; others do not show.
    enqueue(queue, clock, 1, subject="bulk 1 again")
    enqueue(queue, clock, 2, subject="something else")
    model.rows.apply_changes([], external=True)
    assert model.rowCount() == 112
    assert model.data(model.index(0, COL_SUBJECT), D) == "bulk 1 again"
    # A refresh searches again, keeping the list on show until the new matches are in.
    model.rows.refresh()
    assert model.rows.searching and model.rowCount() == 112
    qtbot.waitUntil(lambda: not model.rows.searching)
    assert model.rowCount() == 112
    # Clearing the search goes back to paging in SQL.
    model.rows.set_filter(None, "")
    assert not model.rows.searching and model.rowCount() == 402
    model.shutdown()


def test_a_newer_search_supersedes_an_older_one(qtbot, queue, clock):
    bulk(queue, clock, 200)
    model = QueueTableModel(queue, clock)
    model.rows.set_filter(None, "bulk 1")
    model.rows.set_filter(None, "bulk 19")
    qtbot.waitUntil(lambda: not model.rows.searching)
    subjects = [model.data(model.index(r, COL_SUBJECT), D) for r in range(model.rowCount())]
    assert len(subjects) == 11 and all(s.startswith("bulk 19") for s in subjects)  # 19, 190-199
    model.shutdown()


def test_a_long_state_filtered_list_is_recounted_in_the_background_on_live_changes(qtbot, queue, clock):
    bulk(queue, clock, 60)
    model = QueueTableModel(queue, clock)
    model.rows.BACKGROUND_RECOUNT = 10
    model.rows.set_filter(["queued"])
    assert model.rowCount() == 60
    model.rows.set_visible_rows(0, 9)
    for row in range(10):
        model.rows.message_id(row)
    off_screen = queue.list_messages("queued", limit=1, newest_first=False)[0].id
    queue.cancel(off_screen)  # leaves the list, far from the rows on screen
    resets = []
    model.modelReset.connect(lambda: resets.append(model.rowCount()))
    model.rows.apply_changes([off_screen])
    model.rows.reload_if_pending()
    assert model.rows.recount_token and resets == []  # counting in a thread; the GUI thread did not wait
    # Let the count finish in its thread before the next change, so it counts 59: its result waits, queued, for
    # the event loop, so the model still sees it under way below.
    for thread in list(model.searcher._threads):
        thread.join(5)
    queue.cancel(model.rows.message_id(5))
    model.rows.apply_changes([model.rows.message_id(5)])  # more changes meanwhile: one more count after this one
    model.rows.reload_if_pending()
    qtbot.waitUntil(lambda: resets == [59, 58])
    assert model.rowCount() == 58 == queue.count_messages("queued")
    assert off_screen not in [model.rows.message_id(r) for r in range(58)]
    model.shutdown()


def test_new_messages_that_do_not_match_the_filter_are_not_inserted(queue, clock):
    v = fill_varied(queue, clock)
    model = QueueTableModel(queue, clock)
    model.rows.set_filter(["sent"])
    new = enqueue(queue, clock, 70)  # queued: not in the Sent list
    model.rows.apply_changes([new])
    model.rows.reload_if_pending()
    assert ids_of(model) == [v.sent]
