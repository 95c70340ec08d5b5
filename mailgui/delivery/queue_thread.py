"""The worker's writes to the queue, on a thread of their own, so a commit's fsync never stalls the event loop.

Every commit waits for its fsync (WAL, synchronous=FULL): 0.2 ms on a quiet disk, many milliseconds on a busy
one. Done in the loop, that wait would stop every SMTP session (and, in the GUI, the window). Here the worker
has its own connection to the queue file, used only from one thread; sqlite3 lets go of the GIL while SQLite
works, so the loop goes on sending meanwhile.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from mailgui.clock import Clock
from mailgui.queue import Queue

T = TypeVar("T")


class QueueThread:
    """``await qt.call(lambda q: q.claim_due(...))``: runs on the thread's own Queue. Opened on first use."""

    def __init__(self, path: str | Path, clock: Clock):
        self.path = path
        self.clock = clock
        self._executor: ThreadPoolExecutor | None = None
        self._queue: Queue | None = None
        self._lock = threading.Lock()

    def _run(self, fn: Callable[[Queue], T]) -> T:
        with self._lock:
            if self._queue is None:
                self._queue = Queue(self.path, clock=self.clock)
            return fn(self._queue)

    async def call(self, fn: Callable[[Queue], T]) -> T:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="mailgui-queue")
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._run, fn)

    def _close_queue(self) -> None:
        with self._lock:
            if self._queue is not None:
                self._queue.close()
                self._queue = None

    async def close(self) -> None:
        """Close the connection and end the thread (after the calls already submitted)."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        await asyncio.get_running_loop().run_in_executor(executor, self._close_queue)
        executor.shutdown(wait=True)
