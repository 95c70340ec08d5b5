"""Wires the delivery worker and the built-in local relay together, for the GUI and the command line.

``start_services`` runs them inside the caller's loop (the GUI's qasync loop, or ``asyncio.run`` for the
headless worker): with ``relay.mode = local`` (the default) the built-in relay listens on 127.0.0.1 and the
worker delivers to it; with ``relay.mode = smtp`` the worker delivers to the ``relay.*`` server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mailgui.clock import Clock, SystemClock
from mailgui.delivery import RelayTarget, Worker, WorkerEvent, local_relay_target, relay_from_settings
from mailgui.delivery.bounce_poller import BouncePoller
from mailgui.delivery.webhooks import WebhookSender
from mailgui.errors import Error, SendingStoppedError
from mailgui.logsetup import configure_logging
from mailgui.queue import Queue, Status
from mailgui.settings import Settings

if TYPE_CHECKING:
    from mailgui.relay import LocalRelay

log = logging.getLogger(__name__)


@dataclass
class Services:
    """The worker (and the built-in relay, in local mode) running in this loop. ``await stop()`` ends them."""

    queue: Queue
    worker: Worker
    target: RelayTarget
    local_relay: LocalRelay | None
    task: asyncio.Task[None]
    stop_event: asyncio.Event = field(default_factory=asyncio.Event)
    bounce_reader: asyncio.Task[None] | None = None  # reads the bounce mailbox while delivery runs
    webhooks: asyncio.Task[None] | None = None  # POSTs the event stream to events.webhook.url

    @property
    def relay_port(self) -> int | None:
        """The built-in relay's port (local mode), for other programs to point at."""
        return self.local_relay.port if self.local_relay is not None else None

    def wake(self) -> None:
        """Something was just queued: look now rather than at the next poll."""
        self.worker.wake()

    async def wait(self) -> None:
        """Until the worker returns (``until_idle``, or stopped)."""
        await asyncio.shield(self.task)

    async def stop(self) -> None:
        """Stop the worker (sends in flight finish or give their lease back), then the relay; close the file."""
        self.stop_event.set()
        for task in (self.bounce_reader, self.webhooks):
            if task is not None:
                await asyncio.gather(task, return_exceptions=True)  # a read or a POST in progress ends first
        try:
            await self.task
        except asyncio.CancelledError:
            if not self.task.cancelled():
                raise
        except Exception:
            pass  # logged when the task ended (_log_failure); a worker that stopped sending also says so in its state
        finally:
            if self.local_relay is not None:
                await self.local_relay.stop()
            self.queue.close()


async def start_services(
    queue_path: str | Path,
    clock: Clock | None = None,
    *,
    relay: RelayTarget | None = None,
    until_idle: bool = False,
    listener: Callable[[WorkerEvent], object] | None = None,
    **worker_options: Any,
) -> Services:
    """Start delivery for the queue at ``queue_path`` in the running loop, and return at once.

    ``relay`` overrides the settings (tests). ``listener`` is subscribed before the worker's first event.
    ``worker_options`` go to :class:`~mailgui.delivery.Worker` (``lease_seconds``, ``poll_interval``, ...).
    Raises mailgui.errors.Error when delivery cannot start (no relay host set, local relay port taken).
    """
    clock = clock or SystemClock()
    queue = Queue(queue_path, clock=clock)
    local: LocalRelay | None = None
    try:
        settings = Settings(queue)
        if relay is not None:
            target = relay
        elif settings.get("relay.mode") == "local":
            local = _local_relay(queue_path, settings.get_int("local_relay.port"), clock)
            port = await local.start()
            target = local_relay_target(
                port, timeout=settings.get_float("relay.timeout"), connections=settings.get_int("worker.connections")
            )
        else:
            target = relay_from_settings(settings)
        return_path = settings.get("bounces.return_path")
        if return_path:  # VERP on: the key its tokens are made with (made at first use, kept in the queue)
            worker_options = {"return_path": return_path, "verp_key": queue.verp_key(), **worker_options}
        worker = Worker(queue, clock=clock, relay=target, **worker_options)
    except BaseException:
        if local is not None:
            await local.stop()
        queue.close()
        raise
    if listener is not None:
        worker.subscribe(listener)
    stop = asyncio.Event()
    task = asyncio.get_running_loop().create_task(worker.run(stop, until_idle=until_idle), name="mailgui-worker")
    task.add_done_callback(_log_failure)
    reader = hooks = None
    if not until_idle:  # a run that ends when the queue is empty does not wait for mail to come back
        loop = asyncio.get_running_loop()
        poller = BouncePoller(queue_path, worker.owner, clock)
        reader = loop.create_task(poller.run(stop), name="mailgui-bounce-reader")
        reader.add_done_callback(_log_failure)
        if settings.get("events.webhook.url"):  # off: no task (a change of settings restarts the services)
            hooks = loop.create_task(WebhookSender(queue_path, clock).run(stop), name="mailgui-webhooks")
            hooks.add_done_callback(_log_failure)
    log.info("delivering %s to %s", queue_path, "the built-in relay" if local else target.name)
    return Services(queue, worker, target, local, task, stop, reader, hooks)


