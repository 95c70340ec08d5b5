"""End to end: Mail API → queue → delivery worker → built-in relay → mailbox / bounce report to the sender.

Every reserved address, with the retry schedule checked on the injected clock (no jitter, default policy:
300 s, then doubling). Nothing sleeps: the clock is advanced and the worker run once per step.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mailgui import mail
from mailgui.clock import FakeClock
from mailgui.delivery import RelayBackoff, RetryPolicy, Worker, local_relay_target
from mailgui.queue import MailboxEntry, Queue, RecipientStatus, Status
from mailgui.relay import RESERVED_DOMAIN, LocalRelay
from tests.logfail import expect_relay_failures
from tests.relay.client import SlowGate

ME = "you@localhost"


def sim(local: str) -> str:
    return f"{local}@{RESERVED_DOMAIN}"


@pytest.fixture
def api_queue(queue: Queue, db_path: Path, clock: FakeClock) -> Queue:
    """The queue the Mail API writes to (same file), on the test's clock; you@localhost may send."""
    queue.add_sender(ME)
    mail.open_queue(db_path, clock=clock)
    return queue


@pytest.fixture
async def worker(api_queue: Queue, clock: FakeClock, relay: LocalRelay) -> AsyncIterator[Worker]:
    w = Worker(
        api_queue,
        clock=clock,
        relay=local_relay_target(relay.port, timeout=10.0, connections=2),
        owner="e2e",
        policy=RetryPolicy(jitter=0.0),
        relay_backoff=RelayBackoff(jitter=0.0),
        rng=random.Random(5),
        reporting_mta="mailgui.test",
    )
    yield w
    await w.aclose()


def send(to: str | list[str], subject: str = "Hello") -> int:
    return mail.send_mail(sender=f"You <{ME}>", to=to, subject=subject, body="Hi,\n\nthis is a test.\n")


def status(queue: Queue, mid: int) -> tuple[str, int, float | None]:
    s = queue.get_message(mid).summary
    return s.status, s.attempts, s.next_attempt_at if s.status == Status.DEFERRED else None


def arrived(queue: Queue) -> list[MailboxEntry]:
    return list(reversed(queue.list_mailbox()))


def report_fields(raw: bytes) -> tuple[dict[str, str], list[str]]:
    """The per-recipient fields of a delivery report and its parts' types, read as a mail client would."""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    assert msg.get_content_type() == "multipart/report"
    parts = msg.get_payload()
    assert isinstance(parts, list)
    status_part = next(p for p in parts if p.get_content_type() == "message/delivery-status")
    blocks = status_part.get_payload()
    fields = {k.lower(): " ".join(str(v).split()) for k, v in blocks[1].items()}
    return fields, [p.get_content_type() for p in parts]


async def test_success_and_an_ordinary_address_are_sent_and_arrive_byte_for_byte(
    worker: Worker, api_queue: Queue, clock: FakeClock
) -> None:
    mid = send([sim("success"), "friend@example.org"])
    assert await worker.run_once() == 1
    assert status(api_queue, mid) == (Status.SENT, 1, None)
    [entry] = arrived(api_queue)
    assert entry.mail_from == ME
    assert entry.rcpt_to == (sim("success"), "friend@example.org")
    assert entry.received_at == clock.now()
    assert api_queue.get_received(entry.id).raw == api_queue.get_message(mid).raw


@pytest.mark.parametrize(
    ("local", "code", "enhanced", "reply"),
    [
        ("bounce", 550, "5.1.1", "550 5.1.1 <bounce@simulator.mailgui.test>: Recipient address rejected: User unknown"),
        ("full", 552, "5.2.2", "552 5.2.2 <full@simulator.mailgui.test>: Recipient address rejected: Mailbox full"),
    ],
)
async def test_permanent_refusal_bounces_and_the_report_reaches_the_senders_mailbox(
    worker: Worker, api_queue: Queue, local: str, code: int, enhanced: str, reply: str
) -> None:
    mid = send(sim(local), subject="Doomed")
    await worker.run_once()  # the message, then the report it caused, in one pass
    assert status(api_queue, mid) == (Status.BOUNCED, 1, None)
    [recipient] = api_queue.get_message(mid).summary.recipients
    assert (recipient.status, recipient.code) == (RecipientStatus.FAILED, code)
    assert [(b.message_id, b.address) for b in api_queue.list_bounces()] == [(mid, sim(local))]
    [report_id] = api_queue.get_message(mid).report_ids
    assert status(api_queue, report_id) == (Status.SENT, 1, None)

    [entry] = arrived(api_queue)  # the refused message never arrived; its report did
    assert entry.mail_from == ""  # null reverse-path
    assert entry.rcpt_to == (ME,)
    fields, parts = report_fields(api_queue.get_received(entry.id).raw)
    assert parts[:2] == ["text/plain", "message/delivery-status"]
    assert fields["final-recipient"].lower() == f"rfc822; {sim(local)}"
    assert fields["action"] == "failed"
    assert fields["status"] == enhanced
    assert fields["diagnostic-code"] == f"smtp; {reply}"


