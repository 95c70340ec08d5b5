"""Reads the bounce mailbox (``bounces.imap.*``) every ``bounces.imap.poll_interval`` while delivery runs: in the
app and in ``mailgui worker``. Late bounces and complaints reach the queue with nobody asking.

One reader per queue file, however many workers share it: each read is taken under a lease in the queue
(``take_lease``), held for two intervals, renewed by the holder. The read itself (imaplib, blocking, and the
queue writes) runs on a thread with a connection of its own, so the event loop (the GUI's) never waits on the
mailbox or on a commit. A mailbox that cannot be read is one warning line, repeated only when the reason changes;
delivery goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path

from mailgui.clock import Clock, SystemClock
from mailgui.delivery.imap_reader import fetch_once
from mailgui.errors import Error
from mailgui.queue import Queue
from mailgui.settings import Settings

log = logging.getLogger(__name__)

LEASE = "bounces.imap.reader"
NOT_SET_UP_CHECK = 60.0  # seconds between looks at the settings while no mailbox is set


class BouncePoller:
    def __init__(self, queue_path: str | Path, owner: str, clock: Clock | None = None):
        self.queue_path = Path(queue_path)
        self.owner = owner
        self.clock: Clock = clock or SystemClock()
        self.last_error: str | None = None
        self.reads = 0  # reads made (not counting those another worker made)

    async def run(self, stop: asyncio.Event) -> None:
        """Read, wait the interval (or until ``stop``), read again."""
        # A thread of its own, ended with the run (the loop's default executor may be qasync's QThreads,
        # which outlive the window).
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mailgui-bounce-reader")
        try:
            while not stop.is_set():
                interval = await self.read_once(executor)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), interval)
        finally:
            executor.shutdown(wait=False)  # idle by now: its thread ends at once

    async def read_once(self, executor: Executor | None = None) -> float:
        """One read if the mailbox is set up and no other worker holds the reader's lease; the seconds until the
        next look."""
        return await asyncio.get_running_loop().run_in_executor(executor, self._read_in_thread)

    def _read_in_thread(self) -> float:
        with Queue(self.queue_path, clock=self.clock) as queue:
            settings = Settings(queue)
            if not settings.get("bounces.imap.host"):
                return NOT_SET_UP_CHECK
            interval = max(settings.get_float("bounces.imap.poll_interval"), 1.0)
            if not queue.take_lease(LEASE, self.owner, 2 * interval):
                return interval  # another worker reads this queue's mailbox
            try:
                got = asyncio.run(fetch_once(queue, settings))
            except Error as exc:
                if str(exc) != self.last_error:
                    log.warning("bounce mailbox: %s; trying again in %.0f s", exc, interval)
                self.last_error = str(exc)
                return interval
            self.reads += 1
            if self.last_error is not None:
                log.info("bounce mailbox: read again")
            self.last_error = None
            new = [r for r in got if not r.duplicate]
            if new:
                log.info("bounce mailbox: %d new report(s)", len(new))
            return interval