def _log_failure(task: asyncio.Task[None]) -> None:
    """The worker's (or the bounce reader's) task ended with an error: logged now, with its traceback."""
    if task.cancelled() or task.exception() is None:
        return
    if isinstance(task.exception(), SendingStoppedError):
        return  # logged with its traceback where it happened (the recorder, the run's loop)
    log.error("the delivery worker failed", exc_info=task.exception())


def _local_relay(queue_path: str | Path, port: int, clock: Clock) -> LocalRelay:
    try:
        from mailgui.relay import LocalRelay
    except ImportError as exc:  # a build without the relay: say so rather than fail obscurely
        raise Error(f"relay.mode: the built-in local relay is not available ({exc}); set relay.mode to smtp") from exc
    return LocalRelay(queue_path, port=port, clock=clock)


def run_worker(db: Path, *, until_idle: bool = False, verbose: bool = False) -> int:
    """``mailgui worker``: deliver until Ctrl+C / SIGTERM (or, ``until_idle``, until nothing is left to send)."""

    async def main() -> None:
        services = await start_services(db, until_idle=until_idle)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):  # Windows: Ctrl+C still ends asyncio.run
                loop.add_signal_handler(signum, services.stop_event.set)
        where = f"built-in relay on 127.0.0.1:{services.relay_port}" if services.local_relay else services.target.name
        print(f"mailgui worker delivering {db} via {where}; Ctrl+C stops it", flush=True)
        try:
            await services.wait()
        finally:
            await services.stop()
        with Queue(db) as queue:
            counts = queue.counts_by_status()
        summary = ", ".join(f"{counts.get(s, 0)} {s}" for s in Status if counts.get(s, 0)) or "queue empty"
        print(f"mailgui worker stopped: {summary}", flush=True)

    stopped: SendingStoppedError | None = None
    with configure_logging(level=logging.DEBUG if verbose else logging.INFO):
        try:
            asyncio.run(main())
        except KeyboardInterrupt:
            print("mailgui worker interrupted", file=sys.stderr)
            return 130
        except SendingStoppedError as exc:  # logged with its traceback where it happened
            stopped = exc
    if stopped is not None:  # after the log's last lines: the one line that says why it ended
        print(stopped, file=sys.stderr)
        return 1
    return 0


def run_local_relay(db: Path, *, port: int) -> int:
    """``mailgui local-relay``: serve the built-in relay on 127.0.0.1 until Ctrl+C or SIGTERM."""
    from mailgui.relay import LocalRelay

    async def serve() -> None:
        relay = LocalRelay(db, port=port)
        bound = await relay.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):  # Windows: Ctrl+C still ends asyncio.run
                loop.add_signal_handler(signum, stop.set)
        print(f"mailgui local relay listening on {relay.host}:{bound} (mailbox in {db}); Ctrl+C stops it", flush=True)
        try:
            await stop.wait()
        finally:
            await relay.stop()
        print("mailgui local relay stopped", flush=True)

    with configure_logging():  # one line per message taken or refused; aiosmtpd's chatter only if bad
        asyncio.run(serve())
    return 0
