"""Claiming due messages with a lease: order, limits, schedules, and no message held by two owners."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from mailgui.clock import FakeClock
from mailgui.errors import LeaseLostError
from mailgui.queue import Attempt, Queue, RecipientResult

from .helpers import outgoing


def test_claim_leases_due_messages_oldest_due_first_up_to_the_limit(authorized: Queue, clock: FakeClock) -> None:
    late = authorized.enqueue(outgoing(subject="late"), not_before=clock.now() + 10)
    first = authorized.enqueue(outgoing(subject="first"))
    second = authorized.enqueue(outgoing(subject="second"))
    clock.advance(10)
    got = authorized.claim_due("w1", 2, 60)
    assert [m.id for m in got] == [first, second]
    assert [m.subject for m in got] == ["first", "second"]
    for m in authorized.list_messages():
        assert m.status == ("queued" if m.id == late else "sending")
    assert [m.id for m in authorized.claim_due("w1", 10, 60)] == [late]
    assert authorized.claim_due("w1", 10, 60) == []


def test_claimed_message_carries_what_the_worker_needs(authorized: Queue, clock: FakeClock) -> None:
    msg = outgoing(to="zed@example.org, amy@example.org", bcc="mid@example.org")  # not alphabetical
    new_id = authorized.enqueue(msg)
    (c,) = authorized.claim_due("w1", 1, 60)
    assert (c.id, c.message_id, c.sender, c.raw, c.smtputf8) == (
        new_id,
        msg.message_id,
        "ann@example.com",
        msg.raw,
        False,
    )
    assert c.recipients == ("zed@example.org", "amy@example.org", "mid@example.org")  # in the order given
    assert (c.attempts, c.created_at, c.kind, c.parent_id, c.warned_at) == (0, clock.now(), "normal", None, None)
    row = authorized.conn.execute(
        "SELECT lease_owner, lease_expires_at FROM messages WHERE id = ?", (new_id,)
    ).fetchone()
    assert row == ("w1", clock.now() + 60)


def test_not_before_is_respected_and_reported_by_next_due_at(authorized: Queue, clock: FakeClock) -> None:
    assert authorized.next_due_at() is None
    at = clock.now() + 300
    authorized.enqueue(outgoing(), not_before=at)
    assert authorized.next_due_at() == at
    clock.advance(299)
    assert authorized.claim_due("w", 10, 60) == []
    clock.advance(1)
    assert len(authorized.claim_due("w", 10, 60)) == 1
    assert authorized.next_due_at() == clock.now() + 60  # the lease expiry is the next thing due


def test_a_leased_message_is_not_claimed_by_another_owner(authorized: Queue) -> None:
    authorized.enqueue(outgoing())
    assert len(authorized.claim_due("w1", 10, 60)) == 1
    assert authorized.claim_due("w2", 10, 60) == []


def test_an_expired_lease_is_reclaimed_by_another_owner_and_the_first_loses_it(
    authorized: Queue, clock: FakeClock
) -> None:
    new_id = authorized.enqueue(outgoing())
    authorized.claim_due("w1", 10, 60)
    clock.advance(59)
    assert authorized.claim_due("w2", 10, 60) == []
    clock.advance(1)
    (again,) = authorized.claim_due("w2", 10, 60)
    assert again.id == new_id
    attempt = Attempt(clock.now(), 0.1, "relay", (RecipientResult("bob@example.org", "delivered", 250, "ok"),))
    with pytest.raises(LeaseLostError, match=f"message {new_id}: lease held by 'w2', not 'w1'"):
        authorized.record_attempt(new_id, "w1", attempt, retry_at=None)
    with pytest.raises(LeaseLostError):
        authorized.extend_lease(new_id, "w1", 60)
    assert authorized.record_attempt(new_id, "w2", attempt, retry_at=None).status == "sent"


def test_extending_the_lease_keeps_the_message(authorized: Queue, clock: FakeClock) -> None:
    new_id = authorized.enqueue(outgoing())
    authorized.claim_due("w1", 10, 60)
    clock.advance(50)
    authorized.extend_lease(new_id, "w1", 60)
    clock.advance(50)
    assert authorized.claim_due("w2", 10, 60) == []
    clock.advance(11)
    assert [m.id for m in authorized.claim_due("w2", 10, 60)] == [new_id]


def test_two_owners_on_separate_connections_never_hold_the_same_message(authorized: Queue, db_path: Path) -> None:
    ids = {authorized.enqueue(outgoing(subject=str(i))) for i in range(200)}
    got: dict[str, list[int]] = {"a": [], "b": []}
    errors: list[BaseException] = []

    def work(owner: str) -> None:
        try:
            with Queue(db_path, clock=authorized.clock) as q:
                while batch := q.claim_due(owner, 3, 600):
                    got[owner].extend(m.id for m in batch)
        except BaseException as exc:  # reported below; a thread cannot raise into the test
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(owner,)) for owner in got]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert not set(got["a"]) & set(got["b"])
    assert len(got["a"]) + len(got["b"]) == 200
    assert set(got["a"]) | set(got["b"]) == ids
    owners = dict(authorized.conn.execute("SELECT id, lease_owner FROM messages").fetchall())
    assert all(owners[i] == "a" for i in got["a"]) and all(owners[i] == "b" for i in got["b"])


def test_only_pending_recipients_are_claimed_again(authorized: Queue, clock: FakeClock) -> None:
    new_id = authorized.enqueue(outgoing(to="a@example.org, b@example.org, c@example.org"))
    authorized.claim_due("w", 1, 60)
    results = (
        RecipientResult("a@example.org", "delivered", 250, "ok"),
        RecipientResult("b@example.org", "pending", 451, "try later"),
        RecipientResult("c@example.org", "failed", 550, "no such user"),
    )
    authorized.record_attempt(new_id, "w", Attempt(clock.now(), 1.0, "relay", results), retry_at=clock.now() + 300)
    assert authorized.claim_due("w", 1, 60) == []
    clock.advance(300)
    (again,) = authorized.claim_due("w", 1, 60)
    assert again.recipients == ("b@example.org",)
    assert again.attempts == 1


def test_a_message_whose_bytes_are_missing_is_not_leased(authorized: Queue, clock: FakeClock) -> None:
    damaged = authorized.enqueue(outgoing(subject="damaged"))
    whole = authorized.enqueue(outgoing(subject="whole"))
    with authorized.conn:  # what a damaged file could hold: a message row without its body row
        authorized.conn.execute("DELETE FROM bodies WHERE id = ?", (damaged,))
    assert [m.id for m in authorized.claim_due("w1", 10, 60)] == [whole]
    clock.advance(61)
    assert [m.id for m in authorized.claim_due("w2", 10, 60)] == [whole]  # the expired lease: again only that one
    detail = authorized.get_message(damaged)  # still shown (without its bytes), still queued
    assert (detail.summary.status, detail.raw) == ("queued", b"")
