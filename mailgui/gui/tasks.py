"""Background coroutines started from widgets: referenced until done, failures logged, cancelled on close."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class TaskSet:
    """Keeps a strong reference to every task it starts (asyncio keeps only weak ones) and logs failures."""

    def __init__(self, name: str):
        self.name = name
        self._tasks: set[asyncio.Task[Any]] = set()

    def start(
        self, coro: Coroutine[Any, Any, T], *, on_done: Callable[[asyncio.Task[T]], None] | None = None
    ) -> asyncio.Task[T]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)

        def finished(t: asyncio.Task[T]) -> None:
            self._tasks.discard(t)
            if on_done is not None:
                on_done(t)  # the caller shows the outcome, failures included
            elif not t.cancelled() and t.exception() is not None:
                log.error("%s: background task %s failed", self.name, t.get_name(), exc_info=t.exception())

        task.add_done_callback(finished)
        return task

    def __len__(self) -> int:
        return len(self._tasks)

    async def cancel_all(self) -> None:
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def wait_all(self) -> None:
        """Let the tasks running now finish (their failures are logged by their done callbacks)."""
        tasks = list(self._tasks)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
