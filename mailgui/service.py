"""Wires the delivery worker and the built-in local relay together, for the GUI and the command line."""

from __future__ import annotations

from pathlib import Path

from mailgui.errors import Error


def run_worker(db: Path, *, until_idle: bool = False) -> int:
    raise Error("worker: delivery is not built yet (issue 3)")


def run_local_relay(db: Path, *, port: int) -> int:
    raise Error("local-relay: the built-in relay is not built yet (issue 5)")
