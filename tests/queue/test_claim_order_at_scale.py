"""claim_due reads each partial index in due order and stops at the limit; the merged order must stay right."""

from __future__ import annotations

from mailgui.clock import FakeClock
from mailgui.queue import Queue

from .helpers import outgoing


def test_claims_merge_due_messages_and_expired_leases_by_due_time(authorized: Queue, clock: FakeClock) -> None:
    start = clock.now()
    # Ten messages due at start+0, +10, ..., +90 (enqueued in reverse, so id order is not due order).
    due = {
        authorized.enqueue(outgoing(subject=f"d{i}"), not_before=start + 10 * i): start + 10 * i
        for i in reversed(range(10))
    }
    clock.set(start + 25)
    leased = authorized.claim_due("dead-worker", 3, 40)  # due at +0, +10, +20; their leases run out at +65
    assert sorted(due[m.id] - start for m in leased) == [0, 10, 20]
    clock.set(start + 100)
    got = authorized.claim_due("w2", 5, 60)
    # Due: +30, +40, +50, +60 (waiting), then the three leases that ran out together at +65 (lowest id first:
    # d2, as they were enqueued in reverse), then +70, +80.
    assert sorted(m.subject for m in got) == ["d2", "d3", "d4", "d5", "d6"]
    assert sorted(m.subject for m in authorized.claim_due("w2", 4, 60)) == ["d0", "d1", "d7", "d8"]
    assert [m.subject for m in authorized.claim_due("w2", 10, 60)] == ["d9"]
    assert authorized.claim_due("w2", 10, 60) == []


def test_a_small_limit_among_many_due_messages_takes_the_earliest(authorized: Queue, clock: FakeClock) -> None:
    start = clock.now()
    ids = [authorized.enqueue(outgoing(subject=f"m{i}"), not_before=start + (i * 7919) % 500) for i in range(500)]
    clock.set(start + 1000)
    got = authorized.claim_due("w", 16, 60)
    want = sorted(ids, key=lambda i: ((ids.index(i) * 7919) % 500, i))[:16]
    assert sorted(m.id for m in got) == sorted(want)
