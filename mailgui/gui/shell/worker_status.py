"""What the status bar says about sending: running, paused, relay unreachable since when and why, stopped, or
stopped on its own and why (outcomes could not be recorded)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class WorkerStatus:
    """What the status bar says about sending. ``state``: starting, running, paused, unreachable, stopped, failed
    (sending stopped on its own: ``reason``; the pause action then starts it again)."""

    state: str
    since: float | None = None
    reason: str = ""

    def text(self) -> str:
        if self.state == "running":
            return "Sending: running"
        if self.state == "paused":
            return "Sending: paused"
        if self.state == "unreachable":
            when = f" since {datetime.fromtimestamp(self.since):%H:%M}" if self.since else ""
            return f"Relay unreachable{when}: {self.reason}" if self.reason else f"Relay unreachable{when}"
        if self.state == "failed":
            return f"Sending stopped: {self.reason}"
        if self.state == "starting":
            return "Sending: starting…"
        return f"Sending: stopped{': ' + self.reason if self.reason else ''}"

    def icon_name(self) -> str:
        icons = {"running": "running", "paused": "pause", "unreachable": "unreachable", "failed": "error"}
        return icons.get(self.state, "stopped")
