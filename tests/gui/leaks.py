"""What a GUI test may not leave behind: a running thread (an executor's included), an active timer, a window.

napari's test fixtures taught this (``_dangling_qthreads``, ``_dangling_qtimers``, its strict ``qtbot``): a thread
or timer that outlives its test fires into the next one, against a queue file that is gone, and the failure shows
up far from its cause, or only sometimes. A window left open keeps its timers and its queue connection.

``Leftovers.watch()`` notes what exists when a test starts and records every ``QTimer.start`` and
``QThread.start`` from then on (where it was called from, to name the culprit); ``Leftovers.check()``, after the
test and its fixtures are torn down, lists what is still there. An executor shows as its threads (named after
its ``thread_name_prefix``). ``Leftovers.clean_up()`` then stops what it can, so the next test starts clean.
"""

from __future__ import annotations

import gc
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QThread, QTimer
from PySide6.QtWidgets import QApplication, QWidget

ROOT = str(Path(__file__).resolve().parents[2])

# A thread that was told to stop may need a moment to end: a search thread finishing its query, an executor's
# thread taking its "shut down" item. Past this it is a leak.
THREAD_GRACE = 2.0


def _called_from() -> str:
    """The innermost frame of this repository's code (mailgui or tests) outside this module."""
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if name.startswith(ROOT) and name != __file__:
            return f"{Path(name).relative_to(ROOT)}:{frame.f_lineno}"
        frame = frame.f_back  # type: ignore[assignment]
    return "(outside mailgui)"


def _alive(qt_object: Any, predicate: str) -> bool:
    try:
        return bool(getattr(qt_object, predicate)())
    except RuntimeError:  # the C++ object is gone: nothing left to run
        return False


class Leftovers:
    def __init__(self) -> None:
        self.threads_before: set[threading.Thread] = set()
        self.windows_before: set[QWidget] = set()
        self.timers: list[tuple[QTimer, str]] = []
        self.qthreads: list[tuple[QThread, str]] = []

    @contextmanager
    def watch(self) -> Iterator[None]:
        self.threads_before = set(threading.enumerate())
        self.windows_before = set(QApplication.topLevelWidgets())
        timer_start = QTimer.start
        qthread_start = QThread.start

        def start_timer(timer: QTimer, *args: Any) -> None:
            self.timers.append((timer, _called_from()))
            timer_start(timer, *args)

        def start_qthread(thread: QThread, *args: Any) -> None:
            self.qthreads.append((thread, _called_from()))
            qthread_start(thread, *args)

        QTimer.start = start_timer  # type: ignore[method-assign]
        QThread.start = start_qthread  # type: ignore[method-assign]
        try:
            yield
        finally:
            QTimer.start = timer_start  # type: ignore[method-assign]
            QThread.start = qthread_start  # type: ignore[method-assign]

    def check(self) -> list[str]:
        """What the test left behind, one line each; empty if nothing."""
        # deleteLater() is a promise to delete: keep it now, and let go of widgets only cycles kept alive.
        gc.collect()
        QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        found = [f"window {self._describe(w)} still open" for w in self._windows()]
        found += [f"timer started at {place} still active" for t, place in self.timers if _alive(t, "isActive")]
        found += [f"QThread started at {place} still running" for t, place in self.qthreads if _alive(t, "isRunning")]
        found += [f"thread {t.name!r} still running" for t in self._threads()]
        return found

    def clean_up(self) -> None:
        for timer, _ in self.timers:
            if _alive(timer, "isActive"):
                timer.stop()
        for thread, _ in self.qthreads:
            if _alive(thread, "isRunning"):
                thread.quit()
                thread.wait(2000)
        for window in self._windows():
            window.close()
            window.deleteLater()
        QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        # Python threads cannot be stopped from outside; the next test counts them as there before it.

    def _windows(self) -> list[QWidget]:
        return [w for w in QApplication.topLevelWidgets() if w not in self.windows_before and _alive(w, "isWindow")]

    def _threads(self) -> list[threading.Thread]:
        deadline = time.monotonic() + THREAD_GRACE
        left = []
        for thread in threading.enumerate():
            if thread in self.threads_before or thread is threading.current_thread():
                continue
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                left.append(thread)
        return left

    @staticmethod
    def _describe(widget: QWidget) -> str:
        name = widget.objectName()
        title = widget.windowTitle()
        return type(widget).__name__ + (f" {name!r}" if name else "") + (f" ({title!r})" if title else "")


def describe(nodeid: str, found: list[str]) -> str:
    lines = "\n".join(f"  {line}" for line in found)
    return f"{nodeid} left behind:\n{lines}\nClose what the test opened: a window's closeEvent stops its timers and threads."
