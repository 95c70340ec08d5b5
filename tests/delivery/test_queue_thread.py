"""The worker's queue thread: its calls run on one thread of their own, at a lower priority than the loop."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

from mailgui.clock import FakeClock
from mailgui.delivery.queue_thread import NICENESS, QueueThread


def nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


async def test_calls_run_on_one_thread_that_yields_the_cpu_to_the_loop(db_path: Path, clock: FakeClock) -> None:
    loop_nice = nice()
    qt = QueueThread(db_path, clock)
    try:
        first = await qt.call(lambda q: (threading.get_native_id(), nice(), q.path))
        second = await qt.call(lambda q: (threading.get_native_id(), nice(), q.path))
    finally:
        await qt.close()
    assert first == second  # one thread, one connection to the queue file
    thread_id, thread_nice, path = first
    assert thread_id != threading.get_native_id() and path == str(db_path)
    # On Linux a thread has a nice value of its own: the writes give way to the loop when the cores are busy.
    assert thread_nice == (min(19, loop_nice + NICENESS) if sys.platform == "linux" else loop_nice)
    assert nice() == loop_nice  # the loop's own priority is untouched
