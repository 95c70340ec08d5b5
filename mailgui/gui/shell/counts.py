"""Counts by state for the status bar, read off the GUI thread.

Counting a million messages by state takes ~80 ms in SQLite (a scan of the status index), longer than a frame:
so the count runs on a thread of its own, over a connection of its own (:class:`CountsReader`), and the label
that shows it awaits it (:class:`CountsLabel`), then tells the badge what is new.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from PySide6.QtWidgets import QLabel, QWidget

from mailgui.errors import Error
from mailgui.gui.shell.badge import NewMailBadge, Totals, read_totals
from mailgui.gui.tasks import TaskSet
from mailgui.queue import Queue, Status

log = logging.getLogger(__name__)


class CountsReader:
    """``await read(seen_at)`` → (messages per state, the badge's totals, deferrals since ``seen_at``).

    One thread, one connection, opened lazily.
    """

    def __init__(self, path: str):
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mailgui-counts")
        self._queue: Queue | None = None  # created, used and closed on the executor's thread only

    def _read(self, seen_at: float) -> tuple[dict[str, int], Totals, int]:
        if self._queue is None:
            self._queue = Queue(self.path)
        q = self._queue
        return q.counts_by_status(), read_totals(q), q.count_deferred_since(seen_at)

    def _close(self) -> None:
        if self._queue is not None:
            self._queue.close()
            self._queue = None

    async def read(self, seen_at: float) -> tuple[dict[str, int], Totals, int]:
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._read, seen_at)

    def close(self) -> None:
        """Finish a read in progress, close the connection and end the thread."""
        try:
            self._executor.submit(self._close)
        except RuntimeError:  # already shut down
            return
        self._executor.shutdown(wait=True)


class CountsLabel(QLabel):
    """ "2 queued · 1 deferred · 40 sent": read on the counts thread when a loop runs, else at once (tests without
    one); reads asked for while one is under way make one more read after it, not one each."""

    ORDER = (Status.QUEUED, Status.SENDING, Status.DEFERRED, Status.SENT, Status.BOUNCED, Status.CANCELLED)

    def __init__(self, queue: Queue, badge: NewMailBadge, tasks: TaskSet, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("countsLabel")
        self.queue = queue
        self.badge = badge
        self.tasks = tasks
        self.reader = CountsReader(queue.path)
        self._task: asyncio.Task[None] | None = None
        self._dirty = False
        self._closed = False

    def refresh(self) -> None:
        if self._closed:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            try:
                q = self.queue
                self._show(q.counts_by_status(), read_totals(q), q.count_deferred_since(self.badge.seen_at()))
            except Error as exc:
                self._failed(exc)
            return
        if self._task is not None and not self._task.done():
            self._dirty = True  # read again when the read in flight returns
            return
        self._task = self.tasks.start(self._read())

    async def _read(self) -> None:
        while True:
            self._dirty = False
            try:
                counts, totals, deferrals = await self.reader.read(self.badge.seen_at())
            except Error as exc:
                self._failed(exc)
                return
            if self._closed:
                return
            self._show(counts, totals, deferrals)
            if not self._dirty:
                return

    def _show(self, counts: dict[str, int], totals: Totals, deferrals: int) -> None:
        parts = [f"{counts.get(s, 0)} {s}" for s in self.ORDER if counts.get(s, 0) or s in (Status.QUEUED, Status.SENT)]
        self.setText(" · ".join(parts))
        self.setToolTip(self.text())  # whole, when the window is too narrow to show it all
        try:
            self.badge.show_new(totals, deferrals)
        except Error as exc:
            self._failed(exc)

    def _failed(self, exc: Error) -> None:
        self.setText(f"Queue file problem: {exc}")
        log.error("status bar: counts failed: %s", exc)

    def close_reader(self) -> None:
        """For good: no count starts after this, and the counts thread ends."""
        self._closed = True
        if self._task is not None:
            # A count scheduled before the close may not have begun: it would submit to the thread ended below.
            self._task.cancel()
        self.reader.close()  # ends the counts thread and its connection
