"""Benchmark the queue view over a big queue: open, jump to the end, and event-loop stalls under load.

    xvfb-run -a -s "-screen 0 1400x900x24" .venv/bin/python bench/gui_queue.py            # 1,000,000 messages
    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/gui_queue.py --messages 100000 --sends 500

Steps (figures are printed as they come):
1. fill a queue file with N messages through the queue layer in one transaction (mailgui.queue.bulk.enqueue_many),
   or reuse the file given with --db if it already holds N;
2. open it: a QMainWindow with a QueueView, shown, until the table's first page is painted (target < 1 s);
3. jump to the end (Ctrl+End on the table) until the last page is painted (target < 0.2 s); also the middle;
4. the longest stall of the Qt event loop (a QTimer ticking every 5 ms, gaps recorded) while messages move
   (target < 50 ms): with ``--load worker`` the delivery worker (mailgui.delivery.Worker) sends ``--sends``
   messages to a local SMTP sink in the same qasync loop; with ``--load enqueue`` a second process enqueues
   ``--sends`` messages (one transaction each, like scripts calling send_mail) while the view follows along.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import qasync
from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMainWindow

from mailgui.clock import SystemClock
from mailgui.gui.queue_view.view import QueueView
from mailgui.gui.resources import style_sheet
from mailgui.message import MessageFields, build_message
from mailgui.queue import Queue
from mailgui.queue.bulk import enqueue_many

SENDER_DOMAIN = "example.com"


def fill(path: Path, n: int) -> None:
    with Queue(path) as q:
        have = q.count_messages()
        if have >= n:
            print(f"reusing {path}: {have:,} messages")
            return
        if have:
            raise SystemExit(f"{path} holds {have:,} messages, fewer than {n:,}; give another --db")
        q.add_sender(f"@{SENDER_DOMAIN}")
        # A thousand distinct messages (one or two recipients, varied subjects), cycled: building a million
        # MIME messages would time the message builder, not the view.
        now = time.time()
        templates = [
            build_message(
                MessageFields(
                    sender=f"user{i % 7}@{SENDER_DOMAIN}",
                    to=[f"rcpt{i}@example.org", f"cc{i}@example.net"][: 1 + i % 2],
                    subject=f"Invoice {i} for October",
                    body="Hello,\nplease find the details below.\n" * 5,
                ),
                now=now,
            )
            for i in range(1000)
        ]
        start = time.perf_counter()
        spread = 30 * 86400 / n  # created over the last month, oldest first
        enqueue_many(
            q,
            (templates[i % 1000] for i in range(n)),
            created_at=(now - 30 * 86400 + i * spread for i in range(n)),
        )
        took = time.perf_counter() - start
        size = path.stat().st_size / 1e6
        print(f"filled {path}: {n:,} messages in {took:.1f} s ({n / took:,.0f}/s), {size:,.0f} MB")


class PaintWatch(QObject):
    """Counts paint events of a widget (the table's viewport)."""

    def __init__(self, widget: QObject):
        super().__init__()
        self.paints = 0
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.paints += 1
        return False


class StallMeter:
    """A QTimer ticking every few ms; a long gap between ticks is the event loop being blocked."""

    def __init__(self, interval_ms: int = 5):
        self.interval = interval_ms / 1000
        self.gaps: list[float] = []
        self._last = 0.0
        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)

    def start(self) -> None:
        self.gaps.clear()
        self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append(now - self._last)
        self._last = now

    def report(self) -> str:
        if not self.gaps:
            return "no ticks"
        gaps = sorted(self.gaps)
        p99 = gaps[min(len(gaps) - 1, int(len(gaps) * 0.99))]
        return (
            f"longest gap {gaps[-1] * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
            f"median {statistics.median(gaps) * 1000:.1f} ms over {len(gaps):,} ticks of {self.interval * 1000:.0f} ms"
        )


async def until(condition: Callable[[], object], timeout: float = 120.0) -> None:
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise SystemExit("timed out")
        await asyncio.sleep(0.001)


async def painted(watch: PaintWatch, before: int) -> None:
    await until(lambda: watch.paints > before)


ENQUEUE_SCRIPT = """
import sys
from mailgui.message import MessageFields, build_message
from mailgui.queue import Queue
q = Queue(sys.argv[1])
for i in range(int(sys.argv[2])):
    q.enqueue(build_message(MessageFields(sender="script@example.com", to=f"live{i}@example.org",
                                          subject=f"Live message {i}", body="hello"), now=0))
"""


