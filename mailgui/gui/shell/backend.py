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
from mailgui.gui.settings.pane import RelayForm
from mailgui.gui.shell.worker_status import WorkerStatus

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

    def wake(self) -> None:
        """Something was just queued: deliver now rather than at the next poll."""


class WorkerBackend(Backend):
    """``mailgui.service.start_services`` in this loop (worker, plus the built-in relay in local mode)."""

    def __init__(self, db: Path, *, clock: Clock | None = None, **options: Any):
        super().__init__()
        self.db = Path(db)
        self.clock = clock or SystemClock()
        self.options = options  # for the Worker: poll_interval, lease_seconds, ... (tests)
        self.services: Any = None
        self._paused = False
        self._changed_ids: set[int] = set()
        self._state: Any = None
        self._flush_scheduled = False

    async def start(self) -> None:
        from mailgui.service import start_services

        self.on_status(WorkerStatus("starting"))
        try:
            self.services = await start_services(self.db, clock=self.clock, listener=self._event, **self.options)
        except Error as exc:
            log.error("delivery did not start: %s", exc)
            self.on_status(WorkerStatus("stopped", reason=str(exc)))
            return
        if self._paused:
            self.services.worker.pause()
        self._publish_state(self.services.worker.state)

    def _event(self, event: Any) -> None:
        """A worker event. Only noted here: the window hears of it on the next loop turn, out of the worker's
        call stack, with every id changed meanwhile in one call (the window then coalesces further)."""
        from mailgui.delivery import MessageEvent, StateEvent

        if isinstance(event, MessageEvent):
            self._changed_ids.add(event.message_id)
            if event.report_id is not None:
                self._changed_ids.add(event.report_id)
        elif isinstance(event, StateEvent):
            self._state = event.state
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        ids, self._changed_ids = self._changed_ids, set()
        state, self._state = self._state, None
        if ids:
            self.on_changed(sorted(ids))
        if state is not None:
            self._publish_state(state)

    def _publish_state(self, state: Any) -> None:
        name = str(state.name)
        if name == "unreachable":
            self.on_status(WorkerStatus("unreachable", since=state.since, reason=state.reason))
        elif name == "failed":  # sending stopped on its own (outcomes could not be recorded)
            self.on_status(WorkerStatus("failed", reason=state.reason))
        elif name in ("running", "paused", "stopped"):
            self.on_status(WorkerStatus(name, reason=state.reason if name == "stopped" else ""))
        else:
            log.warning("unknown worker state %r", state)
            self.on_status(WorkerStatus("running"))

    @property
    def worker(self) -> Any:
        return None if self.services is None else self.services.worker

    async def stop(self) -> None:
        """In-flight sends finish or give their lease back; the built-in relay stops; the worker's file closes."""
        services, self.services = self.services, None
        if services is not None:
            await services.stop()
        self.on_status(WorkerStatus("stopped"))

    def pause(self) -> None:
        self._paused = True
        if self.services is not None:
            self.services.worker.pause()
        else:
            self.on_status(WorkerStatus("paused"))

    def resume(self) -> None:
        self._paused = False
        if self.services is not None:
            self.services.worker.resume()

    def wake(self) -> None:
        if self.services is not None:
            self.services.wake()


async def test_connection(form: RelayForm) -> str:
    """Settings' Test connection: the delivery layer's own check (connect, TLS, AUTH, QUIT; no mail sent).

    Returns what happened on success; raises Error with the exact failure otherwise.
    """
    from mailgui.delivery import test_connection as check

    result = await check(form.values, password=form.password)
    if not result.ok:
        raise Error(result.message)
    return result.message


test_connection.__test__ = False  # type: ignore[attr-defined]  # a library function, not a pytest test
