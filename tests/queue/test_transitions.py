"""State changes after a claim and by the user: attempts, retries, expiry, release, cancel, requeue, delete."""

from __future__ import annotations

import pytest

from mailgui.clock import FakeClock
from mailgui.errors import LeaseLostError, QueueError, UnknownMessageError
from mailgui.queue import Attempt, Queue, RecipientResult

from .helpers import outgoing

TO = "a@example.org, b@example.org, c@example.org"


def result(addr: str, status: str, code: int | None = 250, reply: str = "ok") -> RecipientResult:
    return RecipientResult(f"{addr}@example.org", status, code, reply)


def claimed(q: Queue, to: str = TO, owner: str = "w") -> int:
    new_id = q.enqueue(outgoing(to=to))
    (m,) = q.claim_due(owner, 1, 60)
    assert m.id == new_id
    return new_id


def statuses(q: Queue, message_id: int) -> dict[str, str]:
    return {r.address.split("@")[0]: r.status for r in q.get_message(message_id).summary.recipients}


def test_mixed_outcomes_defer_the_pending_and_keep_each_recipients_result(authorized: Queue, clock: FakeClock) -> None:
    mid = claimed(authorized)
    attempt = Attempt(
        clock.now(),
        1.5,
        "smtp.example.com:587",
        (result("a", "delivered"), result("b", "pending", 451, "greylisted"), result("c", "failed", 550, "unknown")),
    )
    retry = clock.now() + 300
    out = authorized.record_attempt(mid, "w", attempt, retry_at=retry)
    assert out.status == "deferred"
    assert out.pending == ("b@example.org",)
    assert [(r.address, r.status, r.code, r.kind) for r in out.newly_failed] == [("c@example.org", "failed", 550, "to")]
    s = authorized.get_message(mid).summary
    assert (s.status, s.attempts, s.next_attempt_at, s.last_code, s.last_reply) == (
        "deferred",
        1,
        retry,
        451,
        "greylisted",
    )
    assert statuses(authorized, mid) == {"a": "delivered", "b": "pending", "c": "failed"}
    (log,) = authorized.get_message(mid).attempts
    assert (log.relay, log.duration, log.started_at) == ("smtp.example.com:587", 1.5, clock.now())
    assert [(r.address, r.status, r.code, r.reply) for r in log.results] == [
        ("a@example.org", "delivered", 250, "ok"),
        ("b@example.org", "pending", 451, "greylisted"),
        ("c@example.org", "failed", 550, "unknown"),
    ]


def test_all_delivered_is_sent(authorized: Queue, clock: FakeClock) -> None:
    mid = claimed(authorized)
    out = authorized.record_attempt(
        mid, "w", Attempt(clock.now(), 1, "r", tuple(result(x, "delivered") for x in "abc")), retry_at=clock.now() + 1
    )
    assert out.status == "sent" and out.pending == () and out.newly_failed == ()
    assert authorized.get_message(mid).summary.status == "sent"
    assert authorized.claim_due("w", 10, 60) == []


def test_a_failed_recipient_with_none_pending_is_bounced(authorized: Queue, clock: FakeClock) -> None:
    mid = claimed(authorized, to="a@example.org, b@example.org")
    out = authorized.record_attempt(
        mid, "w", Attempt(clock.now(), 1, "r", (result("a", "delivered"), result("b", "failed", 550))), None
    )
    assert out.status == "bounced"
    assert authorized.get_message(mid).summary.status == "bounced"


def test_retry_at_none_expires_the_pending_recipients(authorized: Queue, clock: FakeClock) -> None:
    mid = claimed(authorized)
    out = authorized.record_attempt(
        mid,
        "w",
        Attempt(clock.now(), 1, "r", (result("a", "delivered"), result("b", "pending", 451, "later"))),
        retry_at=None,
    )
    assert out.status == "bounced"
    assert out.pending == ()
    # b got a 4xx on the last try; c was not reported on by this attempt: both expire, both are reported.
    assert [(r.address, r.status) for r in out.newly_failed] == [
        ("b@example.org", "expired"),
        ("c@example.org", "expired"),
    ]
    assert statuses(authorized, mid) == {"a": "delivered", "b": "expired", "c": "expired"}


