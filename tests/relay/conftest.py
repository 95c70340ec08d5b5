"""Fixtures for the built-in relay: a real LocalRelay on a free 127.0.0.1 port over the test's queue file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mailgui.clock import FakeClock
from mailgui.relay import LocalRelay
from tests.relay.client import SlowGate


@pytest.fixture
def slow_gate() -> SlowGate:
    return SlowGate()


@pytest.fixture
async def relay(db_path: Path, clock: FakeClock, slow_gate: SlowGate) -> AsyncIterator[LocalRelay]:
    r = LocalRelay(db_path, clock=clock, slow_delay=7.5, sleep=slow_gate)
    await r.start()
    try:
        yield r
    finally:
        slow_gate.released.set()
        await r.stop()