async def test_tempfail_is_retried_on_schedule_and_sent_on_the_third_attempt(
    worker: Worker, api_queue: Queue, clock: FakeClock
) -> None:
    t0 = clock.now()
    mid = send(sim("tempfail"))
    await worker.run_once()
    assert status(api_queue, mid) == (Status.DEFERRED, 1, t0 + 300)
    clock.advance(299)
    assert await worker.run_once() == 0  # not due yet
    clock.advance(1)
    await worker.run_once()
    assert status(api_queue, mid) == (Status.DEFERRED, 2, t0 + 300 + 600)
    clock.advance(599)
    assert await worker.run_once() == 0
    clock.advance(1)
    await worker.run_once()
    assert status(api_queue, mid) == (Status.SENT, 3, None)
    attempts = api_queue.get_message(mid).attempts
    assert [a.started_at - t0 for a in attempts] == [0, 300, 900]
    assert [a.results[0].code for a in attempts] == [451, 451, 250]
    assert attempts[0].results[0].reply.startswith("4.3.0 <tempfail@simulator.mailgui.test>: Temporary lookup")
    assert len(arrived(api_queue)) == 1
    assert api_queue.get_message(mid).report_ids == ()  # a delay is not reported (bounce.delay_warning is off)

    # The next message sees the two failures again: the counter starts over after a success.
    second = send(sim("tempfail"), subject="Again")
    await worker.run_once()
    assert status(api_queue, second) == (Status.DEFERRED, 1, clock.now() + 300)


async def test_greylist_defers_the_first_message_from_a_sender_once(
    worker: Worker, api_queue: Queue, clock: FakeClock
) -> None:
    t0 = clock.now()
    first = send(sim("greylist"))
    await worker.run_once()
    assert status(api_queue, first) == (Status.DEFERRED, 1, t0 + 300)
    [attempt] = api_queue.get_message(first).attempts
    assert (attempt.results[0].code, attempt.results[0].reply[:5]) == (450, "4.2.0")
    clock.advance(300)
    await worker.run_once()
    assert status(api_queue, first) == (Status.SENT, 2, None)
    second = send(sim("greylist"), subject="Later")
    await worker.run_once()
    assert status(api_queue, second) == (Status.SENT, 1, None)
    assert [e.subject for e in arrived(api_queue)] == ["Hello", "Later"]


async def test_slow_is_sent_once_the_relay_answers(
    worker: Worker, api_queue: Queue, slow_gate: SlowGate, clock: FakeClock
) -> None:
    mid = send(sim("slow"))
    running = asyncio.create_task(worker.run_once())
    try:
        await asyncio.wait_for(slow_gate.waiting.wait(), 10)
        assert slow_gate.requested == [7.5]
        assert status(api_queue, mid)[0] == Status.SENDING
        assert arrived(api_queue) == []
        slow_gate.released.set()
        assert await asyncio.wait_for(running, 10) == 1
    finally:
        slow_gate.released.set()
        await asyncio.gather(running, return_exceptions=True)
    assert status(api_queue, mid) == (Status.SENT, 1, None)
    assert len(arrived(api_queue)) == 1


@expect_relay_failures
async def test_disconnect_defers_once_then_is_sent(worker: Worker, api_queue: Queue, clock: FakeClock) -> None:
    t0 = clock.now()
    mid = send([sim("disconnect"), "friend@example.org"])
    await worker.run_once()
    assert status(api_queue, mid) == (Status.DEFERRED, 1, t0 + 300)
    [attempt] = api_queue.get_message(mid).attempts
    assert attempt.error  # the whole transaction failed: both recipients stay pending
    assert {r.status for r in api_queue.get_message(mid).summary.recipients} == {RecipientStatus.PENDING}
    assert arrived(api_queue) == []
    clock.advance(300)
    await worker.run_once()
    assert status(api_queue, mid) == (Status.SENT, 2, None)
    [entry] = arrived(api_queue)
    assert entry.rcpt_to == (sim("disconnect"), "friend@example.org")


