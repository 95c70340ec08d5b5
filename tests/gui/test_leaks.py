"""The GUI tests' own strictness (tests/gui/leaks.py): what a test leaves running is found and named."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QWidget

from tests.gui import leaks
from tests.gui.leaks import Leftovers


def test_a_window_a_timer_a_thread_and_an_executor_left_behind_are_each_named(
    qapp: QApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(leaks, "THREAD_GRACE", 0.05)
    leftovers = Leftovers()
    stop = threading.Event()
    executor = ThreadPoolExecutor(1, thread_name_prefix="forgotten-executor")
    with leftovers.watch():
        window = QWidget()
        window.setObjectName("forgotten")
        window.show()
        timer = QTimer()
        timer.start(60_000)
        executor.submit(lambda: None).result()
        threading.Thread(target=stop.wait, name="forgotten-thread").start()
    try:
        found = leftovers.check()
        assert found[0] == "window QWidget 'forgotten' still open"
        assert found[1].startswith("timer started at tests/gui/test_leaks.py:")
        assert found[1].endswith(" still active")
        assert sorted(found[2:]) == [
            "thread 'forgotten-executor_0' still running",
            "thread 'forgotten-thread' still running",
        ]
    finally:
        stop.set()
        executor.shutdown()
        leftovers.clean_up()
    assert not timer.isActive()
    assert window not in QApplication.topLevelWidgets()


def test_what_a_test_closes_and_stops_is_not_a_leftover(qapp: QApplication) -> None:
    leftovers = Leftovers()
    with leftovers.watch():
        window = QWidget()
        window.show()
        timer = QTimer(window)
        timer.start(60_000)
        executor = ThreadPoolExecutor(1, thread_name_prefix="used-executor")
        executor.submit(lambda: None).result()
        window.close()
        timer.stop()
        window.deleteLater()
        executor.shutdown()
    assert leftovers.check() == []