def test_a_whole_transaction_error_is_logged_and_shown_as_the_last_reply(authorized: Queue, clock: FakeClock) -> None:
    mid = claimed(authorized, to="a@example.org")
    authorized.record_attempt(
        mid,
        "w",
        Attempt(clock.now(), 30, "r", (result("a", "pending", None, ""),), error="timeout connecting"),
        retry_at=clock.now() + 60,
    )
    s = authorized.get_message(mid).summary
    assert (s.status, s.last_code, s.last_reply) == ("deferred", None, "timeout connecting")
    assert authorized.get_message(mid).attempts[0].error == "timeout connecting"


def test_attempts_after_the_lease_is_lost_or_for_unknown_messages_are_refused(authorized: Queue) -> None:
    mid = claimed(authorized, owner="w1")
    attempt = Attempt(0, 0, "r", ())
    with pytest.raises(LeaseLostError):
        authorized.record_attempt(mid, "other", attempt, None)
    authorized.release(mid, "w1")
    with pytest.raises(LeaseLostError):
        authorized.record_attempt(mid, "w1", attempt, None)
    with pytest.raises(UnknownMessageError, match=r"^id: no message 999"):
        authorized.record_attempt(999, "w1", attempt, None)
    assert authorized.get_message(mid).attempts == ()


def test_release_puts_the_message_back_at_once(authorized: Queue, clock: FakeClock) -> None:
    mid = claimed(authorized)
    authorized.release(mid, "someone-else")  # not theirs: nothing happens
    assert authorized.get_message(mid).summary.status == "sending"
    authorized.release(mid, "w")
    assert authorized.get_message(mid).summary.status == "queued"
    (_claimed,) = authorized.claim_due("w", 1, 60)
    authorized.record_attempt(
        mid, "w", Attempt(clock.now(), 1, "r", (result("a", "pending", 451),)), retry_at=clock.now() + 1
    )
    clock.advance(1)
    authorized.claim_due("w", 1, 60)
    authorized.release(mid, "w")
    assert authorized.get_message(mid).summary.status == "deferred"  # it has been tried before


def test_release_all_gives_back_only_that_owners_leases(authorized: Queue) -> None:
    a = claimed(authorized, owner="w1")
    b = claimed(authorized, owner="w2")
    assert authorized.release_all("w1") == 1
    assert authorized.get_message(a).summary.status == "queued"
    assert authorized.get_message(b).summary.status == "sending"


def test_release_all_keeps_the_leases_it_is_told_to_keep(authorized: Queue) -> None:
    # A worker that sent these but could not record them: given back, they would be sent again at once.
    sent_unrecorded, unsent = claimed(authorized, owner="w"), claimed(authorized, owner="w")
    assert authorized.release_all("w", keep={sent_unrecorded}) == 1
    assert authorized.get_message(sent_unrecorded).summary.status == "sending"
    assert authorized.get_message(unsent).summary.status == "queued"


def test_cancel_stops_a_waiting_message_only(authorized: Queue, clock: FakeClock) -> None:
    queued = authorized.enqueue(outgoing(to="a@example.org"))
    authorized.cancel(queued)
    assert authorized.get_message(queued).summary.status == "cancelled"
    assert statuses(authorized, queued) == {"a": "cancelled"}
    assert authorized.claim_due("w", 10, 60) == []

    sending = claimed(authorized, to="a@example.org")
    with pytest.raises(QueueError, match=f"^id: message {sending} is sending; only queued or deferred"):
        authorized.cancel(sending)
    authorized.record_attempt(sending, "w", Attempt(clock.now(), 1, "r", (result("a", "delivered"),)), None)
    with pytest.raises(QueueError, match="is sent"):
        authorized.cancel(sending)
    with pytest.raises(UnknownMessageError):
        authorized.cancel(12345)


