"""One ``Worker.run()``: senders fed from a queue of claimed messages, a recorder task that writes their outcomes,
wake-ups, and stopping cleanly.

The loop of passes claims when the feed runs low (the recorder's commits also refill it), holds mail and probes
while the relay is unwell, and waits for a wake-up or the poll interval. One sender task per connection takes
messages from the feed. The recorder writes outcomes as sends end, letting the sends still in flight join the
same commit (up to ``record_delay``). Stopping gives back what is still in the feed, lets the sends in flight end
(up to ``stop_grace``), writes the last outcomes and gives every lease back.

Fail closed: if outcomes cannot be recorded (any failure of the write), or a task of the run dies, nothing more
is sent. The senders give back what they take from the feed, the sends in flight end, and ``run()`` raises
SendingStoppedError. Messages sent but not recorded keep their leases until they run out (then they are sent
again: at least once, as after a crash); giving them back, or sending on, would send them all again at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from enum import Enum
from typing import Any, Protocol

from mailgui.clock import Clock
from mailgui.delivery.hold import RelayHold
from mailgui.delivery.leases import Leases
from mailgui.delivery.policy import RelayBackoff
from mailgui.delivery.pool import ConnectionPool
from mailgui.delivery.queue_thread import QueueThread
from mailgui.delivery.recorder import Recorder
from mailgui.errors import Error, SendingStoppedError
from mailgui.queue import ClaimedMessage, Status

log = logging.getLogger(__name__)


class Until(Enum):
    """When a run ends (besides its stop event and a failure)."""

    STOPPED = "stopped"  # only when told (the GUI, `mailgui worker`)
    IDLE = "idle"  # once nothing is queued, sending or deferred (`mailgui worker --until-idle`)
    NOTHING_DUE = "nothing due"  # once nothing is due now, on the injected clock: one pass (tests)


class RunReads(Protocol):
    """The two reads the loop makes itself, from the loop: when is the next message due, is the queue idle."""

    def next_due_at(self) -> float | None: ...
    def counts_by_status(self) -> dict[str, int]: ...


class Driver(Protocol):
    """What a run needs of the worker that makes it: its parts, its settings, and the decisions that stay the
    worker's (is the relay back, what a message's outcome is). ``Worker`` is the one implementation."""

    clock: Clock
    db: QueueThread
    owner: str
    hold: RelayHold
    leases: Leases
    recorder: Recorder
    backoff: RelayBackoff
    pool: ConnectionPool | None
    batch_size: int
    poll_interval: float
    idle_close: float
    stop_grace: float
    record_delay: float
    passes: int
    stopping: bool

    @property
    def queue(self) -> RunReads: ...
    @property
    def paused(self) -> bool: ...
    def holding_back(self) -> bool: ...
    def wake(self) -> None: ...
    async def process(self, msg: ClaimedMessage) -> None: ...
    async def flush(self, claim: int = 0) -> list[ClaimedMessage]: ...
    async def expire_overdue(self) -> None: ...
    async def hold_due(self) -> bool: ...
    async def probe(self) -> bool: ...


class Running:
    """The state of one run: its feed, its wake-up, the sends in flight. Made and driven by ``Worker.run``."""

    def __init__(self, worker: Driver, stop: asyncio.Event, until: Until = Until.STOPPED):
        self.worker = worker
        self.stop = stop
        self.until = until
        self.poke = asyncio.Event()  # look at the queue now
        self.record_signal = asyncio.Event()  # outcomes are waiting to be written
        self.landed = asyncio.Event()  # set while no send is in flight
        self.landed.set()
        self.feed: asyncio.Queue[ClaimedMessage | None] = asyncio.Queue()
        self.in_flight = 0
        self.writing = False  # the recorder is writing a batch (its outcomes are no longer pending, nor committed)
        self.live = True  # the recorder writes outcomes as they come; cleared to end it
        self.failure: SendingStoppedError | None = None  # why sending stopped on its own (run() raises it)

    def outcome_added(self) -> None:
        if self.live:
            self.record_signal.set()

    def fail(self, exc: SendingStoppedError) -> None:
        """Send nothing more: the senders give back what they take from the feed, the loop ends, run() raises."""
        if self.failure is None:
            self.failure = exc
        self.worker.stopping = True
        self.poke.set()

    def _watched(self, task: asyncio.Task[Any], what: str) -> asyncio.Task[Any]:
        """``task``, whose unexpected end is logged with its traceback and stops sending: a dead recorder would
        leave mail going out with nothing recorded, a dead sender a feed nobody empties."""

        def ended(t: asyncio.Task[Any]) -> None:
            if t.cancelled() or t.exception() is None:
                return
            exc = t.exception()
            log.error("delivery: the %s failed; sending stops", what, exc_info=exc)
            self.fail(SendingStoppedError(f"the {what} failed ({type(exc).__name__}: {exc})"))

        task.add_done_callback(ended)
        return task

    async def go(self, pool: ConnectionPool) -> None:
        w = self.worker
        loop = asyncio.get_running_loop()
        poke, feed, stop = self.poke, self.feed, self.stop
        stop_watch = loop.create_task(stop.wait())
        stop_watch.add_done_callback(lambda _: poke.set())
        low_water = pool.target.connections
        senders = [
            self._watched(loop.create_task(self._sender_loop(low_water)), "sender")
            for _ in range(pool.target.connections)
        ]
        recorder = self._watched(loop.create_task(self._recorder_loop()), "recorder")
        last_busy = loop.time()
        try:
            while not stop.is_set() and self.failure is None:
                poke.clear()
                w.passes += 1
                timeout = w.poll_interval
                try:
                    await w.hold.release()
                    await w.leases.renew()  # the feed's and the sends' leases, once half gone
                    now = w.clock.now()
                    if w.paused:
                        if self.until is Until.NOTHING_DUE and not self.in_flight:
                            break
                    elif w.backoff.active(now):
                        await w.expire_overdue()
                        if await w.hold_due():
                            continue  # more to hold: one batch per turn, so stop and wake stay prompt
                        if self.until is Until.NOTHING_DUE and not (
                            self.in_flight or self.writing or w.recorder.pending
                        ):
                            break  # all that was due is held for the relay's next try
                        timeout = min(timeout, max(0.0, w.backoff.until - now))
                    elif w.backoff.unwell:
                        await w.probe()  # one connection: is the relay back? (either way, look again)
                        continue
                    elif feed.qsize() < low_water:
                        want = w.batch_size - feed.qsize()
                        claimed = await w.leases.claim(want)
                        for msg in claimed:
                            feed.put_nowait(msg)
                        if claimed:
                            last_busy = loop.time()
                            if len(claimed) == want:
                                continue
                        elif feed.empty() and not self.in_flight and not self.writing and not w.recorder.pending:
                            if self.until is Until.NOTHING_DUE:
                                break
                            if self.until is Until.IDLE and self._queue_idle():
                                break
                            if pool.idle_count and loop.time() - last_busy > w.idle_close:
                                await pool.close_idle()
                            due = w.queue.next_due_at()
                            if due is not None:
                                timeout = min(timeout, max(0.0, due - now))
                except SendingStoppedError as exc:  # outcomes could not be written (expire_overdue records some)
                    self.fail(exc)
                except Error as exc:  # the queue file is busy, full or gone: say so, keep trying (nothing is sent)
                    log.error("delivery: cannot use the queue now: %s", exc)
                    timeout = w.poll_interval
                except Exception as exc:  # a bug, or the file failing in a way we did not foresee: stop, say why
                    log.exception("delivery: unexpected failure; sending stops")
                    self.fail(SendingStoppedError(f"unexpected failure ({type(exc).__name__}: {exc})"))
                if self.in_flight or not feed.empty():
                    last_busy = loop.time()
                if not poke.is_set():
                    try:
                        async with asyncio.timeout(timeout):
                            await poke.wait()
                    except TimeoutError:
                        pass
        finally:
            await self._shut_down(senders, recorder, stop_watch)
        if self.failure is not None:
            raise self.failure

    async def _sender_loop(self, low_water: int) -> None:
        w, feed = self.worker, self.feed
        while True:
            msg = await feed.get()
            if msg is None:
                return
            if feed.qsize() < low_water:
                w.wake()
            self.in_flight += 1
            self.landed.clear()
            try:
                await w.process(msg)
            finally:
                self.in_flight -= 1
                if not self.in_flight:
                    self.landed.set()
                    w.wake()

    async def _recorder_loop(self) -> None:
        """Writes outcomes as sends end. Stopped by clearing ``live`` and setting the signal, never cancelled:
        a cancelled write still waiting for the queue thread would never run, and its sends (delivered) would
        go back to the queue and be sent again."""
        w = self.worker
        while True:
            await self.record_signal.wait()
            self.record_signal.clear()
            if not self.live:
                return
            if not w.recorder.pending:
                continue  # a signal for outcomes an earlier write already took
            if w.record_delay and not self.landed.is_set():
                # Let the sends in flight end for up to record_delay: one commit for all. Once none is in
                # flight, nothing more would join: write now (the last outcomes of a run, a lone message).
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(w.record_delay):
                        await self.landed.wait()
            want = 0
            if not w.holding_back() and not w.backoff.unwell:
                # The same commit refills the senders' feed: as many as this batch took out, and a batch more,
                # so it lasts until the next commit and the loop need not pay a commit of its own to claim.
                want = max(0, w.batch_size + len(w.recorder.pending) - self.feed.qsize())
            self.writing = True
            try:
                claimed = await w.flush(want)
            except SendingStoppedError as exc:  # logged by the recorder, with its traceback
                self.fail(exc)
                return
            finally:
                self.writing = False
            for msg in claimed:
                self.feed.put_nowait(msg)
            w.wake()

    async def _shut_down(
        self, senders: list[asyncio.Task[None]], recorder: asyncio.Task[None], stop_watch: asyncio.Task[bool]
    ) -> None:
        w, feed = self.worker, self.feed
        w.stopping = True
        stop_watch.cancel()
        while not feed.empty():
            msg = feed.get_nowait()
            if msg is not None:
                await w.leases.release(msg)
        for _ in senders:
            feed.put_nowait(None)
        _, late = await asyncio.wait(senders, timeout=w.stop_grace)
        for task in late:
            log.warning("stopping: abandoning a send in flight after %g s (its lease is given back)", w.stop_grace)
            task.cancel()
        self.live = False
        self.record_signal.set()  # the recorder finishes the write it is doing, then ends
        await asyncio.gather(*senders, recorder, stop_watch, return_exceptions=True)
        try:
            await w.flush()
        except SendingStoppedError as exc:  # logged by the recorder, with its traceback
            self.fail(exc)
        w.recorder.summarize(w.clock.now(), final=True)
        keep = frozenset(w.leases.unrecorded)  # sent, not recorded: given back, they would be sent again at once
        try:
            released = await w.db.call(lambda q: q.release_all(w.owner, keep=keep))
            if released:
                log.info("stopping: gave back %d leases", released)
        except Exception:
            log.exception("stopping: could not give the leases back (they expire on their own)")
        if keep:
            log.warning(
                "stopping: %d messages sent but not recorded stay leased; they are sent again when their leases "
                "run out",
                len(keep),
            )
        if w.pool is not None:
            await w.pool.close()
        await w.db.close()

    def _queue_idle(self) -> bool:
        counts = self.worker.queue.counts_by_status()
        return not any(counts.get(s, 0) for s in (Status.QUEUED, Status.SENDING, Status.DEFERRED))
