"""Enqueue: one row per message and per recipient, durable on return, only from authorized senders."""

from __future__ import annotations

import pytest

from mailgui.clock import FakeClock
from mailgui.errors import InvalidSenderError
from mailgui.queue import Queue
from mailgui.queue.rows import DEFAULT_LIFETIME

from .helpers import outgoing


def test_enqueue_stores_message_and_one_row_per_recipient(authorized: Queue, clock: FakeClock) -> None:
    msg = outgoing(to="A <a@example.org>, b@example.org", cc="c@example.org", bcc="d@example.org")
    new_id = authorized.enqueue(msg)
    got = authorized.get_message(new_id)
    s = got.summary
    assert got.raw == msg.raw
    assert (s.message_id, s.sender, s.from_header, s.subject) == (
        msg.message_id,
        "ann@example.com",
        "Ann <ann@example.com>",
        "Hello",
    )
    assert (s.status, s.attempts, s.created_at, s.next_attempt_at) == ("queued", 0, clock.now(), clock.now())
    assert s.expires_at == clock.now() + DEFAULT_LIFETIME
    assert [(r.address, r.kind, r.status) for r in s.recipients] == [
        ("a@example.org", "to", "pending"),
        ("b@example.org", "to", "pending"),
        ("c@example.org", "cc", "pending"),
        ("d@example.org", "bcc", "pending"),
    ]


def test_lifetime_setting_and_not_before_set_the_schedule(authorized: Queue, clock: FakeClock) -> None:
    authorized.set_setting("retry.lifetime", "3600")
    later = clock.now() + 600
    s = authorized.get_message(authorized.enqueue(outgoing(), not_before=later)).summary
    assert s.next_attempt_at == later
    assert s.expires_at == later + 3600
    # A not_before in the past means now.
    s = authorized.get_message(authorized.enqueue(outgoing(), not_before=clock.now() - 100)).summary
    assert s.next_attempt_at == clock.now()


@pytest.mark.parametrize(
    ("pattern", "sender"),
    [
        ("ann@example.com", "ann@example.com"),
        ("ann@example.com", "Ann Smith <ann@EXAMPLE.COM>"),
        ("@example.com", "anyone@example.com"),
        ("@example.com", "Someone Else <x@Example.Com>"),
        ("@example.com", "ann@EXAMPLE.com"),
    ],
)
def test_authorized_sender_by_exact_address_or_domain(queue: Queue, pattern: str, sender: str) -> None:
    queue.add_sender(pattern)
    new_id = queue.enqueue(outgoing(sender=sender))
    assert queue.get_message(new_id).summary.status == "queued"


@pytest.mark.parametrize(
    ("pattern", "sender"),
    [
        ("ann@example.com", "bob@example.com"),
        ("ann@example.com", "Ann@example.com"),  # local parts are compared exactly
        ("@example.com", "ann@mail.example.com"),
        ("@example.com", "ann@example.org"),
        ("@example.com", "ann@badexample.com"),
    ],
)
def test_unauthorized_sender_is_refused_and_not_queued(queue: Queue, pattern: str, sender: str) -> None:
    queue.add_sender(pattern)
    before = queue.data_version()
    with pytest.raises(InvalidSenderError, match=r"^sender: .* is not an authorized sender; .*mailgui senders add"):
        queue.enqueue(outgoing(sender=sender))
    assert queue.count_messages() == 0
    assert queue.conn.execute("SELECT count(*) FROM recipients").fetchone()[0] == 0
    assert queue.data_version() == before


def test_no_authorized_senders_means_no_one_may_send(queue: Queue) -> None:
    with pytest.raises(InvalidSenderError):
        queue.enqueue(outgoing())


def test_a_removed_sender_may_no_longer_send(queue: Queue) -> None:
    assert queue.add_sender("@example.com")
    assert not queue.add_sender("@example.com")  # already there
    queue.enqueue(outgoing())
    assert queue.remove_sender("@example.com")
    assert not queue.remove_sender("@example.com")
    with pytest.raises(InvalidSenderError):
        queue.enqueue(outgoing())
    assert queue.count_messages() == 1


def test_is_authorized_matches_the_enqueue_check(queue: Queue) -> None:
    queue.add_sender("@Example.com".lower())
    assert queue.is_authorized("x@EXAMPLE.COM")
    assert not queue.is_authorized("x@example.org")


def test_internal_callers_may_skip_the_sender_check(queue: Queue) -> None:
    assert queue.enqueue(outgoing(), authorize=False) > 0


def test_delivery_report_has_the_null_sender_and_points_to_its_message(authorized: Queue) -> None:
    parent = authorized.enqueue(outgoing())
    report = authorized.enqueue_report(
        parent_id=parent, message_id="<r@example.com>", recipient="ann@example.com", subject="Undelivered", raw=b"x"
    )
    s = authorized.get_message(report).summary
    assert (s.sender, s.kind, s.parent_id, s.from_header) == ("", "report", parent, "MAILER-DAEMON")
    assert [r.address for r in s.recipients] == ["ann@example.com"]
    assert authorized.get_message(parent).report_ids == (report,)
