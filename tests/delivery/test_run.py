"""The worker running for good (run): events, pause and resume, stopping cleanly, until-idle."""

from __future__ import annotations

import asyncio
import logging

import pytest

from mailgui.clock import FakeClock
from mailgui.delivery import MessageEvent, RelayTarget, StateEvent, Worker, WorkerEvent
from mailgui.queue import Queue, Status
from tests.delivery.conftest import Enqueue
from tests.smtpserver import SMTPTestServer


async def next_event(events: asyncio.Queue[WorkerEvent], match) -> WorkerEvent:  # type: ignore[no-untyped-def]
    while True:
        event = await events.get()
        if match(event):
            return event


async def test_run_delivers_publishes_events_and_stops_cleanly(
    worker: Worker, authorized: Queue, smtp_server: SMTPTestServer, enqueue: Enqueue
) -> None:
    events = worker.events()
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    ids = [enqueue(f"user{n}@example.org") for n in range(10)]
    worker.wake()
    await smtp_server.wait_received(10)
    sent: set[int] = set()
    while sent != set(ids):
        event = await next_event(events, lambda e: isinstance(e, MessageEvent) and e.status == Status.SENT)
        assert isinstance(event, MessageEvent)
        sent.add(event.message_id)
        assert [r.status for r in event.recipients] == ["delivered"]
    stop.set()
    await task
    assert worker.state.name == "stopped"
    states = []
    while not events.empty():
        e = events.get_nowait()
        if isinstance(e, StateEvent):
            states.append(e.state.name)
    assert states[-1] == "stopped"
    assert authorized.counts_by_status() == {"sent": 10}
    assert len(smtp_server.connections) <= 2  # worker.connections in the fixture's target
    assert all(c.commands[-1] == "QUIT" for c in smtp_server.connections)  # connections closed politely


async def test_stop_during_a_send_gives_the_lease_back(
    authorized: Queue, clock: FakeClock, smtp_server: SMTPTestServer, target: RelayTarget, enqueue: Enqueue
) -> None:
    worker = Worker(authorized, clock=clock, relay=target, owner="w1", stop_grace=0.05)
    smtp_server.hold()  # the server takes the message but does not answer: the send stays in flight
    mid = enqueue("bob@example.org")
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    await smtp_server.wait_holding(1)
    assert authorized.get_message(mid).summary.status == Status.SENDING
    stop.set()
    await task
    summary = authorized.get_message(mid).summary
    assert summary.status == Status.QUEUED  # claimable again at once, by this or any worker
    assert summary.attempts == 0
    assert authorized.counts_by_status() == {"queued": 1}
    smtp_server.release()


async def test_pause_stops_taking_messages_and_resume_goes_on(
    worker: Worker, authorized: Queue, smtp_server: SMTPTestServer, enqueue: Enqueue
) -> None:
    events = worker.events()
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    worker.pause()
    event = await next_event(events, lambda e: isinstance(e, StateEvent) and e.state.name == "paused")
    assert worker.paused
    mid = enqueue("bob@example.org")
    worker.wake()
    for _ in range(20):  # let the loop go round; a paused worker must not claim
        await asyncio.sleep(0)
    assert authorized.get_message(mid).summary.status == Status.QUEUED
    assert await worker.run_once() == 0  # run_once honours pause too
    worker.resume()
    await smtp_server.wait_received(1)
    event = await next_event(events, lambda e: isinstance(e, MessageEvent) and e.status == Status.SENT)
    assert event.message_id == mid  # type: ignore[union-attr]
    stop.set()
    await task


async def test_until_idle_returns_once_everything_and_its_reports_are_done(
    worker: Worker, authorized: Queue, smtp_server: SMTPTestServer, enqueue: Enqueue
) -> None:
    smtp_server.refuse("nobody@example.org", "550 5.1.1 <nobody@example.org>: User unknown")
    for n in range(5):
        enqueue(f"user{n}@example.org")
    enqueue("nobody@example.org")
    await asyncio.wait_for(worker.run(until_idle=True), timeout=30)
    assert authorized.counts_by_status() == {"sent": 6, "bounced": 1}  # 5 + the report; the bounced one
    assert len(smtp_server.received) == 6


async def test_a_listener_that_raises_is_logged_and_delivery_goes_on(
    worker: Worker, authorized: Queue, smtp_server: SMTPTestServer, enqueue: Enqueue, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: WorkerEvent) -> None:
        raise RuntimeError("listener bug")

    worker.subscribe(broken)
    enqueue("bob@example.org")
    with caplog.at_level(logging.ERROR, logger="mailgui.delivery.events"):
        await worker.run_once()
    assert authorized.counts_by_status() == {"sent": 1}
    failures = [r for r in caplog.records if r.name == "mailgui.delivery.events"]
    assert failures and all("listener" in r.getMessage() for r in failures)
    assert "RuntimeError: listener bug" in (failures[0].exc_text or "")


async def test_two_workers_on_one_queue_never_send_a_message_twice(
    authorized: Queue, clock: FakeClock, smtp_server: SMTPTestServer, target: RelayTarget, enqueue: Enqueue
) -> None:
    ids = [enqueue(f"user{n}@example.org") for n in range(60)]
    second = Queue(authorized.path, clock=clock)  # another handle, as another process would have
    a = Worker(authorized, clock=clock, relay=target, owner="a")
    b = Worker(second, clock=clock, relay=target, owner="b")
    try:
        await asyncio.gather(a.run(until_idle=True), b.run(until_idle=True))
    finally:
        second.close()
    assert len(smtp_server.received) == 60
    assert sorted(r.data for r in smtp_server.received) == sorted(authorized.get_message(i).raw for i in ids)
    assert a.recorded + b.recorded == 60


async def test_relay_given_as_a_function_is_asked_again_on_each_pass(
    authorized: Queue, clock: FakeClock, smtp_server: SMTPTestServer, enqueue: Enqueue
) -> None:
    async with SMTPTestServer() as other:
        current = [smtp_server]
        worker = Worker(
            authorized,
            clock=clock,
            relay=lambda: RelayTarget("127.0.0.1", current[0].port, "none", timeout=5, connections=1),
        )
        enqueue("a@example.org")
        await worker.run_once()
        current[0] = other  # e.g. the user changed relay.* in Settings
        enqueue("b@example.org")
        await worker.run_once()
        assert [r.rcpt_tos for r in smtp_server.received] == [("a@example.org",)]
        assert [r.rcpt_tos for r in other.received] == [("b@example.org",)]
