"""Fail closed: when the worker cannot record what it sent, it stops sending at once and says why.

The write is made to fail for real: a trigger on the queue file (through a connection of the test's own) aborts
every outcome write, as a full disk or a damaged file would. Sending more while nothing is recorded would send
every one of those messages again after a restart.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path

import pytest

from mailgui.clock import FakeClock
from mailgui.delivery import MessageEvent, RelayTarget, StateEvent, Worker, WorkerEvent
from mailgui.errors import SendingStoppedError
from mailgui.queue import Queue, Status
from tests.delivery.conftest import Enqueue
from tests.delivery.helpers import make_worker
from tests.logfail import expect_recording_failure
from tests.smtpserver import SMTPTestServer

# Every test here makes the outcome write fail, and the worker says so at ERROR.
pytestmark = expect_recording_failure


def refuse_outcome_writes(db: Path) -> None:
    """Every write of a recipient's outcome aborts from now on (claims and lease releases still work)."""
    with sqlite3.connect(db) as c:
        c.execute(
            "CREATE TRIGGER no_outcomes BEFORE UPDATE ON recipients BEGIN SELECT RAISE(ABORT, 'disk says no'); END"
        )


class FailureGate(logging.Handler):
    """Lets the first message through, then holds every other send at the server's end of DATA until the worker
    logs that it could not record; notes how many the server had taken by then. So the test knows exactly what
    was in flight when the failure was known, without timing anything."""

    def __init__(self, server: SMTPTestServer):
        super().__init__(logging.ERROR)
        self.server = server
        self.received: int | None = None

    async def first_through(self) -> None:
        self.server.hold()
        await self.server.wait_holding(1)  # the first message (one connection until one transaction worked)
        self.server.release()  # wakes the first send's reply ...
        self.server.hold()  # ... and holds the next ones

    def emit(self, record: logging.LogRecord) -> None:
        if self.received is None and "could not record" in record.getMessage():
            self.received = len(self.server.received)
            self.server.release()  # the sends in flight end (their outcomes cannot be recorded either)


async def run_until_it_stops(worker: Worker, gate: FailureGate) -> SendingStoppedError:
    """Run ``worker`` (nobody sets its stop event) behind ``gate``; the error it stops with."""
    logging.getLogger("mailgui").addHandler(gate)
    try:
        run = asyncio.create_task(worker.run(asyncio.Event()))
        await asyncio.wait_for(gate.first_through(), 10)
        with pytest.raises(SendingStoppedError) as stopped:
            await asyncio.wait_for(run, 10)
    finally:
        logging.getLogger("mailgui").removeHandler(gate)
    return stopped.value


async def test_a_failed_outcome_write_stops_sending_at_once_and_run_says_why(
    authorized: Queue,
    db_path: Path,
    clock: FakeClock,
    target: RelayTarget,
    smtp_server: SMTPTestServer,
    enqueue: Enqueue,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ids = [enqueue(f"user{n}@example.org") for n in range(40)]
    refuse_outcome_writes(db_path)
    worker = make_worker(authorized, clock, target)
    events: list[WorkerEvent] = []
    worker.subscribe(events.append)
    gate = FailureGate(smtp_server)
    with caplog.at_level(logging.INFO):
        stopped = await run_until_it_stops(worker, gate)

    assert str(stopped).startswith("sending stopped: could not record")
    assert "disk says no" in str(stopped)
    # Nothing more was taken once the write failed: only the sends then in flight ended (one per connection).
    assert gate.received == 1
    assert len(smtp_server.received) <= 1 + target.connections
    # Logged with its traceback.
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info]
    assert failures and "disk says no" in str(failures[0].exc_info[1])
    # The state says so, to the GUI and anyone listening.
    assert worker.state.name == "failed"
    assert str(worker.state) == str(stopped)
    assert isinstance(events[-1], StateEvent) and events[-1].state == worker.state

    # What was sent but not recorded stays leased (sent again only once its lease runs out, at-least-once);
    # what was claimed and not sent went back at once.
    received = {r.rcpt_tos[0] for r in smtp_server.received}
    for mid in ids:
        summary = authorized.get_message(mid).summary
        address = summary.recipients[0].address
        assert summary.status == (Status.SENDING if address in received else Status.QUEUED), (address, summary.status)


async def test_a_new_run_after_the_failure_sends_the_rest_and_the_unrecorded_once_their_lease_ends(
    authorized: Queue,
    db_path: Path,
    clock: FakeClock,
    target: RelayTarget,
    smtp_server: SMTPTestServer,
    enqueue: Enqueue,
) -> None:
    for n in range(10):
        enqueue(f"user{n}@example.org")
    refuse_outcome_writes(db_path)
    worker = make_worker(authorized, clock, target, lease_seconds=600.0)
    await run_until_it_stops(worker, FailureGate(smtp_server))
    unrecorded = authorized.counts_by_status().get(Status.SENDING, 0)
    assert unrecorded == len(smtp_server.received) >= 1
    with sqlite3.connect(db_path) as c:
        c.execute("DROP TRIGGER no_outcomes")  # the disk has room again; the user starts sending again

    sent: list[int] = []
    stop = asyncio.Event()

    def note(event: WorkerEvent) -> None:
        if isinstance(event, MessageEvent) and event.status == Status.SENT:
            sent.append(event.message_id)
            if len(sent) == 10 - unrecorded:
                stop.set()

    worker.subscribe(note)
    await asyncio.wait_for(worker.run(stop), 10)  # started again (the GUI's Resume, a new `mailgui worker`)
    assert worker.state.name == "stopped"
    assert authorized.counts_by_status() == {Status.SENT: 10 - unrecorded, Status.SENDING: unrecorded}
    assert len(smtp_server.received) == 10  # none of the unrecorded was sent again by this worker
    clock.advance(601)  # their leases end: sent again (at-least-once), never lost
    assert await worker.run_once() == unrecorded
    assert authorized.counts_by_status() == {Status.SENT: 10}
