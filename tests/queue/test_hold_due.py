"""hold_due: while the relay is backed off, waiting messages show why and when they will be tried."""

from __future__ import annotations

from mailgui.clock import FakeClock
from mailgui.queue import Attempt, Queue, RecipientResult, Status

from .helpers import outgoing

REASON = "relay unreachable: cannot connect to smtp.example.com:587: Connection refused"


def test_due_messages_wait_for_the_relay_in_batches_and_only_once(authorized: Queue, clock: FakeClock) -> None:
    ids = [authorized.enqueue(outgoing(subject=f"m{n}")) for n in range(5)]
    until = clock.now() + 30

    first = authorized.hold_due(until, REASON, None, limit=3)
    second = authorized.hold_due(until, REASON, None, limit=3)
    assert [i for i, _ in first + second] == ids  # due order, in bounded batches
    assert {at for _, at in first + second} == {until}
    assert authorized.hold_due(until, REASON, None, limit=3) == []  # nothing is written twice in one spell

    for mid in ids:
        s = authorized.get_message(mid).summary
        assert (s.status, s.attempts, s.next_attempt_at, s.last_reply) == (Status.DEFERRED, 0, until, REASON)
    assert authorized.claim_due("w", 10, 60) == []  # nothing due before the relay's retry time
    clock.advance(30)
    assert [m.id for m in authorized.claim_due("w", 10, 60)] == ids


def test_held_messages_keep_their_later_retry_their_lease_and_their_lifetime(
    authorized: Queue, clock: FakeClock
) -> None:
    later = authorized.enqueue(outgoing(subject="later"))
    sending = authorized.enqueue(outgoing(subject="sending"))
    expiring = authorized.enqueue(outgoing(subject="expiring"))
    # 'later' failed once and waits an hour; 'sending' is leased to a worker.
    [m] = authorized.claim_due("w", 1, 60)
    assert m.id == later
    result = RecipientResult("bob@example.org", "pending", 451, "4.7.1 greylisted")
    authorized.record_attempt(later, "w", Attempt(clock.now(), 0.1, "r", (result,)), retry_at=clock.now() + 3600)
    [m] = authorized.claim_due("w", 1, 60)
    assert m.id == sending
    authorized.conn.execute("UPDATE messages SET expires_at = ? WHERE id = ?", (clock.now() + 10, expiring))

    held = authorized.hold_due(clock.now() + 30, REASON, 421, limit=10)

    assert held == [(expiring, clock.now() + 10)]  # never held past its lifetime
    assert authorized.get_message(expiring).summary.last_code == 421
    assert authorized.get_message(later).summary.next_attempt_at == clock.now() + 3600
    assert authorized.get_message(later).summary.last_reply == "4.7.1 greylisted"
    assert authorized.get_message(sending).summary.status == Status.SENDING
    assert authorized.hold_due(clock.now() + 30, REASON, 421, limit=10) == []


def test_release_held_makes_only_held_messages_due_again(authorized: Queue, clock: FakeClock) -> None:
    held = [authorized.enqueue(outgoing(subject=f"h{n}")) for n in range(3)]
    authorized.hold_due(clock.now() + 600, "delivery temporarily suspended: " + REASON, None, limit=10)
    waiting = authorized.enqueue(outgoing(subject="own retry"))
    [m] = authorized.claim_due("w", 1, 60)
    assert m.id == waiting
    result = RecipientResult("bob@example.org", "pending", 451, "4.7.1 greylisted")
    authorized.record_attempt(waiting, "w", Attempt(clock.now(), 0.1, "r", (result,)), retry_at=clock.now() + 3600)

    first = authorized.release_held("delivery temporarily suspended: ", limit=2)
    rest = authorized.release_held("delivery temporarily suspended: ", limit=2)
    assert sorted(first + rest) == held and len(first) == 2
    assert authorized.release_held("delivery temporarily suspended: ", limit=2) == []
    assert all(authorized.get_message(i).summary.next_attempt_at == clock.now() for i in held)
    assert authorized.get_message(waiting).summary.next_attempt_at == clock.now() + 3600  # its own retry stays
    assert sorted(m.id for m in authorized.claim_due("w", 10, 60)) == held
