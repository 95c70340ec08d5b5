"""The duration box: exact seconds inside, readable units on screen, typed text understood."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from mailgui.gui.widgets.duration_box import DurationBox, format_duration, parse_duration


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0 s"), (45, "45 s"), (300, "5 min"), (4000, "1 h 6 min 40 s"), (432000, "5 d"), (90061, "1 d 1 h 1 min 1 s")],
)
def test_durations_read_in_the_largest_whole_units(seconds: int, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("1.5 h", 5400), ("2 hours, 5 minutes", 7500), ("10m", 600), ("3 days", 259200), ("1,5 min", 90)],
)
def test_what_people_type_is_understood(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "5 fortnights", "h"])
def test_text_that_is_not_a_duration_is_refused(text: str) -> None:
    assert parse_duration(text) is None


def test_typing_into_the_box_sets_seconds(qtbot: QtBot) -> None:
    box = DurationBox(1, 86400)
    qtbot.addWidget(box)
    box.setValue(300)
    box.lineEdit().selectAll()
    qtbot.keyClicks(box, "1 h 30 min")
    qtbot.keyClick(box, Qt.Key.Key_Return)
    assert box.value() == 5400
    assert box.text() == "1 h 30 min"
