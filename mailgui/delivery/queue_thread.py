"""The worker's writes to the queue, on a thread of their own, so a commit's fsync never stalls the event loop.

Every commit waits for its fsync (WAL, synchronous=FULL): 0.2 ms on a quiet disk, many milliseconds on a busy
one. Done in the loop, that wait would stop every SMTP session (and, in the GUI, the window). Here the worker
has its own connection to the queue file, used only from one thread; sqlite3 lets go of the GIL while SQLite
works, so the loop goes on sending meanwhile.

On Linux the thread runs at a lower priority (nice +10) than the rest of the process. When the cores are busy
(an SMTP relay on the same machine, the GUI painting), the scheduler then gives the event loop the core first:
the writes are background work that can wait a few milliseconds, the loop's sessions and the window cannot.
Measured with bench/deliver.py: the loop waited ~100 ms per 2,000 messages for a core, ~35 ms once this
thread was niced.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from mailgui.clock import Clock
from mailgui.queue import Queue, WorkerSide

T = TypeVar("T")

log = logging.getLogger(__name__)

NICENESS = 10  # added to the thread's nice value (Linux only: there a thread has a nice value of its own)


def lower_priority() -> None:
    """Make the calling thread yield the CPU to the rest of the process (Linux; elsewhere nothing happens, since
    setpriority there would apply to the whole process)."""
    if sys.platform != "linux":
        return
    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + NICENESS))
    except OSError as exc:  # not expected (a thread may always lower its own priority): run at the same one
        log.debug("could not lower the queue thread's priority: %s", exc)


class QueueThread:
    """``await qt.call(lambda q: q.claim_due(...))``: runs on the thread's own Queue. Opened on first use."""

    def __init__(self, path: str | Path, clock: Clock):
        self.path = path
        self.clock = clock
        self._executor: ThreadPoolExecutor | None = None
        self._queue: Queue | None = None
        self._lock = threading.Lock()

    def _run(self, fn: Callable[[WorkerSide], T]) -> T:
        with self._lock:
            if self._queue is None:
                self._queue = Queue(self.path, clock=self.clock)
            return fn(self._queue)

    async def call(self, fn: Callable[[WorkerSide], T]) -> T:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="mailgui-queue", initializer=lower_priority)
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
