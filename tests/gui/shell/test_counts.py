"""The status bar's counts (mailgui/gui/shell/counts.py), read on a thread of their own, and the window that awaits them."""

from __future__ import annotations

import logging

import pytest
import shiboken6

from mailgui.clock import FakeClock
from mailgui.gui.shell.main_window import MainWindow
from mailgui.queue import Queue
from tests.gui.conftest import AsyncRunner


def test_closing_the_window_before_its_count_begins_reads_nothing_on_the_closed_thread(
    aloop: AsyncRunner, authorized: Queue, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    async def go() -> None:
        window = MainWindow(authorized, clock)  # schedules its first count on the counts thread
        try:
            window.close()  # ends that thread before the count's task has taken its first step
            await window.tasks.wait_all()
        finally:
            shiboken6.delete(window)

    aloop.run(go())
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
