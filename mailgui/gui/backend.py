"""The delivery worker (and built-in relay) as the GUI sees them: start, stop, pause, and their events.

The worker runs in the GUI's own loop and knows nothing of Qt: it hands over plain events, which this adapter
turns into "these message ids changed" and "the worker is now in this state" callbacks for the window.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from mailgui.clock import Clock, SystemClock
from mailgui.errors import Error
from mailgui.gui.main_window import WorkerStatus
from mailgui.gui.settings_pane import RelayForm

log = logging.getLogger(__name__)


class Backend:
    """What the app drives. Subclasses deliver; this one does nothing (a window with no worker)."""

    def __init__(self) -> None:
        self.on_changed: Callable[[Iterable[int]], None] = lambda ids: None
        self.on_status: Callable[[WorkerStatus], None] = lambda status: None

    async def start(self) -> None:
        self.on_status(WorkerStatus("stopped", reason="no delivery worker in this window"))

    async def stop(self) -> None:
        pass

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    def pause(self) -> None:
        pass

    def resume(self) -> None:
        pass


class WorkerBackend(Backend):
    """``mailgui.service.start_services`` in this loop, its events forwarded to the window."""

    def __init__(self, db: Path, *, clock: Clock | None = None, **options: Any):
        super().__init__()
        self.db = Path(db)
        self.clock = clock or SystemClock()
        self.options = options
        self.services: Any = None
        self._events_task: asyncio.Task[None] | None = None
        self._paused = False

    async def start(self) -> None:
        try:
            from mailgui.service import start_services
        except ImportError:
            log.error("the delivery worker is not available in this build")
            self.on_status(WorkerStatus("stopped", reason="the delivery worker is not available in this build"))
            return
        self.on_status(WorkerStatus("starting"))
        try:
            self.services = await start_services(self.db, clock=self.clock, **self.options)
        except Error as exc:
            log.error("delivery worker did not start: %s", exc)
            self.on_status(WorkerStatus("stopped", reason=str(exc)))
            return
        worker = self.services.worker
        worker.subscribe(self._event)
        if self._paused:
            worker.pause()
        self._publish_state()

    def _event(self, event: Any) -> None:
        """A worker event (called in the loop). Message changes go to the window; state changes to the bar."""
        ids = getattr(event, "ids", None)
        if ids is None:
            message_id = getattr(event, "message_id", None)
            ids = [] if message_id is None else [message_id]
        if ids:
            self.on_changed(list(ids))
        self._publish_state()

    def _publish_state(self) -> None:
        if self.services is None:
            return
        worker = self.services.worker
        state = getattr(worker, "state", None)
        name = str(getattr(state, "name", state) or "running").lower()
        if self._paused:
            self.on_status(WorkerStatus("paused"))
        elif name in ("unreachable", "relay_unreachable", "backoff"):
            self.on_status(
                WorkerStatus(
                    "unreachable",
                    since=getattr(state, "since", None) or getattr(worker, "unreachable_since", None),
                    reason=str(getattr(state, "reason", "") or getattr(worker, "unreachable_reason", "") or ""),
                )
            )
        elif name in ("stopped", "stopping"):
            self.on_status(WorkerStatus("stopped"))
        else:
            self.on_status(WorkerStatus("running"))

    async def stop(self) -> None:
        services, self.services = self.services, None
        if services is not None:
            await services.stop()
        self.on_status(WorkerStatus("stopped"))

    def pause(self) -> None:
        self._paused = True
        if self.services is not None:
            self.services.worker.pause()
        self.on_status(WorkerStatus("paused"))

    def resume(self) -> None:
        self._paused = False
        if self.services is not None:
            self.services.worker.resume()
        self._publish_state()


async def test_connection(form: RelayForm) -> str:
    """Settings' Test connection: the delivery layer's own check (connect, TLS, AUTH; no mail sent)."""
    try:
        from mailgui.delivery import test_connection as check
    except ImportError:
        raise Error("test connection: the delivery layer is not available in this build") from None
    result = await check(form.values, password=form.password)
    return str(result)
