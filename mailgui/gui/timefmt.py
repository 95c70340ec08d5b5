"""Times as people read them in a table: "in 4 min", "2 h ago", "14:03", "12 Nov 14:03"."""

from __future__ import annotations

from datetime import datetime


def relative(when: float, now: float) -> str:
    """``when`` relative to ``now``: "in 4 min", "now", "3 min ago", "in 2 h 5 min", "in 3 days"."""
    delta = when - now
    if abs(delta) < 30:
        return "now"
    text = _span(abs(delta))
    return f"in {text}" if delta > 0 else f"{text} ago"


def _span(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{max(minutes, 1)} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days = round(seconds / 86400)
    return "1 day" if days == 1 else f"{days} days"


def stamp(when: float, now: float) -> str:
    """A local date and time, as short as is unambiguous next to ``now``."""
    at = datetime.fromtimestamp(when)
    today = datetime.fromtimestamp(now)
    if at.date() == today.date():
        return at.strftime("%H:%M")
    if at.year == today.year:
        return f"{at.day} {at.strftime('%b %H:%M')}"
    return f"{at.day} {at.strftime('%b %Y')}"


def full_stamp(when: float) -> str:
    """The full local date and time, for tooltips and the details pane."""
    return datetime.fromtimestamp(when).strftime("%Y-%m-%d %H:%M:%S")
