"""What the worker tells its listeners (the GUI, the command line): plain records, delivered in the loop.

Listeners are plain callables or asyncio queues; nothing here knows about Qt. A listener that raises is logged
and kept; it cannot stop delivery.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from mailgui.queue import RecipientResult

log = logging.getLogger(__name__)

RUNNING = "running"
PAUSED = "paused"
UNREACHABLE = "unreachable"
STOPPED = "stopped"
FAILED = "failed"  # stopped on its own: outcomes could not be recorded (``reason`` says why); start it again


@dataclass(frozen=True)
class WorkerState:
    """``name``: running, paused, unreachable (relay backed off since ``since``, because ``reason``), stopped, or
    failed (sending stopped because outcomes could not be recorded: ``reason``)."""

    name: str
    since: float | None = None
    reason: str = ""
    retry_at: float | None = None  # unreachable: when the relay is tried again

    def __str__(self) -> str:
        if self.name == UNREACHABLE:
            when = f" since {datetime.fromtimestamp(self.since):%H:%M}" if self.since else ""
            return f"relay unreachable{when}: {self.reason}" if self.reason else f"relay unreachable{when}"
        if self.name == FAILED:
            return f"sending stopped: {self.reason}"
        return self.name + (f": {self.reason}" if self.reason else "")


@dataclass(frozen=True)
class MessageEvent:
    """One message changed: ``status`` is its new state (queued, sending, sent, deferred, bounced).

    ``recipients``: the per-recipient outcomes of the attempt that just ended (empty for claims and
    releases). ``report_id``: the delivery report queued to the sender because of this attempt, if any.
    """

    message_id: int
    status: str
    recipients: tuple[RecipientResult, ...] = ()
    error: str | None = None
    next_attempt_at: float | None = None
    report_id: int | None = None


@dataclass(frozen=True)
class StateEvent:
    """The worker's own state changed (running, paused, relay unreachable, stopped, failed)."""

    state: WorkerState


WorkerEvent = MessageEvent | StateEvent
Listener = Callable[[WorkerEvent], object]


class EventHub:
    """Fan-out of worker events to callbacks and asyncio queues."""

    def __init__(self) -> None:
        self._callbacks: list[Listener] = []
        self._queues: list[asyncio.Queue[WorkerEvent]] = []

    def subscribe(self, callback: Listener) -> Callable[[], None]:
        """Call ``callback(event)`` for every event; returns a function that unsubscribes it."""
        self._callbacks.append(callback)

        def unsubscribe() -> None:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

        return unsubscribe

    def queue(self, maxsize: int = 0) -> asyncio.Queue[WorkerEvent]:
        """A queue that receives every event (when full, new events are dropped and logged)."""
        q: asyncio.Queue[WorkerEvent] = asyncio.Queue(maxsize)
        self._queues.append(q)
        return q

    def unsubscribe_queue(self, q: asyncio.Queue[WorkerEvent]) -> None:
        if q in self._queues:
            self._queues.remove(q)

    @property
    def has_listeners(self) -> bool:
        return bool(self._callbacks or self._queues)

    def publish(self, event: WorkerEvent) -> None:
        for callback in list(self._callbacks):
            try:
                callback(event)
            except Exception:
                log.exception("worker event listener %r failed on %r", callback, event)
        for q in self._queues:
            try:
                q.put_nowait(event)
            except asyncio.QueueFull:
                log.warning("worker event queue full; dropped %r", event)
