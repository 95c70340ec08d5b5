"""A spin box for a length of time: whole seconds inside, "1 h 6 min 40 s" on screen.

The settings store seconds; a box in fractional minutes or hours rounds them (4,000 s shown as 66.7 min was
saved back as 4,002 s). This one keeps the exact number and reads what people type: "90 s", "5 min",
"1 h 30 min", "5 d"; a bare number is seconds, as on the command line.
"""

from __future__ import annotations

import re

from PySide6.QtGui import QValidator
from PySide6.QtWidgets import QSpinBox, QWidget

UNITS = (("d", 86400), ("h", 3600), ("min", 60), ("s", 1))
_ALIASES = {
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "h": 3600,
    "hr": 3600,
    "hour": 3600,
    "hours": 3600,
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "s": 1,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
    "": 1,
}
_PART = re.compile(r"\s*(\d+(?:[.,]\d+)?)\s*([a-z]*)")


def format_duration(seconds: int) -> str:
    if seconds <= 0:
        return "0 s"
    parts = []
    for name, size in UNITS:
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {name}")
    return " ".join(parts)


def parse_duration(text: str) -> int | None:
    """Seconds in ``text``, or None if it does not read as a length of time."""
    text = text.strip().lower()
    if not text:
        return None
    total = 0.0
    pos = 0
    while pos < len(text):
        match = _PART.match(text, pos)
        if match is None or match.end() == pos:
            return None
        unit = _ALIASES.get(match.group(2))
        if unit is None:
            return None
        total += float(match.group(1).replace(",", ".")) * unit
        pos = match.end()
        while pos < len(text) and text[pos] in " ,":
            pos += 1
    return round(total)


class DurationBox(QSpinBox):
    def __init__(self, minimum: int, maximum: int, step: int = 60, parent: QWidget | None = None):
        super().__init__(parent)
        self.setRange(minimum, maximum)
        self.setSingleStep(step)
        self.setToolTip('A length of time, e.g. "90 s", "5 min", "1 h 30 min", "5 d"')

    def textFromValue(self, value: int) -> str:
        return format_duration(value)

    def valueFromText(self, text: str) -> int:
        seconds = parse_duration(text)
        return self.value() if seconds is None else seconds

    def validate(self, text: str, pos: int) -> object:
        if text == self.specialValueText() and text:
            return QValidator.State.Acceptable, text, pos
        seconds = parse_duration(text)
        if seconds is None:
            return QValidator.State.Intermediate, text, pos
        if not self.minimum() <= seconds <= self.maximum():
            return QValidator.State.Intermediate, text, pos
        return QValidator.State.Acceptable, text, pos