async def run(args: argparse.Namespace, path: Path) -> None:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    app.setStyleSheet(style_sheet())

    # -- open --------------------------------------------------------------------------------------------
    start = time.perf_counter()
    queue = Queue(path)
    window = QMainWindow()
    view = QueueView(queue, clock=SystemClock())
    window.setCentralWidget(view)
    window.resize(1360, 860)
    watch = PaintWatch(view.table.viewport())
    window.show()
    await painted(watch, 0)
    opened = time.perf_counter() - start
    rows = view.model.rowCount()
    first = view.model.data(view.model.index(0, 4))
    print(f"open window and paint the first page: {opened * 1000:.0f} ms  ({rows:,} rows; top row {first!r})")
    await asyncio.sleep(0.3)

    # -- jump to the end, and to the middle -----------------------------------------------------------------
    view.table.setFocus()
    before = watch.paints
    start = time.perf_counter()
    QTest.keyClick(view.table, Qt.Key.Key_End, Qt.KeyboardModifier.ControlModifier)
    await painted(watch, before)
    jumped = time.perf_counter() - start
    last_id = view.rows.message_id(rows - 1)
    oldest = queue.list_messages(limit=1, newest_first=False)[0].id
    assert last_id == oldest, (last_id, oldest)
    print(f"jump to the end (Ctrl+End) and paint: {jumped * 1000:.0f} ms  (last row is message #{last_id})")
    await asyncio.sleep(0.3)
    before = watch.paints
    start = time.perf_counter()
    view.table.verticalScrollBar().setValue(rows // 2)
    await painted(watch, before)
    print(f"jump to the middle (scroll bar) and paint: {(time.perf_counter() - start) * 1000:.0f} ms")
    await asyncio.sleep(0.3)
    # -- a search over every message: it runs in a thread, the loop must stay free --------------------------
    meter = StallMeter()
    meter.start()
    start = time.perf_counter()
    view.search_box.setText("rcpt5@")  # one address in a thousand
    view._search_now()
    await until(lambda: not view.rows.searching, timeout=120)
    took = time.perf_counter() - start
    meter.stop()
    print(f"search 'rcpt5@': {view.model.rowCount():,} matches in {took * 1000:.0f} ms; event loop: {meter.report()}")
    view.search_box.clear()
    view._search_now()
    await asyncio.sleep(0.3)

    if args.filter:
        view.filter_combo.setCurrentIndex(view.filter_combo.findText(args.filter.capitalize()))
        print(f"filtered to {args.filter}: {view.model.rowCount():,} rows")
    view.table.scrollToBottom()  # where the oldest messages are: the ones the worker sends first
    await asyncio.sleep(0.3)

    # -- stalls under load -------------------------------------------------------------------------------
    meter = StallMeter()
    if args.load == "worker":
        await load_worker(args, path, queue, view, meter)
    else:
        await load_enqueue(args, path, queue, view, meter)
    print(f"event loop while {args.sends:,} messages moved: {meter.report()}")
    window.close()
    queue.close()


async def load_enqueue(args: argparse.Namespace, path: Path, queue: Queue, view: QueueView, meter: StallMeter) -> None:
    with Queue(path) as q:
        q.add_sender("script@example.com")
    rows = view.model.rowCount()
    meter.start()
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", ENQUEUE_SCRIPT, str(path), str(args.sends)])
    while proc.poll() is None:
        await asyncio.sleep(0.01)
    await until(lambda: view.model.rowCount() == rows + args.sends, timeout=30)
    meter.stop()
    took = time.perf_counter() - start
    print(
        f"second process enqueued {args.sends:,} messages in {took:.1f} s; the view followed "
        f"({view.update_ticks} coalesced refreshes, {view.model.rowCount():,} rows)"
    )


SINK_SCRIPT = """
import socket, sys
from aiosmtpd.controller import Controller
class Sink:
    async def handle_DATA(self, server, session, envelope):
        return "250 2.0.0 Ok: accepted"
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
c = Controller(Sink(), hostname="127.0.0.1", port=port)
c.start()
print(port, flush=True)
sys.stdin.read()
c.stop()
"""


async def load_worker(args: argparse.Namespace, path: Path, queue: Queue, view: QueueView, meter: StallMeter) -> None:
    """The delivery worker in this loop, on its own connection (as the app runs it), sending to an SMTP sink
    in another process (so the sink's work is not counted as ours)."""
    from mailgui.delivery import MessageEvent
    from mailgui.delivery.target import RelayTarget
    from mailgui.delivery.worker import Worker

    sink = subprocess.Popen(
        [sys.executable, "-c", SINK_SCRIPT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert sink.stdout is not None and sink.stdin is not None
    port = int(sink.stdout.readline())
    worker_queue = Queue(path)
    target = RelayTarget(host="127.0.0.1", port=port, security="none", timeout=30, connections=args.connections)
    worker = Worker(worker_queue, clock=SystemClock(), relay=target)
    sent = 0

    def on_event(event: object) -> None:
        nonlocal sent
        if isinstance(event, MessageEvent):
            view.notify_changed([event.message_id] if event.report_id is None else [event.message_id, event.report_id])
            sent += event.status == "sent"

    worker.subscribe(on_event)
    stop = asyncio.Event()
    meter.start()
    start = time.perf_counter()
    task = asyncio.ensure_future(worker.run(stop))
    try:
        await until(lambda: sent >= args.sends or task.done(), timeout=600)
        took = time.perf_counter() - start
        meter.stop()
    finally:
        stop.set()
        await task
        await worker.aclose()
        worker_queue.close()
        sink.stdin.close()
        sink.wait(10)
    on_screen = [view.model.data(view.model.index(r, 0)) for r in view.rows.visible_rows()]
    print(
        f"worker sent {sent:,} messages to a local SMTP sink in {took:.1f} s ({sent / took:,.0f}/s, "
        f"{args.connections} connections); the view followed ({view.update_ticks} coalesced refreshes; "
        f"rows on screen now: {', '.join(sorted(set(on_screen)))})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--sends", type=int, default=2000)
    parser.add_argument("--db", type=Path, help="queue file to fill (or reuse if it holds --messages already)")
    parser.add_argument("--load", choices=["worker", "enqueue"], default="worker")
    parser.add_argument("--connections", type=int, default=4, help="SMTP connections of the worker")
    parser.add_argument("--filter", help="show only this state during the load (e.g. queued, sent)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "bench.sqlite3"
        fill(path, args.messages)
        os.environ.setdefault("MAILGUI_DB", str(path))
        app = QApplication(sys.argv[:1])
        with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
            runner.run(run(args, path))


if __name__ == "__main__":
    main()
