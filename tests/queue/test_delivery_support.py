"""Queue functions the delivery worker relies on: batched attempt records with their reports, expired claims."""

from __future__ import annotations

from mailgui.clock import FakeClock
from mailgui.errors import LeaseLostError, UnknownMessageError
from mailgui.queue import Attempt, AttemptOutcome, Queue, RecipientResult, Status
from mailgui.queue.records import NewReport
from mailgui.settings import Settings
from tests.queue.helpers import outgoing


def attempt(clock: FakeClock, *results: tuple[str, str, int]) -> Attempt:
    return Attempt(clock.now(), 0.1, "relay:25", tuple(RecipientResult(a, s, c, f"{c} reply") for a, s, c in results))


def test_record_attempts_writes_a_batch_and_skips_lost_leases(authorized: Queue, clock: FakeClock) -> None:
    a = authorized.enqueue(outgoing(to="a@example.org"))
    b = authorized.enqueue(outgoing(to="b@example.org"))
    c = authorized.enqueue(outgoing(to="c@example.org"))
    assert [m.id for m in authorized.claim_due("w", 10, 60)] == [a, b, c]
    authorized.release(b, "w")  # b's lease is gone before the batch is written
    results = authorized.record_attempts(
        "w",
        [
            (a, attempt(clock, ("a@example.org", "delivered", 250)), clock.now()),
            (b, attempt(clock, ("b@example.org", "delivered", 250)), clock.now()),
            (c, attempt(clock, ("c@example.org", "pending", 451)), clock.now() + 300),
            (999, attempt(clock, ("x@example.org", "delivered", 250)), clock.now()),
        ],
    )
    assert isinstance(results[0][0], AttemptOutcome) and results[0][0].status == Status.SENT
    assert isinstance(results[1][0], LeaseLostError)
    assert isinstance(results[2][0], AttemptOutcome) and results[2][0].status == Status.DEFERRED
    assert isinstance(results[3][0], UnknownMessageError)
    assert [r[1] for r in results] == [None, None, None, None]
    assert authorized.get_message(b).summary.status == Status.QUEUED  # untouched by the skipped record
    assert authorized.get_message(c).summary.next_attempt_at == clock.now() + 300


def test_a_report_is_queued_in_the_same_transaction_as_its_attempt(authorized: Queue, clock: FakeClock) -> None:
    mid = authorized.enqueue(outgoing(to="a@example.org"))
    authorized.claim_due("w", 1, 60)
    seen: list[tuple[int, str]] = []

    def report(index: int, outcome: AttemptOutcome) -> NewReport:
        seen.append((index, outcome.status))
        return NewReport("<r1@mailgui.test>", "ann@example.com", "Undelivered Mail Returned to Sender", b"raw")

    [(_, report_id)] = authorized.record_attempts(
        "w", [(mid, attempt(clock, ("a@example.org", "failed", 550)), clock.now())], report
    )
    assert seen == [(0, Status.BOUNCED)]
    assert report_id is not None
    row = authorized.get_message(report_id)
    assert (row.summary.sender, row.summary.kind, row.summary.parent_id) == ("", "report", mid)
    assert row.summary.status == Status.QUEUED and row.raw == b"raw"
    assert [r.address for r in row.summary.recipients] == ["ann@example.com"]
    assert authorized.get_message(mid).report_ids == (report_id,)


def test_a_delay_warning_marks_the_message_warned(authorized: Queue, clock: FakeClock) -> None:
    mid = authorized.enqueue(outgoing(to="a@example.org"))
    [claimed] = authorized.claim_due("w", 1, 60)
    assert claimed.warned_at is None
    authorized.record_attempts(
        "w",
        [(mid, attempt(clock, ("a@example.org", "pending", 451)), clock.now() + 300)],
        lambda i, o: NewReport("<d@x>", "ann@example.com", "Delayed Mail (still being retried)", b"r", warned=True),
    )
    clock.advance(300)
    [again] = [m for m in authorized.claim_due("w", 10, 60) if m.id == mid]
    assert again.warned_at == clock.now() - 300


def test_claim_expired_only_takes_messages_past_their_lifetime(authorized: Queue, clock: FakeClock) -> None:
    Settings(authorized).set("retry.lifetime", "100")
    old = authorized.enqueue(outgoing(to="old@example.org"))
    clock.advance(60)
    young = authorized.enqueue(outgoing(to="young@example.org"))
    clock.advance(50)  # old is 110 s old (expired), young 50 s
    assert [m.id for m in authorized.claim_due("w", 10, 60, expired_only=True)] == [old]
    assert [m.id for m in authorized.claim_due("w", 10, 60)] == [young]
