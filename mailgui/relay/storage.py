"""The relay's side of the queue file: mailbox and simulator calls, run off the event loop.

The relay runs in the caller's loop (the GUI's, through qasync, or the headless worker's). A write to the
queue file fsyncs and may wait on another process's lock, so each call runs on one thread of its own; one
thread also keeps the calls on this connection in order. Messages that arrive together (on several
connections) are committed together, one fsync for the lot; each is answered only once it is committed.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from mailgui.bounces import Kind, is_own_report, parse_report
from mailgui.clock import Clock
from mailgui.queue import Queue, ReceivedReport

T = TypeVar("T")


class RelayStorage:
    def __init__(self, queue_path: str | Path, clock: Clock | None = None):
        self.queue_path = Path(queue_path)
        self.clock = clock
        self._executor: ThreadPoolExecutor | None = None
        self._queue: Queue | None = None
        self._arrivals: list[tuple[tuple[str, list[str], bytes, str], asyncio.Future[int]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def open(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mailgui-relay-db")
        try:
            self._queue = await self._run(Queue, self.queue_path, self.clock)
        except BaseException:
            self._executor.shutdown(wait=True)
            self._executor = None
            raise

    async def close(self) -> None:
        if self._executor is None:
            return
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)
        try:
            if self._queue is not None:
                await self._run(self._queue.close)
        finally:
            self._queue = None
            self._executor.shutdown(wait=True)
            self._executor = None

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        if self._executor is None:
            raise RuntimeError("the relay's queue file is not open")
        return await asyncio.get_running_loop().run_in_executor(self._executor, functools.partial(fn, *args))

    @property
    def queue(self) -> Queue:
        if self._queue is None:
            raise RuntimeError("the relay's queue file is not open")
        return self._queue

    async def store_received(self, mail_from: str, rcpt_to: Sequence[str], raw: bytes, peer: str) -> int:
        """Store one message; returns its mailbox id once committed (possibly with others that came with it)."""
        arrived: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._arrivals.append(((mail_from, list(rcpt_to), raw, peer), arrived))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write_arrivals(), name="mailgui-relay-store")
        return await arrived  # a dropped client cancels only its own wait; the batch is written regardless

    async def _write_arrivals(self) -> None:
        while self._arrivals:
            batch, self._arrivals = self._arrivals, []
            try:
                ids = await self._run(self.queue.store_received_many, [item for item, _ in batch])
            except Exception as exc:
                for _, arrived in batch:
                    if not arrived.done():
                        arrived.set_exception(exc)
                continue
            for (_, arrived), new_id in zip(batch, ids, strict=True):
                if not arrived.done():
                    arrived.set_result(new_id)

    async def read_report(self, raw: bytes, recipients: Sequence[str]) -> ReceivedReport | None:
        """If ``raw`` reached a local sender (an authorized address) and is a report (a bounce, a delay, a
        complaint, an auto-reply), parse it and record it in the queue, on the queue's thread; else None."""
        return await self._run(self._read_report, raw, list(recipients))

    def _read_report(self, raw: bytes, recipients: list[str]) -> ReceivedReport | None:
        queue = self.queue
        if not any(queue.is_authorized(r) for r in recipients) or is_own_report(raw):
            return None  # not to a local sender, or mailgui's own report to one (theirs to read)
        report = parse_report(raw)
        if report.kind == Kind.OTHER:
            return None
        return queue.record_report(raw, report, "local mailbox")

    async def bump_sim(self, key: str) -> int:
        return await self._run(self.queue.bump_sim, key)

    async def reset_sim(self, keys: Sequence[str]) -> int:
        return await self._run(self.queue.reset_sim, list(keys))
