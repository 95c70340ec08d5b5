"""Recording an attempt from the ClaimedMessage it was sent from (the worker's path), and claiming in the same
commit: the state it settles is exactly what reading the recipients back would give."""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from mailgui.clock import FakeClock
from mailgui.errors import LeaseLostError, UnknownMessageError
from mailgui.queue import Attempt, AttemptOutcome, ClaimedMessage, Queue, RecipientResult, RecipientStatus, Status
from tests.queue.helpers import outgoing

ADDRESSES = [f"r{i}@example.org" for i in range(4)]
OUTCOMES = [RecipientStatus.DELIVERED, RecipientStatus.FAILED, RecipientStatus.PENDING]
CODES = {RecipientStatus.DELIVERED: 250, RecipientStatus.FAILED: 550, RecipientStatus.PENDING: 451}


def results_for(addresses: tuple[str, ...], statuses: list[str], keep: list[bool]) -> tuple[RecipientResult, ...]:
    """One result per address (some left out when ``keep`` says so, as a whole-relay failure may)."""
    return tuple(
        RecipientResult(a, s, CODES[s], f"{CODES[s]} reply for {a}")
        for a, s, k in zip(addresses, statuses, keep, strict=False)
        if k
    )


def state(q: Queue, mid: int) -> tuple[object, ...]:
    summary = q.get_message(mid).summary
    recipients = tuple((r.address, r.status, r.code, r.reply) for r in summary.recipients)
    return summary.status, summary.next_attempt_at, summary.attempts, recipients


def outcome_view(outcome: AttemptOutcome) -> tuple[object, ...]:
    return outcome.status, outcome.pending, tuple((r.address, r.status, r.code) for r in outcome.newly_failed)


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(1, 4),
    first=st.lists(st.sampled_from(OUTCOMES), min_size=4, max_size=4),
    second=st.lists(st.sampled_from(OUTCOMES), min_size=4, max_size=4),
    keep=st.lists(st.booleans(), min_size=4, max_size=4),
    expires=st.booleans(),
)
def test_the_claimed_path_settles_the_same_state_as_reading_it_back(
    n: int, first: list[str], second: list[str], keep: list[bool], expires: bool
) -> None:
    clock = FakeClock()
    with tempfile.TemporaryDirectory() as tmp, Queue(Path(tmp) / "q.sqlite3", clock=clock) as q:
        q.add_sender("@example.com")
        to = ADDRESSES[:n]
        by_id, by_claim = q.enqueue(outgoing(to=to)), q.enqueue(outgoing(to=to))
        # A first attempt, written the same way for both: some recipients settle, some fail, some stay.
        for msg in q.claim_due("w", 10, 60):
            first_results = results_for(msg.recipients, first, [True] * 4)
            q.record_attempts("w", [(msg.id, Attempt(clock.now(), 0.1, "relay", first_results), clock.now() + 300)])
        clock.advance(300)
        claimed = {m.id: m for m in q.claim_due("w", 10, 60)}
        if not claimed:
            return  # nothing left pending after the first attempt: both are final already
        assert set(claimed) == {by_id, by_claim}
        assert claimed[by_id].recipients == claimed[by_claim].recipients
        again = claimed[by_claim]
        retry_at = None if expires else clock.now() + 600
        second_results = results_for(again.recipients, second, keep)
        attempt = Attempt(clock.now(), 0.2, "relay", second_results)
        [(slow, _), (fast, _)] = q.record_attempts("w", [(by_id, attempt, retry_at), (again, attempt, retry_at)])
        assert isinstance(slow, AttemptOutcome) and isinstance(fast, AttemptOutcome)
        assert outcome_view(fast) == outcome_view(slow)
        assert state(q, by_claim) == state(q, by_id)


def test_claim_tells_whether_a_recipient_failed_before(authorized: Queue, clock: FakeClock) -> None:
    mid = authorized.enqueue(outgoing(to=["a@example.org", "b@example.org"]))
    [msg] = authorized.claim_due("w", 1, 60)
    assert not msg.failed_before
    results = (
        RecipientResult("a@example.org", RecipientStatus.FAILED, 550, "550 no such user"),
        RecipientResult("b@example.org", RecipientStatus.PENDING, 451, "451 try later"),
    )
    authorized.record_attempts("w", [(msg, Attempt(clock.now(), 0.1, "relay", results), clock.now() + 300)])
    clock.advance(300)
    [again] = authorized.claim_due("w", 1, 60)
    assert (again.id, again.recipients, again.failed_before) == (mid, ("b@example.org",), True)
    delivered = (RecipientResult("b@example.org", RecipientStatus.DELIVERED, 250, "250 ok"),)
    [(outcome, _)] = authorized.record_attempts("w", [(again, Attempt(clock.now(), 0.1, "relay", delivered), None)])
    assert isinstance(outcome, AttemptOutcome) and outcome.status == Status.BOUNCED  # a failed, b delivered


def attempts_of(path: Path, mid: int) -> int:
    with sqlite3.connect(path) as c:
        return int(c.execute("SELECT count(*) FROM attempts WHERE message_id = ?", (mid,)).fetchone()[0])


def test_a_lost_lease_on_the_claimed_path_writes_nothing(authorized: Queue, clock: FakeClock, db_path: Path) -> None:
    mid = authorized.enqueue(outgoing(to="a@example.org"))
    [msg] = authorized.claim_due("w", 1, 60)
    clock.advance(61)
    [taken] = authorized.claim_due("other", 1, 60)  # the lease ran out; another worker has it now
    assert taken.id == mid
    done = Attempt(clock.now(), 0.1, "relay", (RecipientResult("a@example.org", "delivered", 250, "250 ok"),))
    gone = ClaimedMessage(**{**msg.__dict__, "id": 999})
    [(lost, _), (unknown, _)] = authorized.record_attempts("w", [(msg, done, None), (gone, done, None)])
    assert isinstance(lost, LeaseLostError) and isinstance(unknown, UnknownMessageError)
    summary = authorized.get_message(mid).summary
    assert (summary.status, summary.attempts) == (Status.SENDING, 0)
    assert [r.status for r in summary.recipients] == [RecipientStatus.PENDING]
    assert attempts_of(db_path, mid) == 0


def test_record_and_claim_leases_the_next_messages_in_the_same_commit(authorized: Queue, clock: FakeClock) -> None:
    first = authorized.enqueue(outgoing(to="a@example.org"))
    [msg] = authorized.claim_due("w", 1, 60)
    later = [authorized.enqueue(outgoing(to=f"n{i}@example.org")) for i in range(3)]
    done = Attempt(clock.now(), 0.1, "relay", (RecipientResult("a@example.org", "delivered", 250, "250 ok"),))
    recorded, claimed = authorized.record_and_claim("w", [(msg, done, clock.now())], claim=2, lease_seconds=90)
    assert isinstance(recorded[0][0], AttemptOutcome) and recorded[0][0].status == Status.SENT
    assert [m.id for m in claimed] == later[:2]
    for m in claimed:
        summary = authorized.get_message(m.id).summary
        assert summary.status == Status.SENDING
    assert authorized.get_message(later[2]).summary.status == Status.QUEUED
    assert authorized.get_message(first).summary.status == Status.SENT
    _, none = authorized.record_and_claim("w", [], claim=0)
    assert none == []
