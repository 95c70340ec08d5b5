"""Counts by state for the status bar, read off the GUI thread.

Counting a million messages by state takes ~80 ms in SQLite (a scan of the status index), longer than a frame:
so the count runs on a thread of its own, over a connection of its own, and the window awaits it.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from mailgui.queue import Queue

log = logging.getLogger(__name__)


class CountsReader:
    """``await read(seen_at)`` → (messages per state, failed recipients, deferrals since ``seen_at``).

    One thread, one connection, opened lazily.
    """

    def __init__(self, path: str):
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mailgui-counts")
        self._queue: Queue | None = None  # created, used and closed on the executor's thread only

    def _read(self, seen_at: float) -> tuple[dict[str, int], int, int]:
        if self._queue is None:
            self._queue = Queue(self.path)
        q = self._queue
        return q.counts_by_status(), q.count_bounces(), q.count_deferred_since(seen_at)

    def _close(self) -> None:
        if self._queue is not None:
            self._queue.close()
            self._queue = None

    async def read(self, seen_at: float) -> tuple[dict[str, int], int, int]:
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._read, seen_at)

    def close(self) -> None:
        """Finish a read in progress, close the connection and end the thread."""
        try:
            self._executor.submit(self._close)
        except RuntimeError:  # already shut down
            return
        self._executor.shutdown(wait=True)
