"""The application: one place creates the qasync loop, and one coroutine owns the app's life.

``run_gui`` makes the QApplication and the loop (``asyncio.Runner`` over ``qasync.QEventLoop``);
:class:`AppSession` shows the main window, offers the first-run dialog on a new queue, runs the delivery worker
(and the built-in relay) in the same loop, and when the main window closes stops them cleanly and returns.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import shiboken6

from mailgui.clock import Clock, SystemClock
from mailgui.errors import Error
from mailgui.gui.shell.backend import Backend, WorkerBackend, test_connection
from mailgui.gui.shell.first_run import FirstRunDialog, needs_first_run, open_first_run
from mailgui.gui.shell.main_window import MainWindow
from mailgui.gui.shell.worker_status import WorkerStatus
from mailgui.gui.tasks import TaskSet
from mailgui.logsetup import configure_logging
from mailgui.paths import default_log_path
from mailgui.queue import Queue

log = logging.getLogger(__name__)


class AppSession:
    """One run of the app over one queue file. ``await run()`` returns the exit code once the window closes."""

    def __init__(
        self,
        db: Path,
        *,
        clock: Clock | None = None,
        backend: Backend | None = None,
        autosave_delay: float | None = None,
        log_file: Path | None = None,
    ):
        self.db = Path(db)
        self.clock: Clock = clock or SystemClock()
        self.backend = backend
        self.autosave_delay = autosave_delay
        self.log_file = log_file  # where this run's log goes (Help → About says), None if nowhere on disk
        self.queue: Queue | None = None
        self.window: MainWindow | None = None
        self.first_run_dialog: FirstRunDialog | None = None
        self.started = asyncio.Event()  # the window is up and the worker running (tests wait on it)
        self.tasks = TaskSet("app")
        self._closed = asyncio.Event()

    async def run(self) -> int:
        from PySide6.QtWidgets import QApplication

        # This coroutine decides when the app ends (after the worker stopped), not the last window closing:
        # with Qt's default, closing the window would stop the loop under us ("Event loop stopped before Future
        # completed").
        app = QApplication.instance()
        if isinstance(app, QApplication):
            app.setQuitOnLastWindowClosed(False)
        self.queue = Queue(self.db, clock=self.clock)
        if self.backend is None:
            self.backend = WorkerBackend(self.db, clock=self.clock)
        self.backend.on_changed = self._changed
        self.backend.on_status = self._status
        window = self.window = MainWindow(
            self.queue, self.clock, tester=test_connection, autosave_delay=self.autosave_delay, log_file=self.log_file
        )
        window.closed.connect(self._closed.set)
        window.pauseRequested.connect(self._pause)
        window.messageQueued.connect(lambda _id: self.backend.wake() if self.backend is not None else None)
        window.settings_pane.settingsSaved.connect(self._settings_saved)
        window.show()
        signals = self._handle_signals()
        try:
            if needs_first_run(self.queue):
                await self._first_run(window)
            if not self._closed.is_set():
                await self.backend.start()
                self.started.set()
                await self._closed.wait()
        finally:
            loop = asyncio.get_running_loop()
            for signum in signals:
                loop.remove_signal_handler(signum)
            await self._shutdown()
        return 0

    def _handle_signals(self) -> list[int]:
        """Ctrl+C and SIGTERM close the window like the user would, so the worker stops cleanly.

        Through the loop's own signal handling (a wakeup fd the Qt loop watches): a plain Python handler would
        wait for the Qt loop to run Python code before it fired.
        """
        import signal
        import threading

        if threading.current_thread() is not threading.main_thread():
            return []
        loop = asyncio.get_running_loop()
        installed: list[int] = []
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(signum, self.close)
            except (NotImplementedError, RuntimeError, ValueError):  # Windows, or a loop without it
                continue
            installed.append(signum)
        return installed

    async def _first_run(self, window: MainWindow) -> None:
        assert self.queue is not None
        dialog, accepted = open_first_run(self.queue, window)
        self.first_run_dialog = dialog
        closed = asyncio.ensure_future(self._closed.wait())
        try:
            either: set[asyncio.Future[Any]] = {accepted, closed}
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        finally:
            closed.cancel()
            self.first_run_dialog = None
        if accepted.done() and not accepted.cancelled():
            log.info("first run %s", "done" if accepted.result() else "put off")
        elif not accepted.done():
            dialog.reject()  # the main window closed under the dialog
        window.settings_pane.load()
        window.compose_windows.reload_senders()

    async def _shutdown(self) -> None:
        """Stop the worker (in-flight sends finish or release their lease), then let go of the window and file."""
        await self.tasks.wait_all()  # a restart on new settings finishes first, so nothing starts after the stop
        if self.backend is not None:
            try:
                await self.backend.stop()
            except Exception:
                log.exception("stopping the delivery worker failed")
        await self.tasks.cancel_all()
        if self.window is not None:
            await self.window.settings_pane.tasks.cancel_all()
            await self.window.tasks.cancel_all()
            self.window.hide()
            # Destroyed now, not with deleteLater(): the views' timers must not fire on the queue closed below.
            shiboken6.delete(self.window)
            self.window = None
        if self.queue is not None:
            self.queue.close()

    def close(self) -> None:
        """Close the main window, which ends the session."""
        if self.window is not None:
            self.window.close()
        else:
            self._closed.set()

    # -- from the worker (plain callbacks in the loop; the worker never touches widgets) ------------------
    def _changed(self, ids: Iterable[int]) -> None:
        if self.window is not None:
            self.window.notify_changed(ids)

    def _status(self, status: WorkerStatus) -> None:
        if self.window is not None:
            self.window.set_worker_status(status)

    # -- from the window ---------------------------------------------------------------------------------
    def _pause(self, pause: bool) -> None:
        if self.backend is None:
            return
        if pause:
            self.backend.pause()
        elif self.window is not None and self.window.worker_status.state == "failed":
            self.tasks.start(self.backend.restart())  # sending stopped on its own: the user starts it again
        else:
            self.backend.resume()

    def _settings_saved(self) -> None:
        """The relay may have changed (local ↔ smtp, another host): restart the worker on the new settings."""
        if self.backend is not None and self.started.is_set() and not self._closed.is_set():
            self.tasks.start(self.backend.restart())


def run_gui(db: Path) -> int:
    """``mailgui``: the desktop app on the queue file ``db``."""
    import qasync
    from PySide6.QtWidgets import QApplication

    from mailgui.gui.resources import icon, style_sheet

    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    app.setApplicationName("mailgui")
    app.setWindowIcon(icon("app"))
    app.setStyleSheet(style_sheet())
    # The main coroutine decides when the app ends (after the worker stopped), not the last window closing.
    app.setQuitOnLastWindowClosed(False)
    with configure_logging(log_file=default_log_path()) as logging_setup:
        try:
            with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
                return runner.run(AppSession(db, log_file=logging_setup.log_file).run())
        except Error as exc:
            print(f"mailgui: {exc}", file=sys.stderr)
            return 1