async def test_mixed_recipients_end_bounced_with_per_recipient_detail(
    worker: Worker, api_queue: Queue, clock: FakeClock
) -> None:
    t0 = clock.now()
    mid = send([sim("success"), sim("bounce"), sim("tempfail")])
    await worker.run_once()
    assert status(api_queue, mid) == (Status.DEFERRED, 1, t0 + 300)
    by_address = {r.address: r.status for r in api_queue.get_message(mid).summary.recipients}
    assert by_address == {
        sim("success"): RecipientStatus.DELIVERED,
        sim("bounce"): RecipientStatus.FAILED,
        sim("tempfail"): RecipientStatus.PENDING,
    }
    first = arrived(api_queue)
    assert [e.rcpt_to for e in first] == [(sim("success"),), (ME,)]  # the message, then the bounce report
    clock.advance(300)
    await worker.run_once()
    clock.advance(600)
    await worker.run_once()
    assert status(api_queue, mid) == (Status.BOUNCED, 3, None)
    assert {r.address: r.status for r in api_queue.get_message(mid).summary.recipients}[sim("tempfail")] == (
        RecipientStatus.DELIVERED
    )
    # Retries went only to the recipient still pending.
    assert [e.rcpt_to for e in arrived(api_queue)][2:] == [(sim("tempfail"),)]


async def came_back(relay: LocalRelay, gate: SlowGate) -> None:
    """Let the mail that comes back later come (its wait is the gate's), and wait until it was read."""
    gate.released.set()
    await asyncio.gather(*relay.handler.later)


async def test_late_is_sent_then_bounces_by_mail_and_the_recipient_shows_it_reported_later(
    worker: Worker, api_queue: Queue, relay: LocalRelay, slow_gate: SlowGate
) -> None:
    mid = send([sim("late"), "friend@example.org"], subject="Doomed later")
    await worker.run_once()
    assert status(api_queue, mid) == (Status.SENT, 1, None)  # the relay said 250

    await came_back(relay, slow_gate)

    assert slow_gate.requested == [relay.handler.late_delay]
    states = {r.address: r.status for r in api_queue.get_message(mid).summary.recipients}
    assert states == {sim("late"): RecipientStatus.FAILED, "friend@example.org": RecipientStatus.DELIVERED}
    detail = api_queue.get_message(mid)
    assert (
        detail.attempts[-1].relay.startswith("report #")
        and "received later (local mailbox)" in detail.attempts[-1].relay
    )
    assert [b.address for b in api_queue.list_bounces()] == [sim("late")]
    [report] = api_queue.list_reports()
    assert (report.kind, report.message_id, report.source) == ("bounce", mid, "local mailbox")
    assert [(r.address, r.reason) for r in report.recipients] == [(sim("late"), "unknown_user")]
    assert api_queue.suppression_of(sim("late")) is not None
    # The report is in the mailbox too, to the sender, from the null sender, as a real one would be.
    entry = arrived(api_queue)[-1]
    assert (entry.mail_from, entry.rcpt_to) == ("", (ME,))

    # Later mail to that address is not sent: suppressed, and the sender hears why.
    again = send(sim("late"), subject="Again")
    await worker.run_once()
    [recipient] = api_queue.get_message(again).summary.recipients
    assert recipient.status == RecipientStatus.SUPPRESSED
    assert [
        e.rcpt_to for e in arrived(api_queue) if e.mail_from == ME and b"Again" in api_queue.get_received(e.id).raw
    ] == []


async def test_complaint_is_sent_then_a_complaint_suppresses_the_address(
    worker: Worker, api_queue: Queue, relay: LocalRelay, slow_gate: SlowGate
) -> None:
    mid = send(sim("complaint"))
    await worker.run_once()
    await came_back(relay, slow_gate)
    assert status(api_queue, mid) == (Status.SENT, 1, None)  # a complaint is no bounce: it was delivered
    [report] = api_queue.list_reports()
    assert (report.kind, report.message_id) == ("complaint", mid)
    suppression = api_queue.suppression_of(sim("complaint"))
    assert suppression is not None and suppression.source == "complaint"


async def test_ooto_gets_an_auto_reply_that_is_kept_and_never_counted_as_a_bounce(
    worker: Worker, api_queue: Queue, relay: LocalRelay, slow_gate: SlowGate
) -> None:
    mid = send(sim("ooto"))
    await worker.run_once()
    await came_back(relay, slow_gate)
    assert status(api_queue, mid) == (Status.SENT, 1, None)
    [report] = api_queue.list_reports()
    assert (report.kind, report.message_id, report.recipients) == ("auto_reply", mid, ())  # by its In-Reply-To
    assert api_queue.list_bounces() == [] and api_queue.list_suppressions() == []
    assert b"Out of office" in api_queue.get_received(arrived(api_queue)[-1].id).raw