def test_cancel_a_deferred_message(authorized: Queue, clock: FakeClock) -> None:
    mid = claimed(authorized, to="a@example.org")
    authorized.record_attempt(mid, "w", Attempt(clock.now(), 1, "r", (result("a", "pending", 451),)), clock.now() + 9)
    authorized.cancel(mid)
    assert authorized.get_message(mid).summary.status == "cancelled"


def test_requeue_a_bounced_message_restores_failed_recipients_and_lifetime(authorized: Queue, clock: FakeClock) -> None:
    mid = claimed(authorized, to="a@example.org, b@example.org")
    authorized.record_attempt(
        mid, "w", Attempt(clock.now(), 1, "r", (result("a", "delivered"), result("b", "failed", 550))), None
    )
    clock.advance(1000)
    authorized.requeue(mid)
    s = authorized.get_message(mid).summary
    assert (s.status, s.next_attempt_at) == ("queued", clock.now())
    assert s.expires_at > clock.now() + 4 * 86400
    assert statuses(authorized, mid) == {"a": "delivered", "b": "pending"}
    (again,) = authorized.claim_due("w", 1, 60)
    assert again.recipients == ("b@example.org",)


def test_requeue_a_cancelled_or_deferred_message_sends_it_now(authorized: Queue, clock: FakeClock) -> None:
    deferred = claimed(authorized, to="b@example.org")
    cancelled = authorized.enqueue(outgoing(to="a@example.org"))
    authorized.cancel(cancelled)
    authorized.requeue(cancelled)
    assert statuses(authorized, cancelled) == {"a": "pending"}
    authorized.requeue(cancelled)  # still queued: requeue again is harmless
    authorized.record_attempt(
        deferred, "w", Attempt(clock.now(), 1, "r", (result("b", "pending", 451),)), clock.now() + 3600
    )
    authorized.requeue(deferred)
    assert authorized.get_message(deferred).summary.next_attempt_at == clock.now()
    assert {m.id for m in authorized.claim_due("w", 10, 60)} == {cancelled, deferred}


def test_requeue_refuses_sent_or_sending(authorized: Queue, clock: FakeClock) -> None:
    mid = claimed(authorized, to="a@example.org")
    with pytest.raises(QueueError, match="is sending; it cannot be retried"):
        authorized.requeue(mid)
    authorized.record_attempt(mid, "w", Attempt(clock.now(), 1, "r", (result("a", "delivered"),)), None)
    with pytest.raises(QueueError, match="is sent; it cannot be retried"):
        authorized.requeue(mid)
    with pytest.raises(UnknownMessageError):
        authorized.requeue(4242)


def test_delete_removes_messages_with_their_rows_but_not_one_being_sent(authorized: Queue, clock: FakeClock) -> None:
    keep = claimed(authorized, to="a@example.org")
    gone = authorized.enqueue(outgoing(to="a@example.org"))
    done = authorized.enqueue(outgoing(to="a@example.org"))
    assert authorized.delete([keep, gone, done]) == 2
    assert [m.id for m in authorized.list_messages()] == [keep]
    assert authorized.conn.execute("SELECT count(*) FROM recipients WHERE message_id != ?", (keep,)).fetchone()[0] == 0
    with pytest.raises(UnknownMessageError):
        authorized.get_message(gone)


def test_mark_warned_is_recorded_and_cleared_by_requeue(authorized: Queue, clock: FakeClock) -> None:
    mid = claimed(authorized, to="a@example.org")
    authorized.mark_warned(mid)
    authorized.record_attempt(mid, "w", Attempt(clock.now(), 1, "r", (result("a", "pending", 451),)), clock.now())
    (m,) = authorized.claim_due("w", 1, 60)
    assert m.warned_at == clock.now()
    authorized.release(mid, "w")
    authorized.requeue(mid)
    (m,) = authorized.claim_due("w", 1, 60)
    assert m.warned_at is None
