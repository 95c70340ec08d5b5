"""The delivery worker: claims due messages, sends them over reused connections, records what happened.

It is Postfix's queue manager and SMTP client in one asyncio object. Claims are leased, so two workers on one
queue file (the GUI's and a headless one) never send a message twice at once, and a killed worker's messages
come back when its leases run out. Outcomes are written in batches (one transaction for the sends that ended
together) on a thread of their own (``QueueThread``), so commits never stall the loop. When the relay as a
whole fails, the worker stops claiming and tries one connection again after a growing pause; meanwhile every
message due before then is deferred to that time with the relay's failure as its last reply (Postfix's
"delivery temporarily suspended"), a bounded batch per write, so the queue view says why mail waits and until
when; held mail that has waited ``bounce.delay_warning`` gets its delay warning there (``hold.py``).

Time comes from the injected clock: tests advance a FakeClock and call :meth:`Worker.run_once`; nothing sleeps.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import uuid
from collections.abc import Callable

from mailgui.bounces.verp import verp_address
from mailgui.clock import Clock
from mailgui.delivery.classify import RelayError, recipient_status
from mailgui.delivery.events import (
    FAILED,
    PAUSED,
    RUNNING,
    STOPPED,
    UNREACHABLE,
    EventHub,
    Listener,
    StateEvent,
    WorkerEvent,
    WorkerState,
)
from mailgui.delivery.hold import RelayHold
from mailgui.delivery.leases import Leases
from mailgui.delivery.policy import RelayBackoff, RetryPolicy
from mailgui.delivery.pool import ConnectionPool, RelayBackedOff
from mailgui.delivery.queue_thread import QueueThread
from mailgui.delivery.recorder import Recorder
from mailgui.delivery.reporting import FinishedAttempt, Reporter
from mailgui.delivery.running import Running, Until
from mailgui.delivery.target import RelayTarget, local_hostname
from mailgui.delivery.transport import PartlySent, RecipientReply
from mailgui.errors import SendingStoppedError
from mailgui.queue import Attempt, ClaimedMessage, Queue, RecipientResult, RecipientStatus
from mailgui.settings import Settings

log = logging.getLogger(__name__)

RelaySource = RelayTarget | Callable[[], RelayTarget]


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Worker:
    """Delivers what is due in ``queue`` to ``relay`` (a RelayTarget, or a function returning the current one).

    ``run()`` keeps going until ``stop`` is set (or, with ``until_idle``, until nothing is queued, sending or
    deferred); ``run_once()`` does what is due now and returns. Leases last ``lease_seconds`` (default: the
    ``worker.lease`` setting). Listen with :meth:`subscribe` (callback) or :meth:`events` (asyncio queue).

    The worker writes through a connection of its own to ``queue.path`` (on a helper thread); ``queue`` itself
    is only read, from the loop.
    """

    def __init__(
        self,
        queue: Queue,
        *,
        clock: Clock,
        relay: RelaySource,
        owner: str | None = None,
        lease_seconds: float | None = None,
        policy: RetryPolicy | None = None,
        relay_backoff: RelayBackoff | None = None,
        batch_size: int | None = None,
        poll_interval: float = 1.0,
        idle_close: float = 5.0,
        stop_grace: float = 5.0,
        record_delay: float = 0.02,
        reporting_mta: str | None = None,
        rng: random.Random | None = None,
        return_path: str = "",
        verp_key: bytes = b"",
    ):
        self.queue = queue
        # VERP (bounces.return_path): each message's envelope sender names it, so its bounce finds it.
        self.return_path = return_path
        self.verp_key = verp_key
        self.clock = clock
        self.owner = owner or default_owner()
        self.reporter = Reporter(reporting_mta or local_hostname())
        self.poll_interval = poll_interval
        self.idle_close = idle_close
        self.stop_grace = stop_grace
        self.record_delay = record_delay  # a send's outcome waits this long for others to share its commit
        self._relay_source = relay
        self._fixed_lease = lease_seconds
        self._fixed_policy = policy
        self._fixed_batch = batch_size
        self._rng = rng or random.Random()
        self.backoff = relay_backoff or RelayBackoff(rng=self._rng)
        self._custom_backoff = relay_backoff is not None
        self.hub = EventHub()
        self.db = QueueThread(queue.path, clock)
        self.pool: ConnectionPool | None = None
        self.policy: RetryPolicy = policy or RetryPolicy(rng=self._rng)
        self.delay_warning = 0.0
        self.batch_size = batch_size or 16
        self._paused = False
        self.stopping = False
        self._running = False
        self._state = WorkerState(STOPPED)
        self._stopped_by: SendingStoppedError | None = None  # why the last run stopped on its own, if it did
        self.passes = 0  # passes of run()'s loop begun; one begun after a wake() means that wake() was seen
        self._current: Running | None = None  # run()'s feed, wake-up and sends in flight, while it runs
        self._failure_at = 0.0  # loop time of the last relay failure
        self._failure: RelayError | None = None  # the relay's last failure (held mail is warned with it)
        self.hold = RelayHold(self.db, self.hub, self.reporter)
        self.leases = Leases(self.db, self.hub, self.owner, clock, lease_seconds or 300.0)
        self.recorder = Recorder(self.db, self.owner, self.reporter, self.hub, self.leases)

    # -- listeners and control ------------------------------------------------------------------------
    def subscribe(self, callback: Listener) -> Callable[[], None]:
        """Call ``callback(event)`` in the loop for each MessageEvent / StateEvent; returns an unsubscriber."""
        return self.hub.subscribe(callback)

    def events(self, maxsize: int = 0) -> asyncio.Queue[WorkerEvent]:
        """An asyncio queue receiving every event from now on."""
        return self.hub.queue(maxsize)

    @property
    def state(self) -> WorkerState:
        return self._state

    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        """Stop taking messages (those being sent finish). Claimed but unstarted ones go back to the queue."""
        self._paused = True
        self._update_state()
        self.wake()

    def resume(self) -> None:
        self._paused = False
        self._update_state()
        self.wake()

    def wake(self) -> None:
        """Look at the queue now (a message was just queued or retried), not at the next poll."""
        if self._current is not None:
            self._current.poke.set()

    def _update_state(self) -> None:
        if not self._running:
            new = WorkerState(FAILED, reason=self._stopped_by.reason) if self._stopped_by else WorkerState(STOPPED)
        elif self._paused:
            new = WorkerState(PAUSED)
        elif self.backoff.unwell:
            new = WorkerState(UNREACHABLE, self.backoff.since, self.backoff.reason, self.backoff.until)
        else:
            new = WorkerState(RUNNING)
        if new != self._state:
            self._state = new
            if new.name == FAILED:
                log.error("%s", new)
            elif new.name == UNREACHABLE:
                log.warning("%s", new)
            else:
                log.info("worker %s", new)
            self.hub.publish(StateEvent(new))

    # -- configuration --------------------------------------------------------------------------------
    def _target(self) -> RelayTarget:
        source = self._relay_source
        return source if isinstance(source, RelayTarget) else source()

    async def _prepare(self) -> ConnectionPool:
        """Read the settings (retry policy, lease, delay warning) and the relay, as they are now."""
        target = self._target()
        old, pool = self.pool, self.pool
        fresh = pool is None or pool.target != target
        if pool is None or fresh:
            if old is not None:
                await old.close()
                self.backoff.record_success()  # another relay (settings changed): its own health, untried
                self._update_state()
            pool = self.pool = ConnectionPool(target)
        settings = Settings(self.queue)
        if self._fixed_policy is None:
            self.policy = RetryPolicy.from_settings(settings, rng=self._rng)
        if not self._custom_backoff:
            self.backoff.first = min(30.0, self.policy.min_backoff)
            self.backoff.longest = max(self.policy.max_backoff, self.backoff.first)
        self.leases.seconds = self._fixed_lease or settings.get_float("worker.lease")
        self.delay_warning = settings.get_float("bounce.delay_warning")
        self.batch_size = self._fixed_batch or 16 * target.connections  # bench/README: 64 beat 16 and 256
        if fresh and not self.backoff.unwell:
            self.hold.release_pending = True  # released once running (the state is said first)
        return pool

    # -- running: the machinery is in running.py; run() and run_once() drive the same loop ----------------
    async def run(self, stop: asyncio.Event | None = None, until_idle: bool = False) -> None:
        """Deliver until ``stop`` is set (or, ``until_idle``, until no message is queued, sending or deferred).

        Stopping finishes the sends in flight (up to ``stop_grace`` seconds, then abandons them), gives every
        lease back, and closes the connections.

        Raises SendingStoppedError (and the state turns ``failed``, with the reason) if it had to stop on its own:
        outcomes could not be recorded, so nothing more was sent (see ``running.py``). Run it again to go on.
        """
        try:
            await self._drive(stop or asyncio.Event(), Until.IDLE if until_idle else Until.STOPPED)
        finally:
            self._running = False
            self._update_state()

    async def run_once(self) -> int:
        """One pass of the same loop as :meth:`run`: deliver everything due now on the injected clock (reports it
        causes included; while the relay is left alone, hold what is due for its next try), then return how many
        attempts were recorded. The worker's state stays as the pass left it (running, unreachable, paused).

        Connections and the queue thread are closed again before it returns. Tests advance a FakeClock between
        passes; nothing sleeps.
        """
        if self._paused:  # a paused worker takes nothing (and a pass would have nothing to do)
            return 0
        before = self.recorded
        await self._drive(asyncio.Event(), Until.NOTHING_DUE)
        return self.recorded - before

    async def _drive(self, stop: asyncio.Event, until: Until) -> None:
        if self._current is not None:
            raise RuntimeError("this worker is already running")
        pool = await self._prepare()
        running = self._current = Running(self, stop, until)
        self.stopping = False
        self._stopped_by = None
        self._running = True
        self._update_state()
        try:
            await running.go(pool)
        except SendingStoppedError as exc:
            self._stopped_by = exc
            self._running = False
            raise
        finally:
            self.stopping = False
            self._current = None
            self._update_state()

    # -- holding back ---------------------------------------------------------------------------------
    def holding_back(self) -> bool:
        return self._paused or self.stopping or self.backoff.active(self.clock.now())

    def _gate(self) -> None:
        if self.holding_back():
            raise RelayBackedOff()

    # -- one message ------------------------------------------------------------------------------------
    async def process(self, msg: ClaimedMessage) -> None:
        try:
            await self._process(msg)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("message %d: delivery failed unexpectedly; it goes back to the queue", msg.id)
            await self.leases.release(msg)

    async def _process(self, msg: ClaimedMessage) -> None:
        if self.holding_back():
            await self.leases.release(msg)
            return
        if not await self.leases.keep(msg):
            return
        pool = self.pool
        assert pool is not None
        loop = asyncio.get_running_loop()
        started, t0 = self.clock.now(), loop.time()
        replies: list[RecipientReply] = []
        # Suppressed addresses are not sent to: each is settled as such, and the sender's report says why.
        unsent = tuple(RecipientResult(s.address, RecipientStatus.SUPPRESSED, None, s.note()) for s in msg.suppressed)
        recipients = msg.recipients
        if unsent:
            skipped = {s.address for s in msg.suppressed}
            recipients = tuple(a for a in recipients if a not in skipped)
        try:
            if recipients:  # none pending (all settled before a crash, or all suppressed): recording settles it
                sender = msg.sender
                if self.return_path and msg.kind == "normal" and sender:  # reports keep the null sender
                    sender = verp_address(self.return_path, msg.id, self.verp_key)
                replies, opened_at = await pool.send(self._gate, sender, recipients, msg.raw, msg.smtputf8)
                if self.backoff.unwell and opened_at > self._failure_at:
                    self._relay_recovered()
        except RelayBackedOff:
            await self.leases.release(msg)
            return
        except RelayError as exc:
            self._relay_failed(exc, loop.time())
            results = unsent + tuple(
                RecipientResult(a, RecipientStatus.PENDING, exc.code, str(exc)) for a in recipients
            )
            attempt = Attempt(started, loop.time() - t0, pool.target.name, results, error=str(exc))
            self._add_outcome(msg, attempt, {}, exc)
            return
        except PartlySent as partly:  # some recipients settled before the relay failed: they stand, once
            error = partly.error
            assert isinstance(error, RelayError)
            self._relay_failed(error, loop.time())
            done = partly.settled
            results = unsent + tuple(
                _result(done[a]) if a in done else RecipientResult(a, RecipientStatus.PENDING, error.code, str(error))
                for a in recipients
            )
            attempt = Attempt(started, loop.time() - t0, pool.target.name, results, error=str(error))
            self._add_outcome(msg, attempt, dict(done), error)
            return
        except asyncio.CancelledError:
            await self.leases.release(msg)
            raise
        results = unsent + tuple(_result(r) for r in replies)
        attempt = Attempt(started, loop.time() - t0, pool.target.name, results)
        self._add_outcome(msg, attempt, {r.address: r for r in replies}, None)

    # -- the relay's health -----------------------------------------------------------------------------
    def _relay_failed(self, exc: RelayError, at: float) -> None:
        self._failure_at = at
        self._failure = exc
        until = self.backoff.record_failure(self.clock.now(), str(exc))
        log.warning("relay failed (%s): %s; next try in %.0f s", exc.fault, exc, until - self.clock.now())
        self._update_state()

    def _relay_recovered(self) -> None:
        log.info("relay %s is answering again", self.pool.target.name if self.pool else "?")
        self.backoff.record_success()
        self._update_state()

    async def probe(self) -> bool:
        """After a backoff: one connection. True if the relay answered (the connection is kept for use)."""
        assert self.pool is not None
        loop = asyncio.get_running_loop()
        try:
            await self.pool.probe()
        except RelayError as exc:
            self._relay_failed(exc, loop.time())
            return False
        self._relay_recovered()
        return True

    async def hold_due(self) -> bool:
        """One batch of holding mail for the backed-off relay (and of its delay warnings); True if more."""
        remote = self.pool.target.host if self.pool else None
        return await self.hold.hold_due(self.backoff, self._failure, self.delay_warning, remote)

    async def expire_overdue(self) -> None:
        """While the relay is left alone, messages whose lifetime ran out are still given up (and reported)."""
        assert self.pool is not None
        now = self.clock.now()
        while claimed := await self.leases.claim(self.batch_size, expired_only=True):
            for msg in claimed:
                reason = f"not tried: {self.backoff.reason or 'the relay is unreachable'}"
                results = tuple(RecipientResult(a, RecipientStatus.PENDING, None, reason) for a in msg.recipients)
                self._add_outcome(msg, Attempt(now, 0.0, self.pool.target.name, results, error=reason), {}, None)
            await self.flush()

    # -- outcomes ---------------------------------------------------------------------------------------
    def _add_outcome(
        self,
        msg: ClaimedMessage,
        attempt: Attempt,
        replies: dict[str, RecipientReply],
        relay_error: RelayError | None,
    ) -> None:
        now = self.clock.now()
        if any(r.status == RecipientStatus.PENDING for r in attempt.results):
            retry_at = self.policy.retry_at(now, msg.attempts + 1, msg.expires_at)
        else:
            retry_at = now
        self.recorder.add(FinishedAttempt(msg, attempt, retry_at, replies, relay_error))
        if self._current is not None:
            self._current.outcome_added()

    async def flush(self, claim: int = 0) -> list[ClaimedMessage]:
        """Write the finished attempts; with ``claim``, lease up to that many more in the same commit."""
        self.recorder.remote_mta = self.pool.target.host if self.pool else None
        self.recorder.delay_warning = self.delay_warning
        claimed = await self.recorder.flush(claim, self.leases.seconds)
        return self.leases.took(claimed)

    @property
    def recorded(self) -> int:
        """Attempts written, over this worker's life."""
        return self.recorder.recorded

    async def aclose(self) -> None:
        """Close the connections and the queue thread (run and run_once do this themselves)."""
        if self.pool is not None:
            await self.pool.close()
        await self.db.close()


def _result(reply: RecipientReply) -> RecipientResult:
    return RecipientResult(reply.address, recipient_status(reply.outcome), reply.code, " ".join(reply.text.split()))
