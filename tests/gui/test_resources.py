"""Icons and the style sheet (mailgui/gui/resources.py, resources/): every icon the code names exists and loads."""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtWidgets import QApplication, QLabel
from pytestqt.qtbot import QtBot

from mailgui.gui import resources


def test_every_icon_named_in_the_gui_exists_and_renders(qapp: QApplication) -> None:
    gui = Path(resources.__file__).parent
    names = set()
    for source in gui.rglob("*.py"):
        names.update(re.findall(r"""\bicon\(["']([\w-]+)["']\)""", source.read_text(encoding="utf-8")))
    assert names, "no icon names found"
    for name in sorted(names):
        path = resources.RESOURCES_DIR / "icons" / f"{name}.svg"
        assert path.is_file(), f"resources/icons/{name}.svg is missing"
        assert not resources.icon(name).pixmap(16, 16).isNull(), name


def test_the_style_sheet_applies_without_qt_warnings(qtbot: QtBot) -> None:
    # qt_log_level_fail = WARNING: a style sheet Qt cannot parse fails this test.
    text = resources.style_sheet()
    assert "QListWidget#sidebar" in text
    label = QLabel("x")
    qtbot.addWidget(label)
    label.setStyleSheet(text)
    label.show()
