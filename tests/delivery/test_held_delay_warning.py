"""Delay warnings for mail held while the relay is down: no attempt is recorded for it, yet its sender hears
once that it is late (``bounce.delay_warning``), and the warning goes out with the mail when the relay is back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from mailgui.clock import FakeClock
from mailgui.delivery import MessageEvent, RelayTarget, Worker
from mailgui.delivery.hold import HELD, WARN_BATCH
from mailgui.delivery.report import rfc5322_date
from mailgui.message import MessageFields, build_message
from mailgui.queue import Queue, Status
from mailgui.queue.bulk import enqueue_many
from mailgui.settings import Settings
from tests.delivery.conftest import Enqueue
from tests.delivery.helpers import ParsedReport, make_worker, parse_dsn
from tests.logfail import expect_relay_failures
from tests.smtpserver import SMTPTestServer

# Mail is held because the relay is down, and the worker says so at WARNING.
pytestmark = expect_relay_failures

DELAY = 600.0


@pytest.fixture
async def worker(authorized: Queue, clock: FakeClock, target: RelayTarget) -> AsyncIterator[Worker]:
    w = make_worker(authorized, clock, target)
    yield w
    await w.aclose()


async def outage(worker: Worker, clock: FakeClock, seconds: float) -> int:
    """Run the worker at each of the relay's retry times, and at least every 10 minutes between (holding
    only), for ``seconds``; returns how many passes it made."""
    end = clock.now() + seconds
    passes = 0
    while clock.now() < end:
        await worker.run_once()
        passes += 1
        clock.set(
            min(end, worker.backoff.until, clock.now() + 600)
            if worker.backoff.active(clock.now())
            else clock.now() + 10
        )
    await worker.run_once()
    return passes + 1


def reports_about(queue: Queue, message_id: int) -> list[int]:
    return list(queue.get_message(message_id).report_ids)


def the_warning(queue: Queue, message_id: int) -> ParsedReport:
    [report_id] = reports_about(queue, message_id)
    report = queue.get_message(report_id)
    assert (report.summary.kind, report.summary.sender) == ("report", "")
    return parse_dsn(report.raw)


async def test_relay_down_longer_than_the_delay_warns_each_waiting_message_once(
    worker: Worker, authorized: Queue, smtp_server: SMTPTestServer, clock: FakeClock, enqueue: Enqueue
) -> None:
    Settings(authorized).set("bounce.delay_warning", str(DELAY))
    await smtp_server.go_down()
    t0 = clock.now()
    ids = [enqueue("bob@example.org", cc="carol@example.net", subject=f"m{n}") for n in range(3)]
    await worker.run_once()
    [tried] = [i for i in ids if authorized.get_message(i).summary.attempts]  # the one that found it down
    tried_at = authorized.get_message(tried).attempts[0].started_at

    await outage(worker, clock, DELAY - 31)  # not long enough yet
    assert all(reports_about(authorized, i) == [] for i in ids)
    passes = await outage(worker, clock, 3 * 3600)  # hours, through many backoff rounds
    assert passes > 10
    for mid in ids:
        dsn = the_warning(authorized, mid)  # exactly one each
        assert dsn.message["Subject"] == "Delayed Mail (still being retried)"
        assert dsn.message["To"] == "<ann@example.com>"
        assert dsn.message["Auto-Submitted"] == "auto-replied"
        assert dsn.per_message["x-mailgui-queue-id"] == str(mid)
        assert [r["final-recipient"] for r in dsn.per_recipient] == [
            "rfc822; bob@example.org",
            "rfc822; carol@example.net",
        ]
        for rcpt in dsn.per_recipient:
            assert rcpt["action"] == "delayed"
            assert rcpt["status"] == "4.4.1"  # no answer from the relay
            assert rcpt["diagnostic-code"].startswith(f"X-mailgui; cannot connect to 127.0.0.1:{smtp_server.port}")
            assert "remote-mta" not in rcpt  # nobody answered
            assert "will-retry-until" in rcpt
            # Last-Attempt-Date only for the message that was tried; the others were only held.
            assert ("last-attempt-date" in rcpt) == (mid == tried)
        human = " ".join(dsn.human.split())
        assert "YOU DO NOT NEED TO RESEND YOUR MESSAGE" in human
        assert f"cannot connect to 127.0.0.1:{smtp_server.port}" in human
        assert f'Your message "m{ids.index(mid)}" has not been delivered' in human
        assert "Subject: m" in dsn.headers
        assert authorized.get_message(mid).summary.status == Status.DEFERRED
    tried_dsn = the_warning(authorized, tried)
    assert tried_dsn.per_recipient[0]["last-attempt-date"] == rfc5322_date(tried_at)

    # The warnings wait for the relay like any mail (held, not tried against a relay known to be down).
    for mid in ids:
        [report_id] = reports_about(authorized, mid)
        s = authorized.get_message(report_id).summary
        assert (s.status, s.attempts) == (Status.DEFERRED, 0)
        assert (s.last_reply or "").startswith(HELD)
        assert s.created_at - t0 >= DELAY

    await smtp_server.come_back()
    clock.set(worker.backoff.until)
    for _ in range(10):
        await worker.run_once()
        if authorized.counts_by_status() == {Status.SENT: 6}:
            break
        clock.advance(300)
    assert authorized.counts_by_status() == {Status.SENT: 6}  # the 3 messages and their 3 warnings
    originals = sorted(r.data for r in smtp_server.received if r.mail_from)
    assert originals == sorted(authorized.get_message(i).raw for i in ids)  # byte for byte
    warnings = [r for r in smtp_server.received if r.mail_from == ""]
    assert len(warnings) == 3 and all(r.rcpt_tos == ("ann@example.com",) for r in warnings)
    assert all(parse_dsn(r.data).per_recipient[0]["action"] == "delayed" for r in warnings)
    assert all(len(reports_about(authorized, i)) == 1 for i in ids)  # delivered late: no second report


async def test_a_relay_that_answers_421_is_quoted_in_the_warning(
    worker: Worker, authorized: Queue, smtp_server: SMTPTestServer, clock: FakeClock, enqueue: Enqueue
) -> None:
    Settings(authorized).set("bounce.delay_warning", str(DELAY))
    smtp_server.greeting = "421 4.3.2 Service not available"
    ids = [enqueue("bob@example.org") for _ in range(2)]
    await outage(worker, clock, DELAY + 3600)
    for mid in ids:
        [rcpt] = the_warning(authorized, mid).per_recipient
        assert rcpt["action"] == "delayed"
        assert rcpt["status"] == "4.3.2"
        assert rcpt["diagnostic-code"] == "smtp; 421 4.3.2 Service not available"
        assert rcpt["remote-mta"] == "dns; 127.0.0.1"
        human = " ".join(the_warning(authorized, mid).human.split())
        assert "host 127.0.0.1 said: 421 4.3.2 Service not available" in human


async def test_no_warning_when_the_delay_warning_is_off(
    worker: Worker, authorized: Queue, smtp_server: SMTPTestServer, clock: FakeClock, enqueue: Enqueue
) -> None:
    assert Settings(authorized).get_float("bounce.delay_warning") == 0  # off by default
    await smtp_server.go_down()
    ids = [enqueue("bob@example.org") for _ in range(3)]
    await outage(worker, clock, 2 * 86400)
    assert all(reports_about(authorized, i) == [] for i in ids)
    assert authorized.counts_by_status() == {Status.DEFERRED: 3}

    Settings(authorized).set("bounce.delay_warning", "0")
    await outage(worker, clock, 3600)
    assert authorized.counts_by_status() == {Status.DEFERRED: 3}


async def test_reports_and_mail_queued_meanwhile_are_warned_only_when_due(
    worker: Worker, authorized: Queue, smtp_server: SMTPTestServer, clock: FakeClock, enqueue: Enqueue
) -> None:
    """A report held with the rest is never warned about (no loops); a message queued during the outage gets
    its own warning once it has waited the delay, not earlier, and only once."""
    Settings(authorized).set("bounce.delay_warning", str(DELAY))
    await smtp_server.go_down()
    first = enqueue("bob@example.org")
    bounce = authorized.enqueue_report(
        parent_id=first, message_id="<r@mailgui.test>", recipient="ann@example.com", subject="s", raw=b"S: s\r\n\r\nb"
    )
    await outage(worker, clock, 1800)
    late = enqueue("dave@example.org")
    queued_at = clock.now()
    await outage(worker, clock, DELAY - 60)
    assert reports_about(authorized, late) == []
    await outage(worker, clock, 4 * 3600)
    assert len(set(reports_about(authorized, first)) - {bounce}) == 1  # its warning (the bounce is ours)
    assert reports_about(authorized, bounce) == []
    [report_id] = reports_about(authorized, late)
    assert authorized.get_message(report_id).summary.created_at - queued_at >= DELAY
    [rcpt] = the_warning(authorized, late).per_recipient
    assert rcpt["final-recipient"] == "rfc822; dave@example.org"
    # Two originals, one bounce and two warnings, all waiting; nothing about a report.
    assert authorized.counts_by_status() == {Status.DEFERRED: 5}


async def test_only_pending_recipients_are_warned_about(
    worker: Worker, authorized: Queue, smtp_server: SMTPTestServer, clock: FakeClock, enqueue: Enqueue
) -> None:
    """bob was delivered before the relay went away; carol waits: the warning names carol only."""
    Settings(authorized).set("bounce.delay_warning", str(DELAY))
    smtp_server.refuse("carol@example.net", "451 4.3.0 Try later")
    mid = enqueue(["bob@example.org", "carol@example.net"])
    await worker.run_once()
    await smtp_server.go_down()
    clock.advance(300)
    await outage(worker, clock, 3 * 3600)
    [rcpt] = the_warning(authorized, mid).per_recipient
    assert rcpt["final-recipient"] == "rfc822; carol@example.net"
    assert "last-attempt-date" in rcpt


async def test_a_large_held_backlog_is_warned_in_bounded_writes(
    worker: Worker, authorized: Queue, smtp_server: SMTPTestServer, clock: FakeClock
) -> None:
    """More messages than one write holds: each is warned once, each write queues at most WARN_BATCH, and
    every warning is held for the relay too."""
    Settings(authorized).set("bounce.delay_warning", str(DELAY))
    fields = MessageFields(sender="ann@example.com", to="bob@example.org", subject="s", body="b")
    total = 2 * WARN_BATCH + 17
    enqueue_many(authorized, [build_message(fields, now=clock.now()) for _ in range(total)])
    await smtp_server.go_down()
    writes: list[int] = []
    real = Queue.warn_waiting

    def counting(self: Queue, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        scan = real(self, *args, **kwargs)  # type: ignore[arg-type]
        writes.append(len(scan.warned))
        return scan

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Queue, "warn_waiting", counting)
        await outage(worker, clock, DELAY + 3600)
    assert sum(writes) == total and max(writes) <= WARN_BATCH
    assert authorized.counts_by_status() == {Status.DEFERRED: 2 * total}
    until = worker.backoff.until
    assert authorized.hold_due(until, "x", None, 10) == []  # the warnings too wait for the relay's next try


async def test_the_running_worker_warns_held_mail_between_its_tries(
    authorized: Queue, smtp_server: SMTPTestServer, clock: FakeClock, target: RelayTarget, enqueue: Enqueue
) -> None:
    """The same in run(): while it leaves the relay alone, held mail that has waited long enough is warned
    (one report event each, nothing twice), and the warnings are held with it."""
    Settings(authorized).set("bounce.delay_warning", str(DELAY))
    await smtp_server.go_down()
    worker = make_worker(authorized, clock, target, poll_interval=0.02)
    ids = [enqueue("bob@example.org") for _ in range(3)]
    events = worker.events()
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        while authorized.counts_by_status() != {Status.DEFERRED: 3}:  # tried once, the rest held
            await asyncio.wait_for(events.get(), timeout=10)
        clock.advance(DELAY + 1)  # past the relay's next try too: it probes, fails, backs off and holds again
        worker.wake()
        reports: set[int] = set()
        while len(reports) < 3:
            event = await asyncio.wait_for(events.get(), timeout=10)
            if isinstance(event, MessageEvent) and event.status == Status.QUEUED and event.message_id not in ids:
                reports.add(event.message_id)
        while authorized.counts_by_status() != {Status.DEFERRED: 6}:  # the warnings are held too
            await asyncio.wait_for(events.get(), timeout=10)
        for _ in range(3):  # more backoff rounds (each a new state event): nothing new
            while not events.empty():
                events.get_nowait()
            clock.set(worker.backoff.until)
            worker.wake()
            await asyncio.wait_for(events.get(), timeout=10)
    finally:
        stop.set()
        await task
    assert {r for i in ids for r in reports_about(authorized, i)} == reports
    assert all(len(reports_about(authorized, i)) == 1 for i in ids)
    assert authorized.counts_by_status() == {Status.DEFERRED: 6}
