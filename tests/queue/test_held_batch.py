"""A batch of attempts on held messages, written a few statements at a time (queue/held_batch.py): it settles
exactly what recording each message on its own does, costs a bounded number of statements however large the
batch, and steps aside (to the per-message path) when a lease was lost."""

from __future__ import annotations

import json
import sqlite3
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from mailgui.clock import FakeClock
from mailgui.errors import LeaseLostError
from mailgui.queue import Attempt, AttemptOutcome, ClaimedMessage, Queue, RecipientResult, RecipientStatus, Status
from tests.queue.helpers import outgoing
from tests.queue.test_record_claimed import ADDRESSES, OUTCOMES, outcome_view, results_for, state


def attempts_log(path: Path, mid: int) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as c:
        rows = c.execute(
            "SELECT started_at, duration, relay, error, detail FROM attempts WHERE message_id = ? ORDER BY id", (mid,)
        ).fetchall()
    return [(*r[:4], json.loads(r[4])) for r in rows]


message_plan = st.tuples(
    st.integers(1, 4),  # recipients
    st.lists(st.sampled_from(OUTCOMES), min_size=4, max_size=4),  # first attempt, recorded alone
    st.lists(st.sampled_from(OUTCOMES), min_size=4, max_size=4),  # second attempt, recorded in the batch
    st.lists(st.booleans(), min_size=4, max_size=4),  # which recipients the second attempt reports on
    st.booleans(),  # the second attempt failed as a whole (an error)
)


@settings(max_examples=60, deadline=None)
@given(plans=st.lists(message_plan, min_size=1, max_size=6), retry=st.floats(1.0, 10_000.0))
def test_a_batch_settles_exactly_what_recording_one_at_a_time_does(
    plans: list[tuple[int, list[str], list[str], list[bool], bool]], retry: float
) -> None:
    clock = FakeClock(1_800_000_000.123456789)
    with tempfile.TemporaryDirectory() as tmp, Queue(Path(tmp) / "q.sqlite3", clock=clock) as q:
        q.add_sender("@example.com")
        # Twins: each message of the plan twice; one is recorded on its own, the other in the batch.
        twins = [(q.enqueue(outgoing(to=ADDRESSES[:n])), q.enqueue(outgoing(to=ADDRESSES[:n]))) for n, *_ in plans]
        plan_of = {mid: plan for plan, pair in zip(plans, twins, strict=True) for mid in pair}
        for msg in q.claim_due("w", 100, 60):
            first = results_for(msg.recipients, plan_of[msg.id][1], [True] * 4)
            q.record_attempts("w", [(msg, Attempt(clock.now(), 0.1, "relay", first), clock.now() + 300)])
        clock.advance(300)
        claimed = {m.id: m for m in q.claim_due("w", 100, 60)}
        alone: list[tuple[int, AttemptOutcome]] = []
        batch: list[tuple[ClaimedMessage, Attempt, float]] = []
        for (_, _, second, keep, error), (a, b) in zip(plans, twins, strict=True):
            if a not in claimed:
                assert b not in claimed  # nothing left pending after the first attempt, for both
                continue
            results = results_for(claimed[b].recipients, second, keep)
            attempt = Attempt(clock.now(), 0.25, "relay:587", results, "dropped" if error else None)
            retry_at = clock.now() + retry
            [(one, _)] = q.record_attempts("w", [(a, attempt, retry_at)])  # by id: the per-message path
            assert isinstance(one, AttemptOutcome)
            alone.append((a, one))
            batch.append((claimed[b], attempt, retry_at))
        recorded = q.record_attempts("w", batch)
        assert len(recorded) == len(batch)
        for (a, one), (msg, _, _), (outcome, _) in zip(alone, batch, recorded, strict=True):
            assert isinstance(outcome, AttemptOutcome)
            assert outcome_view(outcome) == outcome_view(one)
            assert outcome.newly_failed == one.newly_failed  # kinds, codes, replies and times too
            assert state(q, msg.id) == state(q, a)
            assert attempts_log(Path(tmp) / "q.sqlite3", msg.id) == attempts_log(Path(tmp) / "q.sqlite3", a)


def test_a_large_batch_costs_a_bounded_number_of_statements(authorized: Queue, clock: FakeClock) -> None:
    mids = [authorized.enqueue(outgoing(to=["a@example.org", "b@example.org"])) for _ in range(150)]
    claimed = authorized.claim_due("w", 150, 60)
    assert [m.id for m in claimed] == mids
    items = []
    for i, msg in enumerate(claimed):
        b = RecipientStatus.FAILED if i % 10 == 0 else RecipientStatus.DELIVERED
        results = (
            RecipientResult("a@example.org", RecipientStatus.DELIVERED, 250, "250 ok"),
            RecipientResult("b@example.org", b, 550 if b == RecipientStatus.FAILED else 250, "reply"),
        )
        items.append((msg, Attempt(clock.now(), 0.1, "relay", results), clock.now() + 300))
    statements: list[str] = []
    authorized.conn.set_trace_callback(statements.append)
    try:
        recorded = authorized.record_attempts("w", items)
    finally:
        authorized.conn.set_trace_callback(None)
    # 150 messages, 300 recipients: chunks of 64/32/16/... for each kind of row, not a few statements each.
    # (A trigger's statements run inside the statement that fired them, with no GIL hand-over; Python's trace
    # repeats that statement's text once for each: collapsed here.)
    top_level = [s for i, s in enumerate(statements) if i == 0 or s != statements[i - 1]]
    assert len(top_level) < 30, top_level
    assert len(statements) > len(top_level)  # the event triggers did fire
    statuses = [r[0].status for r in recorded if isinstance(r[0], AttemptOutcome)]
    assert statuses == [Status.BOUNCED if i % 10 == 0 else Status.SENT for i in range(150)]
    failed = [r[0].newly_failed for r in recorded if isinstance(r[0], AttemptOutcome)]
    assert [len(f) for f in failed] == [1 if i % 10 == 0 else 0 for i in range(150)]
    assert failed[0][0].address == "b@example.org" and failed[0][0].kind == "to" and failed[0][0].code == 550


def test_a_lost_lease_in_the_batch_is_told_and_the_rest_are_recorded(authorized: Queue, clock: FakeClock) -> None:
    mids = [authorized.enqueue(outgoing(to=f"r{i}@example.org")) for i in range(3)]
    claimed = authorized.claim_due("w", 3, 60)
    with sqlite3.connect(authorized.path) as other:  # another worker took the middle one over
        other.execute("UPDATE messages SET lease_owner = 'other' WHERE id = ?", (mids[1],))
    items = [
        (m, Attempt(clock.now(), 0.1, "relay", (RecipientResult(m.recipients[0], "delivered", 250, "ok"),)), None)
        for m in claimed
    ]
    items = [(m, a, clock.now() + 300) for m, a, _ in items]
    recorded = authorized.record_attempts("w", items)
    assert isinstance(recorded[0][0], AttemptOutcome) and recorded[0][0].status == Status.SENT
    assert isinstance(recorded[1][0], LeaseLostError)
    assert isinstance(recorded[2][0], AttemptOutcome) and recorded[2][0].status == Status.SENT
    middle = authorized.get_message(mids[1]).summary
    assert (middle.status, middle.attempts) == (Status.SENDING, 0)
