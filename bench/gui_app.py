"""Benchmark the whole app over a big queue: the main window, the worker and the built-in relay in one qasync loop.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/gui_app.py                       # 1,000,000 queued messages
    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/gui_app.py --messages 100000 --seconds 10

Prints: the time from AppSession.run() to the window shown with the worker running; then, while the worker
delivers the backlog to the built-in relay (relay.mode local, the default) for ``--seconds``, the messages sent
per second and the gaps of a 5 ms QTimer (the longest is the longest stall of the Qt event loop; target < 50 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import qasync
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from mailgui.gui.resources import style_sheet
from mailgui.gui.shell.app import AppSession
from mailgui.message import MessageFields, build_message
from mailgui.queue import Queue
from mailgui.queue.bulk import enqueue_many


def fill(path: Path, n: int) -> None:
    with Queue(path) as q:
        q.add_sender("ann@example.com")
        msg = build_message(
            MessageFields(sender="ann@example.com", to="bob@example.org", subject="bench", body="x"), now=time.time()
        )
        enqueue_many(q, (msg for _ in range(n)))


async def measure(path: Path, seconds: float) -> None:
    started = time.perf_counter()
    session = AppSession(path)
    task = asyncio.ensure_future(session.run())
    await session.started.wait()
    print(f"window shown, worker running: {time.perf_counter() - started:.2f} s")
    with Queue(path) as q:
        sent_before = q.counts_by_status().get("sent", 0)
    gaps: list[float] = []
    last = time.perf_counter()

    def tick() -> None:
        nonlocal last
        now = time.perf_counter()
        gaps.append(now - last)
        last = now

    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(tick)
    timer.start()
    await asyncio.sleep(seconds)
    timer.stop()
    with Queue(path) as q:
        sent = q.counts_by_status().get("sent", 0) - sent_before
    gaps.sort()
    print(f"sent while measuring: {sent} ({sent / seconds:.0f} messages/s)")
    print(
        f"event loop: {len(gaps)} ticks of 5 ms; longest gap {gaps[-1] * 1000:.0f} ms, "
        f"p99 {gaps[int(len(gaps) * 0.99)] * 1000:.0f} ms, median {gaps[len(gaps) // 2] * 1000:.1f} ms"
    )
    session.close()
    await task


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--messages", type=int, default=1_000_000)
    p.add_argument("--seconds", type=float, default=20.0)
    args = p.parse_args()
    app = QApplication(sys.argv)
    app.setStyleSheet(style_sheet())
    app.setQuitOnLastWindowClosed(False)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "queue.sqlite3"
        t = time.perf_counter()
        fill(path, args.messages)
        print(f"queued {args.messages:,} messages in {time.perf_counter() - t:.1f} s")
        with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
            runner.run(measure(path, args.seconds))


if __name__ == "__main__":
    main()
