"""warn_waiting: delay warnings for mail held for a relay nobody is trying, in bounded, all-or-nothing writes."""

from __future__ import annotations

import pytest

from mailgui.clock import FakeClock
from mailgui.queue import Attempt, ClaimedMessage, Queue, RecipientResult, Status
from mailgui.queue.records import NewReport

from .helpers import outgoing

DELAY = 600.0


class Builder:
    """Records what it is asked to warn about; returns a small report for each."""

    def __init__(self, fail_on: int | None = None):
        self.seen: list[tuple[ClaimedMessage, float | None]] = []
        self.fail_on = fail_on

    def __call__(self, msg: ClaimedMessage, last_attempt: float | None) -> NewReport:
        if msg.id == self.fail_on:
            raise RuntimeError("cannot build")
        self.seen.append((msg, last_attempt))
        raw = f"Subject: Delayed Mail\r\n\r\nabout {msg.id}\r\n".encode()
        return NewReport(f"<warn.{msg.id}@t>", msg.sender, "Delayed Mail", raw, False, True)


def warned_at(queue: Queue, message_id: int) -> float | None:
    return queue.conn.execute("SELECT warned_at FROM messages WHERE id = ?", (message_id,)).fetchone()[0]


def test_only_waiting_unwarned_messages_old_enough_are_warned_once(authorized: Queue, clock: FakeClock) -> None:
    held = authorized.enqueue(outgoing(subject="held", to=["bob@example.org", "carol@example.net"]))
    tried = authorized.enqueue(outgoing(subject="tried", to=["bob@example.org", "dave@example.org"]))
    scheduled = authorized.enqueue(outgoing(subject="later"), not_before=clock.now() + 7200)
    sending = authorized.enqueue(outgoing(subject="in flight"))
    sent = authorized.enqueue(outgoing(subject="sent"))
    report = authorized.enqueue_report(
        parent_id=held, message_id="<r@t>", recipient="ann@example.com", subject="s", raw=b"s"
    )
    # 'tried': bob delivered, dave deferred (its last attempt is what Last-Attempt-Date will say)
    t_try = clock.now()
    claimed = {m.id: m for m in authorized.claim_due("w", 10, 60)}
    assert set(claimed) == {held, tried, sending, sent, report}
    delivered = RecipientResult("bob@example.org", "delivered", 250, "ok")
    authorized.record_attempt(
        tried,
        "w",
        Attempt(t_try, 0.1, "r", (delivered, RecipientResult("dave@example.org", "pending", 451, "later"))),
        t_try + 300,
    )
    authorized.record_attempt(sent, "w", Attempt(t_try, 0.1, "r", (delivered,)), t_try + 300)
    for mid in (held, report):
        authorized.release(mid, "w")
    authorized.hold_due(clock.now() + 30, "delivery temporarily suspended: x", None, 10)
    clock.advance(DELAY - 100)
    young_at = clock.now()
    young = authorized.enqueue(outgoing(subject="young"))
    clock.advance(100)

    build = Builder()
    scan = authorized.warn_waiting(0, 100, 100, DELAY, build)

    assert [m.id for m, _ in build.seen] == [held, tried]  # not scheduled, in flight, sent, report or young
    assert build.seen[0][0].recipients == ("bob@example.org", "carol@example.net")
    assert build.seen[1][0].recipients == ("dave@example.org",)  # only who is still pending
    assert [at for _, at in build.seen] == [None, t_try]  # never tried; tried at t_try
    assert scan.done and scan.last_id == young
    assert [mid for mid, _ in scan.warned] == [held, tried]
    not_yet = dict(scan.not_yet)
    assert not_yet[scheduled] == clock.now() - DELAY + 7200  # due in two hours: not waiting before then
    assert not_yet[sending] >= clock.now() - DELAY  # its attempt will tell
    assert not_yet[young] == young_at + DELAY
    assert set(not_yet) == {scheduled, sending, young}
    for mid, report_id in scan.warned:
        assert warned_at(authorized, mid) == clock.now()
        r = authorized.get_message(report_id)
        assert (r.summary.kind, r.summary.sender, r.summary.parent_id, r.summary.status) == (
            "report",
            "",
            mid,
            Status.QUEUED,
        )
        assert [x.address for x in r.summary.recipients] == ["ann@example.com"]

    clock.advance(3600)
    again = Builder()
    assert [mid for mid, _ in authorized.warn_waiting(0, 100, 100, DELAY, again).warned] == [young]  # its turn
    assert [m.id for m, _ in again.seen] == [young]  # warned ones are never passed again
    assert authorized.warn_waiting(0, 100, 100, DELAY, again).warned == []


def test_windows_and_batches_are_bounded_and_cover_everything_once(authorized: Queue, clock: FakeClock) -> None:
    ids = [authorized.enqueue(outgoing(subject=f"m{n}")) for n in range(11)]
    authorized.hold_due(clock.now() + 30, "held", None, 100)
    clock.advance(DELAY)
    build = Builder()
    after, calls = 0, []
    while True:
        scan = authorized.warn_waiting(after, 4, 2, DELAY, build)
        calls.append(len(scan.warned))
        assert scan.last_id > after or (scan.done and not scan.warned)
        after = scan.last_id
        if scan.done:
            break
    assert max(calls) <= 2
    assert sorted(m.id for m, _ in build.seen) == ids  # each once
    assert all(warned_at(authorized, i) is not None for i in ids)
    assert authorized.warn_waiting(0, 4, 2, DELAY, build).warned == []


def test_a_failing_build_writes_nothing(authorized: Queue, clock: FakeClock) -> None:
    """All or nothing: a report and its warned mark are in one transaction with the others of the write."""
    first, second = (authorized.enqueue(outgoing(subject=s)) for s in ("a", "b"))
    clock.advance(DELAY)
    with pytest.raises(RuntimeError):
        authorized.warn_waiting(0, 10, 10, DELAY, Builder(fail_on=second))
    assert warned_at(authorized, first) is None
    assert authorized.get_message(first).report_ids == ()
    assert authorized.counts_by_status() == {Status.QUEUED: 2}
    scan = authorized.warn_waiting(0, 10, 10, DELAY, Builder())
    assert [mid for mid, _ in scan.warned] == [first, second]


def test_an_empty_window_is_done(authorized: Queue) -> None:
    scan = authorized.warn_waiting(0, 10, 10, DELAY, Builder())
    assert (scan.last_id, scan.done, scan.warned, scan.not_yet) == (0, True, [], [])
