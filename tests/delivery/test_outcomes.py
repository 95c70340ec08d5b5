"""Per-recipient outcomes, message states, retry times and reports, against a real SMTP server."""

from __future__ import annotations

import asyncio
import logging
import re

import pytest

from mailgui.clock import FakeClock
from mailgui.delivery import MessageEvent, Worker
from mailgui.delivery.report import rfc5322_date
from mailgui.message import MessageFields, build_message
from mailgui.queue import Queue, RecipientStatus, Status
from mailgui.settings import Settings
from tests.delivery.conftest import Enqueue
from tests.delivery.helpers import parse_dsn, states
from tests.logfail import expect_relay_failures
from tests.smtpserver import SMTPTestServer

UNKNOWN = "550 5.1.1 <carol@example.org>: Recipient address rejected: User unknown in virtual mailbox table"
LATER = "451 4.3.0 <dave@example.org>: Temporary lookup failure"


async def test_accepted_message_arrives_byte_for_byte_and_ends_sent(
    worker: Worker, authorized: Queue, smtp_server: SMTPTestServer, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    # A leading dot (dot-stuffing), a long line, 8-bit text in a header and body: all must arrive as queued.
    msg = build_message(
        MessageFields(
            sender="Ann <ann@example.com>",
            to=["Bob <bob@example.org>"],
            cc="cc@example.org",
            bcc="hidden@example.org",
            subject="Grüße from the queue",
            body=".a line starting with a dot\n..two dots\n" + "long " * 40 + "\nÜmlauts in the body\n",
        ),
        now=clock.now(),
    )
    mid = authorized.enqueue(msg)
    events: list[object] = []
    worker.subscribe(events.append)

    with caplog.at_level(logging.DEBUG, logger="mailgui.delivery"):
        assert await worker.run_once() == 1
    # The attempt log: which relay, each recipient's code and reply, how long it took.
    logged = [r.getMessage() for r in caplog.records]
    relay = f"127.0.0.1:{smtp_server.port}"
    for rcpt in ("bob@example.org", "cc@example.org", "hidden@example.org"):
        assert any(
            re.fullmatch(
                rf"message {mid} to <{rcpt}> via {relay}: delivered \(250 2\.0\.0 Ok: .*\) in \d+\.\d{{3}} s", m
            )
            for m in logged
        ), logged

    [got] = smtp_server.received
    assert got.data == msg.raw == authorized.get_message(mid).raw
    assert got.mail_from == "ann@example.com"
    assert got.rcpt_tos == ("bob@example.org", "cc@example.org", "hidden@example.org")
    assert b"hidden@example.org" not in got.data  # Bcc stays in the envelope only
    detail = authorized.get_message(mid)
    assert detail.summary.status == Status.SENT
    assert all(r.status == RecipientStatus.DELIVERED and r.code == 250 for r in detail.summary.recipients)
    [attempt] = detail.attempts
    assert attempt.relay == f"127.0.0.1:{smtp_server.port}" and attempt.error is None
    assert attempt.started_at == clock.now() and attempt.duration >= 0
    assert [(r.address, r.code) for r in attempt.results] == [
        ("bob@example.org", 250),
        ("cc@example.org", 250),
        ("hidden@example.org", 250),
    ]
    assert attempt.results[0].reply.startswith("2.0.0 Ok: queued as")
    message_events = [e for e in events if isinstance(e, MessageEvent)]
    assert [(e.message_id, e.status) for e in message_events] == [(mid, "sending"), (mid, "sent")]
    assert [r.status for r in message_events[-1].recipients] == ["delivered"] * 3
    assert detail.report_ids == ()


async def test_each_rcpt_reply_counts_for_its_own_recipient(
    worker: Worker, authorized: Queue, smtp_server: SMTPTestServer, clock: FakeClock, enqueue: Enqueue
) -> None:
    smtp_server.refuse("carol@example.org", UNKNOWN)
    smtp_server.refuse("dave@example.org", LATER)
    mid = enqueue(["bob@example.org", "carol@example.org", "dave@example.org"])
    t0 = clock.now()

    await worker.run_once()

    assert states(authorized, mid) == {
        "bob@example.org": ("delivered", 250),
        "carol@example.org": ("failed", 550),
        "dave@example.org": ("pending", 451),
    }
    summary = authorized.get_message(mid).summary
    assert summary.status == Status.DEFERRED
    assert summary.next_attempt_at == t0 + 300  # retry.min_backoff, no jitter in this policy
    original = smtp_server.received[0]
    assert original.rcpt_tos == ("bob@example.org",)  # the one accepted recipient got it; the others did not

    # One report, about carol only, went to the sender in the same pass.
    [report_id] = authorized.get_message(mid).report_ids
    [report] = [r for r in smtp_server.received if r.mail_from == ""]
    assert report.rcpt_tos == ("ann@example.com",)
    parsed = parse_dsn(report.data)
    assert [r["final-recipient"] for r in parsed.per_recipient] == ["rfc822; carol@example.org"]
    assert parsed.per_recipient[0]["action"] == "failed"
    assert parsed.per_recipient[0]["status"] == "5.1.1"
    assert parsed.per_recipient[0]["diagnostic-code"] == f"smtp; {UNKNOWN}"
    assert parsed.per_recipient[0]["remote-mta"] == "dns; 127.0.0.1"
    assert parsed.per_recipient[0]["last-attempt-date"] == " ".join(rfc5322_date(t0).split())
    assert parsed.per_message["reporting-mta"] == "dns; mailgui.test"
    assert parsed.per_message["arrival-date"] == " ".join(rfc5322_date(t0).split())
    assert parsed.part_types == ["text/plain", "message/delivery-status", "text/rfc822-headers"]
    assert "Subject: Hello" in parsed.headers
    assert authorized.get_message(report_id).summary.status == Status.SENT

    # Not due yet: nothing happens. At the retry time only dave is tried, and accepted this time.
    clock.advance(299)
    assert await worker.run_once() == 0
    smtp_server.accept()
    clock.advance(1)
    assert await worker.run_once() == 1
    assert smtp_server.received[-1].rcpt_tos == ("dave@example.org",)
    assert smtp_server.received[-1].data == authorized.get_message(mid).raw
    assert states(authorized, mid)["dave@example.org"] == ("delivered", 250)
    # Partly delivered, partly failed: bounced, with the detail showing which.
    assert authorized.get_message(mid).summary.status == Status.BOUNCED
    assert len(authorized.get_message(mid).report_ids) == 1  # nothing newly failed: no second report


async def test_retries_follow_the_schedule_until_accepted(
    worker: Worker, authorized: Queue, smtp_server: SMTPTestServer, clock: FakeClock, enqueue: Enqueue
) -> None:
    smtp_server.refuse("bob@example.org", "450 4.2.0 <bob@example.org>: Recipient address rejected: Greylisted")
    mid = enqueue("bob@example.org")
    gaps = []
    for _ in range(7):
        await worker.run_once()
        summary = authorized.get_message(mid).summary
        assert summary.status == Status.DEFERRED
        assert summary.next_attempt_at is not None
        gaps.append(summary.next_attempt_at - clock.now())
        clock.set(summary.next_attempt_at)
    # Postfix's defaults: 300 s, doubling, at most 4,000 s between tries.
    assert gaps == [300, 600, 1200, 2400, 4000, 4000, 4000]
    smtp_server.accept()
    await worker.run_once()
    assert authorized.get_message(mid).summary.status == Status.SENT
    assert authorized.get_message(mid).summary.attempts == 8
    assert len(smtp_server.received) == 1


async def test_jitter_keeps_retries_near_the_schedule(
    authorized: Queue, smtp_server: SMTPTestServer, clock: FakeClock, enqueue: Enqueue, target
) -> None:
    import random

    smtp_server.refuse("bob@example.org", LATER)
    worker = Worker(authorized, clock=clock, relay=target, rng=random.Random(1))  # policy from settings, jitter on
    ids = [enqueue("bob@example.org") for _ in range(20)]
    try:
        await worker.run_once()
    finally:
        await worker.aclose()
    delays = [authorized.get_message(i).summary.next_attempt_at - clock.now() for i in ids]  # type: ignore[operator]
    assert all(270 <= d <= 330 for d in delays), delays
    assert len(set(delays)) > 10  # spread out, not all in the same second


async def test_lifetime_over_gives_up_and_reports_failed(
    worker: Worker, authorized: Queue, smtp_server: SMTPTestServer, clock: FakeClock, enqueue: Enqueue
) -> None:
    Settings(authorized).set("retry.lifetime", "1000")
    smtp_server.refuse("bob@example.org", LATER.replace("dave", "bob"))
    mid = enqueue("bob@example.org")
    t0 = clock.now()
    schedule = []
    while authorized.get_message(mid).summary.status != Status.BOUNCED:
        await worker.run_once()
        schedule.append(clock.now() - t0)
        nxt = authorized.get_message(mid).summary.next_attempt_at
        assert nxt is not None
        clock.set(nxt)
    # Tried at 0, 300, 900, and once more right at the end of the lifetime (1000), then given up.
    assert schedule == [0, 300, 900, 1000]
    assert states(authorized, mid) == {"bob@example.org": ("expired", 451)}
    [report_id] = authorized.get_message(mid).report_ids
    report = smtp_server.received[-1]
    assert report.mail_from == "" and report.rcpt_tos == ("ann@example.com",)
    parsed = parse_dsn(report.data)
    [rcpt] = parsed.per_recipient
    assert rcpt["action"] == "failed"
    assert rcpt["status"] == "4.3.0"  # the last temporary reason, as Postfix reports an expired message
    assert rcpt["diagnostic-code"] == "smtp; 451 4.3.0 <bob@example.org>: Temporary lookup failure"
    assert "kept trying for 17 minutes and then gave up" in " ".join(parsed.human.split())
    assert authorized.get_message(report_id).summary.kind == "report"


@pytest.mark.parametrize(
    ("script", "stage"),
    [
        ("answer_mail", "MAIL FROM"),
        ("answer_data", "end of DATA"),
    ],
)
async def test_permanent_refusal_of_the_whole_transaction_fails_every_recipient(
    worker: Worker,
    authorized: Queue,
    smtp_server: SMTPTestServer,
    enqueue: Enqueue,
    script: str,
    stage: str,
) -> None:
    reply = "554 5.7.1 Message refused by policy"
    getattr(smtp_server, script)(reply, times=1)
    mid = enqueue(["bob@example.org", "carol@example.org"])
    await worker.run_once()
    assert states(authorized, mid) == {"bob@example.org": ("failed", 554), "carol@example.org": ("failed", 554)}
    assert authorized.get_message(mid).summary.status == Status.BOUNCED
    parsed = parse_dsn(smtp_server.received[-1].data)
    assert [r["status"] for r in parsed.per_recipient] == ["5.7.1", "5.7.1"]
    assert f"(in reply to {stage} command)" in " ".join(parsed.human.split())


async def test_temporary_refusal_at_data_defers_every_recipient(
    worker: Worker, authorized: Queue, smtp_server: SMTPTestServer, clock: FakeClock, enqueue: Enqueue
) -> None:
    smtp_server.answer_data("452 4.3.1 Insufficient system storage", times=1)
    mid = enqueue(["bob@example.org", "carol@example.org"])
    await worker.run_once()
    assert states(authorized, mid) == {"bob@example.org": ("pending", 452), "carol@example.org": ("pending", 452)}
    assert authorized.get_message(mid).summary.next_attempt_at == clock.now() + 300
    assert smtp_server.received == []
    assert worker.state.name == "running"  # a 4xx reply is about this message, not a sick relay


@pytest.mark.allow_log("mailgui.delivery.reporting", match=r"could not be delivered .*; dropped")
async def test_report_goes_with_null_sender_and_a_failing_report_is_dropped(
    worker: Worker,
    authorized: Queue,
    smtp_server: SMTPTestServer,
    enqueue: Enqueue,
    caplog: pytest.LogCaptureFixture,
) -> None:
    smtp_server.refuse("bob@example.org", "550 5.1.1 <bob@example.org>: User unknown")
    smtp_server.refuse("ann@example.com", "550 5.1.1 <ann@example.com>: User unknown")  # the sender is gone too
    mid = enqueue("bob@example.org")
    with caplog.at_level(logging.WARNING, logger="mailgui.delivery"):
        await worker.run_once()
    [report_id] = authorized.get_message(mid).report_ids
    report = authorized.get_message(report_id)
    assert report.summary.sender == "" and report.summary.kind == "report"
    assert report.summary.status == Status.BOUNCED
    assert report.report_ids == ()  # never reported again: no loop
    mails = [c for c in smtp_server.commands() if c == "MAIL"]
    assert len(mails) == 2  # the message and its report, nothing more
    assert any("dropped, never reported again" in r.getMessage() for r in caplog.records)
    assert b"Auto-Submitted: auto-replied\r\n" in report.raw


async def test_delay_warning_is_sent_once_after_the_configured_delay(
    worker: Worker, authorized: Queue, smtp_server: SMTPTestServer, clock: FakeClock, enqueue: Enqueue
) -> None:
    Settings(authorized).set("bounce.delay_warning", "600")
    smtp_server.refuse("bob@example.org", LATER.replace("dave", "bob"))
    mid = enqueue("bob@example.org")
    for _ in range(5):  # tries at 0, 300, 900, 2100, 4500 s
        await worker.run_once()
        nxt = authorized.get_message(mid).summary.next_attempt_at
        assert nxt is not None
        clock.set(nxt)
    reports = [r for r in smtp_server.received if r.mail_from == ""]
    assert len(reports) == 1
    parsed = parse_dsn(reports[0].data)
    assert parsed.message["Subject"] == "Delayed Mail (still being retried)"
    [rcpt] = parsed.per_recipient
    assert rcpt["action"] == "delayed"
    assert rcpt["status"] == "4.3.0"
    assert "will-retry-until" in rcpt
    assert "YOU DO NOT NEED TO RESEND YOUR MESSAGE" in parsed.human
    assert "has not been delivered to one or more of its recipients after 15 minutes" in " ".join(parsed.human.split())
    assert authorized.get_message(mid).summary.status == Status.DEFERRED
    assert len(authorized.get_message(mid).report_ids) == 1


# The report goes back to the UTF-8 sender through the same server, which cannot take it either.
@pytest.mark.allow_log("mailgui.delivery.reporting", match=r"SMTPUTF8 is required, but was not offered")
async def test_smtputf8_message_to_a_server_without_smtputf8_fails_with_5_6_7(
    authorized: Queue, clock: FakeClock, worker: Worker
) -> None:
    async with SMTPTestServer(smtputf8=False) as plain:
        worker._relay_source = worker._relay_source.__class__(  # same target, other port
            "127.0.0.1", plain.port, "none", timeout=5.0, connections=1, helo_name="client.test"
        )
        authorized.add_sender("@exämple.com")
        msg = build_message(
            MessageFields(sender="jörg@exämple.com", to="bob@example.org", subject="s", body="b"), now=clock.now()
        )
        assert msg.smtputf8
        mid = authorized.enqueue(msg)
        await worker.run_once()
        [(status, code)] = states(authorized, mid).values()
        assert (status, code) == ("failed", None)
        assert authorized.get_message(mid).summary.recipients[0].reply.startswith("5.6.7 SMTPUTF8 is required")
        await worker.aclose()


async def attempts_until_retry(worker: Worker, queue: Queue, clock: FakeClock, mid: int, times: int) -> None:
    """``times`` passes of the worker, each followed by moving the clock to the message's next attempt."""
    for _ in range(times):
        await worker.run_once()
        nxt = queue.get_message(mid).summary.next_attempt_at
        assert nxt is not None
        clock.set(nxt)


@expect_relay_failures
async def test_a_relay_failure_on_the_last_attempt_reports_the_servers_own_reply(
    worker: Worker, authorized: Queue, smtp_server: SMTPTestServer, clock: FakeClock, enqueue: Enqueue
) -> None:
    """The lifetime runs out on an attempt where the relay itself failed (421): the report gives the server's
    reply and its status, not mailgui's account of the failure."""
    Settings(authorized).set("retry.lifetime", "1000")
    smtp_server.refuse("bob@example.org", LATER.replace("dave", "bob"), times=3)
    mid = enqueue("bob@example.org")
    t0 = clock.now()
    await attempts_until_retry(worker, authorized, clock, mid, 3)  # 0, 300, 900: refused for now
    assert clock.now() - t0 == 1000
    smtp_server.answer_mail("421 4.7.0 Too many connections", times=1)
    await worker.run_once()
    detail = authorized.get_message(mid)
    assert detail.summary.status == Status.BOUNCED
    [report_id] = detail.report_ids
    parsed = parse_dsn(authorized.get_message(report_id).raw)
    [rcpt] = parsed.per_recipient
    assert rcpt["action"] == "failed"
    assert rcpt["status"] == "4.7.0"
    assert rcpt["diagnostic-code"] == "smtp; 421 4.7.0 Too many connections"
    assert rcpt["remote-mta"] == "dns; 127.0.0.1"


@expect_relay_failures
async def test_a_delay_warning_after_a_421_greeting_gives_the_greeting(
    worker: Worker, authorized: Queue, smtp_server: SMTPTestServer, clock: FakeClock, enqueue: Enqueue
) -> None:
    Settings(authorized).set("bounce.delay_warning", "100")
    smtp_server.refuse("bob@example.org", LATER.replace("dave", "bob"), times=1)
    mid = enqueue("bob@example.org")
    await worker.run_once()  # 451: deferred, too young for a warning
    assert authorized.get_message(mid).report_ids == ()
    clock.advance(300)
    smtp_server.greeting = "421 4.3.2 Service not available"
    await worker.run_once()
    [report_id] = authorized.get_message(mid).report_ids
    parsed = parse_dsn(authorized.get_message(report_id).raw)
    [rcpt] = parsed.per_recipient
    assert rcpt["action"] == "delayed"
    assert rcpt["status"] == "4.3.2"
    assert rcpt["diagnostic-code"] == "smtp; 421 4.3.2 Service not available"
    assert rcpt["remote-mta"] == "dns; 127.0.0.1"


@expect_relay_failures
async def test_a_relay_that_is_down_at_the_end_of_the_lifetime_is_reported_in_mailguis_words(
    worker: Worker, authorized: Queue, smtp_server: SMTPTestServer, clock: FakeClock, enqueue: Enqueue
) -> None:
    Settings(authorized).set("retry.lifetime", "1000")
    smtp_server.refuse("bob@example.org", LATER.replace("dave", "bob"), times=3)
    mid = enqueue("bob@example.org")
    await attempts_until_retry(worker, authorized, clock, mid, 3)
    await smtp_server.go_down()
    await worker.run_once()
    [report_id] = authorized.get_message(mid).report_ids
    parsed = parse_dsn(authorized.get_message(report_id).raw)
    [rcpt] = parsed.per_recipient
    assert rcpt["action"] == "failed"
    assert rcpt["status"] == "4.4.1"
    assert rcpt["diagnostic-code"].startswith("X-mailgui; cannot connect to 127.0.0.1:")
    assert rcpt["diagnostic-code"].endswith("Connection refused")
    assert "remote-mta" not in rcpt  # no server answered


async def test_a_healthy_run_logs_a_summary_not_a_line_a_message(
    worker: Worker, authorized: Queue, enqueue: Enqueue, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    for n in range(5):
        enqueue(f"user{n}@example.org")
    stop = asyncio.Event()
    with caplog.at_level(logging.INFO, logger="mailgui.delivery"):
        await worker.run(stop, until_idle=True)
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert not [m for m in lines if "user" in m], lines  # no line names a message's recipient
    assert "recorded 5 messages in 0 s: 5 sent" in lines
    # Within SUMMARY_SECONDS of the last line, nothing more is said until the run ends; then the rest is.
    caplog.clear()
    clock.advance(10)
    enqueue("later@example.org")
    with caplog.at_level(logging.INFO, logger="mailgui.delivery"):
        await worker.run(stop, until_idle=True)
    assert [r.getMessage() for r in caplog.records if r.getMessage().startswith("recorded")] == [
        "recorded 1 messages in 10 s: 1 sent"
    ]
