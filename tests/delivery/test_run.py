"""The worker running for good (run): events, pause and resume, stopping cleanly, until-idle."""

from __future__ import annotations

import asyncio
import logging

import pytest

from mailgui.clock import FakeClock
from mailgui.delivery import MessageEvent, RelayTarget, StateEvent, Worker, WorkerEvent
from mailgui.queue import ClaimedMessage, Queue, Status
from tests.delivery.conftest import Enqueue
from tests.smtpserver import SMTPTestServer


class Passes:
    """Counts the passes of run()'s loop (each begins by releasing held mail: RelayHold.release, wrapped here;
    the real one still runs), so a test can wait for one whole pass instead of yielding and hoping."""

    def __init__(self, worker: Worker, monkeypatch: pytest.MonkeyPatch):
        self.worker = worker
        self.count = 0
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        real = worker.hold.release

        async def release() -> None:
            self.count += 1
            for n, fut in self._waiters:
                if self.count >= n and not fut.done():
                    fut.set_result(None)
            await real()

        monkeypatch.setattr(worker.hold, "release", release)

    async def _reach(self, n: int, run: asyncio.Task[None]) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((n, fut))
        try:
            await asyncio.wait_for(asyncio.wait({fut, run}, return_when=asyncio.FIRST_COMPLETED), 10)
        finally:
            self._waiters.remove((n, fut))
            fut.cancel()
        assert not run.done(), "run() returned"

    async def whole_pass(self, run: asyncio.Task[None]) -> None:
        """Wake the worker and return once a pass that began after this call has ended (the next one began)."""
        start = self.count
        self.worker.wake()
        await self._reach(start + 1, run)
        self.worker.wake()
        await self._reach(start + 2, run)


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


async def test_a_lone_send_is_recorded_as_soon_as_it_ends_not_after_the_gathering_delay(
    worker: Worker, authorized: Queue, smtp_server: SMTPTestServer, enqueue: Enqueue
) -> None:
    # Outcomes wait up to record_delay for the other sends in flight, to share their commit; with none in
    # flight nothing would join, so the write is at once (an hour's delay here would time the test out).
    worker.record_delay = 3600.0
    events = worker.events()
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    mid = enqueue("bob@example.org")
    worker.wake()
    event = await asyncio.wait_for(
        next_event(events, lambda e: isinstance(e, MessageEvent) and e.status == Status.SENT), 10
    )
    assert isinstance(event, MessageEvent) and event.message_id == mid
    assert authorized.get_message(mid).summary.status == Status.SENT
    stop.set()
    await asyncio.wait_for(task, 10)  # nor does stopping wait for it


async def test_sends_in_flight_together_share_one_commit(
    worker: Worker, authorized: Queue, smtp_server: SMTPTestServer, enqueue: Enqueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker.record_delay = 3600.0
    writes: list[int] = []
    real_flush = worker.recorder.flush

    async def flush(claim: int = 0, lease_seconds: float = 0.0) -> list[ClaimedMessage]:
        if worker.recorder.pending:
            writes.append(len(worker.recorder.pending))
        return await real_flush(claim, lease_seconds)

    monkeypatch.setattr(worker.recorder, "flush", flush)
    events = worker.events()
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    sent = lambda e: isinstance(e, MessageEvent) and e.status == Status.SENT  # noqa: E731
    enqueue("first@example.org")  # one transaction first: until then, slow start keeps to one connection
    worker.wake()
    await asyncio.wait_for(next_event(events, sent), 10)
    smtp_server.hold()  # every send stays in flight until the server is let go
    ids = [enqueue(f"user{n}@example.org") for n in range(2)]
    worker.wake()
    await asyncio.wait_for(smtp_server.wait_holding(2), 10)  # both in flight (two connections in the target)
    smtp_server.release()
    for _ in ids:
        await asyncio.wait_for(next_event(events, sent), 10)
    stop.set()
    await task
    assert writes == [1, 2], writes  # the lone first at once; then the first to end waited for the other
    assert {authorized.get_message(i).summary.status for i in ids} == {Status.SENT}


@pytest.mark.allow_log("mailgui.delivery.running", match=r"^stopping: abandoning a send in flight ")
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
    worker: Worker,
    authorized: Queue,
    smtp_server: SMTPTestServer,
    enqueue: Enqueue,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    events = worker.events()
    passes = Passes(worker, monkeypatch)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        worker.pause()
        await asyncio.wait_for(next_event(events, lambda e: isinstance(e, StateEvent) and e.state.name == "paused"), 10)
        assert worker.paused
        mid = enqueue("bob@example.org")
        for _ in range(2):  # whole passes of the loop with the message due: a paused worker must not claim it
            await passes.whole_pass(task)
        seen: list[WorkerEvent] = []
        while not events.empty():
            seen.append(events.get_nowait())
        assert [e for e in seen if isinstance(e, MessageEvent)] == []  # not claimed (claiming says "sending")
        assert authorized.get_message(mid).summary.status == Status.QUEUED
        assert smtp_server.connections == []
        assert await worker.run_once() == 0  # run_once honours pause too
        assert smtp_server.connections == []
        worker.resume()
        await asyncio.wait_for(smtp_server.wait_received(1), 10)
        event = await asyncio.wait_for(
            next_event(events, lambda e: isinstance(e, MessageEvent) and e.status == Status.SENT), 10
        )
        assert event.message_id == mid  # type: ignore[union-attr]
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert authorized.counts_by_status() == {"sent": 1}


async def test_until_idle_waits_for_deferred_mail_and_returns_once_it_is_sent(
    worker: Worker,
    authorized: Queue,
    smtp_server: SMTPTestServer,
    clock: FakeClock,
    enqueue: Enqueue,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A 451 once: the message is deferred for 300 s. run(until_idle=True) must not return while it waits; once
    the (fake) clock reaches its retry time, the worker sends it and returns."""
    smtp_server.refuse("bob@example.org", "451 4.3.0 Try again later", times=1)
    t0 = clock.now()
    mid = enqueue("bob@example.org")
    events = worker.events()
    passes = Passes(worker, monkeypatch)
    task = asyncio.create_task(worker.run(until_idle=True))
    try:
        await asyncio.wait_for(
            next_event(events, lambda e: isinstance(e, MessageEvent) and e.status == Status.DEFERRED), 10
        )
        summary = authorized.get_message(mid).summary
        assert (summary.status, summary.attempts, summary.next_attempt_at) == (Status.DEFERRED, 1, t0 + 300)
        for _ in range(2):  # whole passes with nothing due and nothing in flight: only the deferred message
            await passes.whole_pass(task)
        assert smtp_server.received == []

        clock.advance(300)
        worker.wake()
        await asyncio.wait_for(smtp_server.wait_received(1), 10)
        await asyncio.wait_for(task, 10)  # returns by itself once nothing is left
    finally:
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    summary = authorized.get_message(mid).summary
    assert (summary.status, summary.attempts) == (Status.SENT, 2)
    assert authorized.counts_by_status() == {"sent": 1}
    assert [r.data for r in smtp_server.received] == [authorized.get_message(mid).raw]
    assert worker.state.name == "stopped"


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


@pytest.mark.allow_log("mailgui.delivery.events", level=logging.ERROR, match=r"^worker event listener .* failed on ")
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
