"""Driving qasync under pytest-qt: one qasync loop per test, coroutines run on it, conditions awaited by polling.

Use ``aloop.run(coro)`` from a plain (sync) test to run the test's coroutine on a qasync.QEventLoop over the
pytest-qt QApplication. Inside it, never call ``qtbot.wait*`` (a nested Qt loop); await :func:`until` instead,
which polls a condition while the loop keeps turning (no sleeping to let time pass: use the FakeClock for that).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest
import qasync
from PySide6.QtWidgets import QApplication

from tests.gui.leaks import Leftovers, describe

T = TypeVar("T")
log = logging.getLogger(__name__)


async def until(condition: Callable[[], object], timeout: float = 10.0, what: str = "") -> None:
    """Await until ``condition()`` is true, letting the qasync loop (Qt events and asyncio) run meanwhile."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what or condition}")
        await asyncio.sleep(0.005)


class AsyncRunner:
    """Runs coroutines on one qasync loop; the fixture closes it after the test."""

    def __init__(self, app: QApplication):
        self.loop = qasync.QEventLoop(app)
        self.errors: list[dict[str, Any]] = []
        self.loop.set_exception_handler(self._on_error)

    def _on_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        # A task that failed unobserved, or a callback that raised: the test must fail, not pass quietly.
        self.errors.append(context)
        loop.default_exception_handler(context)

    def run(self, coro: Coroutine[Any, Any, T] | Awaitable[T], timeout: float = 60.0) -> T:
        async def bounded() -> T:
            return await asyncio.wait_for(coro, timeout)

        return self.loop.run_until_complete(bounded())

    def close(self) -> None:
        async def cancel_leftovers() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            self.loop.run_until_complete(cancel_leftovers())
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        finally:
            self.loop.close()


@pytest.fixture(autouse=True)
def leaves_nothing_behind(qapp: QApplication, request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a GUI test that leaves a thread, an executor, an active timer or a window behind (tests/gui/leaks.py).

    Autouse, so it is set up before and torn down after the test's other fixtures (``aloop`` included).
    """
    leftovers = Leftovers()
    with leftovers.watch():
        yield
    found = leftovers.check()
    if found:
        leftovers.clean_up()
        pytest.fail(describe(request.node.nodeid, found), pytrace=False)


@pytest.fixture
def aloop(qapp: QApplication) -> Iterator[AsyncRunner]:
    """A qasync loop for this test, set as the current event loop; closed (leftover tasks cancelled) after."""
    runner = AsyncRunner(qapp)
    asyncio.set_event_loop(runner.loop)
    # Closing a window must not quit the Qt loop that qasync runs on (the app makes the same choice).
    quit_on_close = qapp.quitOnLastWindowClosed()
    qapp.setQuitOnLastWindowClosed(False)
    try:
        yield runner
    finally:
        try:
            runner.close()
        finally:
            asyncio.set_event_loop(None)
            qapp.setQuitOnLastWindowClosed(quit_on_close)
    assert not runner.errors, f"unhandled errors in the event loop: {runner.errors}"
