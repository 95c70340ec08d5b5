"""A queue holding messages in every state, made through the queue's own API (no SQL), for the view tests."""

from __future__ import annotations

from dataclasses import dataclass

from mailgui.clock import FakeClock
from mailgui.message import MessageFields, build_message
from mailgui.queue import Attempt, Queue, RecipientResult


@dataclass
class Varied:
    queued: int
    sent: int
    deferred: int
    bounced: int
    cancelled: int
    report: int  # the delivery report sent about ``bounced``


def enqueue(queue: Queue, clock: FakeClock, i: int, to: list[str] | None = None, subject: str | None = None, **kw):
    fields = MessageFields(
        sender="Alice Example <alice@example.com>",
        to=to or [f"bob{i}@example.org"],
        subject=subject if subject is not None else f"Quarterly report {i}",
        body=f"Hello Bob,\n\nthe figures for quarter {i} are attached.\n\nAlice\n",
        **kw,
    )
    return queue.enqueue(build_message(fields, now=clock.now()))


def attempt(queue: Queue, clock: FakeClock, mid: int, results: list[tuple[str, str, int, str]], retry_at=None):
    [claimed] = [c for c in queue.claim_due("test-worker", 100, 60) if c.id == mid] or [None]
    assert claimed is not None, f"message {mid} was not due"
    return queue.record_attempt(
        mid,
        "test-worker",
        Attempt(clock.now(), 0.4, "127.0.0.1:2525", tuple(RecipientResult(*r) for r in results)),
        retry_at,
    )


def fill_varied(queue: Queue, clock: FakeClock) -> Varied:
    """One message in each state: queued, sent, deferred (retry in 4 min), bounced (with a report), cancelled."""
    queue.add_sender("@example.com")
    sent = enqueue(queue, clock, 1, to=["carol@example.org", "dave@example.net"], subject="Minutes of Monday's meeting")
    attempt(
        queue,
        clock,
        sent,
        [
            ("carol@example.org", "delivered", 250, "2.0.0 Ok: queued as 4F2A1"),
            ("dave@example.net", "delivered", 250, "2.0.0 Ok: queued as 4F2A2"),
        ],
    )
    clock.advance(60)
    deferred = enqueue(queue, clock, 2, to=["erin@slow.example.net"], subject="Invoice 2026-114")
    attempt(
        queue,
        clock,
        deferred,
        [("erin@slow.example.net", "pending", 451, "4.3.0 Try again later")],
        retry_at=clock.now() + 240,
    )
    clock.advance(60)
    bounced = enqueue(
        queue,
        clock,
        3,
        to=["nobody@example.org"],
        subject="Welcome aboard",
        html='<p>Welcome! <img src="https://tracker.invalid/pixel.gif"></p>',
    )
    attempt(queue, clock, bounced, [("nobody@example.org", "failed", 550, "5.1.1 <nobody@example.org>: User unknown")])
    report = queue.enqueue_report(
        parent_id=bounced,
        message_id="<report-1@example.com>",
        recipient="alice@example.com",
        subject="Undelivered Mail Returned to Sender",
        raw=(
            b"From: Mail Delivery System <MAILER-DAEMON@example.com>\r\nTo: alice@example.com\r\n"
            b"Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
            b"Your message to nobody@example.org could not be delivered: 550 5.1.1 User unknown\r\n"
        ),
    )
    clock.advance(60)
    cancelled = enqueue(queue, clock, 4, subject="Draft plan (do not send)")
    queue.cancel(cancelled)
    clock.advance(60)
    queued = enqueue(
        queue,
        clock,
        5,
        to=["frank@example.org", "grace@example.org", "heidi@example.org"],
        subject="Team lunch on Friday",
    )
    return Varied(queued=queued, sent=sent, deferred=deferred, bounced=bounced, cancelled=cancelled, report=report)
