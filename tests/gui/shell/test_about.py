"""Help → About names the log file this run writes (and the queue file), as text the user can select."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMenu
from pytestqt.qtbot import QtBot

from mailgui.clock import FakeClock
from mailgui.gui.shell.about import NO_LOG_FILE
from mailgui.gui.shell.main_window import MainWindow
from mailgui.queue import Queue

SELECTABLE = Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.TextSelectableByKeyboard


# The offscreen platform plugin (headless tests) cannot raise a window; not our bug.
@pytest.mark.qt_log_ignore(r"^This plugin does not support raise\(\)$")
def test_help_about_shows_the_log_file_as_selectable_text(
    qtbot: QtBot, queue: Queue, clock: FakeClock, tmp_path: Path
) -> None:
    log_file = tmp_path / "logs <&> here" / "mailgui.log"
    window = MainWindow(queue, clock, log_file=log_file)
    qtbot.addWidget(window)
    window.show()
    [help_menu] = [m for m in window.menuBar().findChildren(QMenu) if m.title() == "&Help"]
    assert window.about_action in help_menu.actions()
    window.about_action.trigger()
    about = window._about
    assert about is not None
    qtbot.waitExposed(about)
    assert about.isWindow() and about.parent() is window
    assert about.log_file.text() == str(log_file)  # plain text: the '<&>' shown as typed
    assert about.log_file.textFormat() == Qt.TextFormat.PlainText
    assert about.log_file.textInteractionFlags() & SELECTABLE == SELECTABLE
    assert about.queue_file.text() == str(queue.path)
    window.about_action.trigger()
    assert window._about is about  # shown again, not a second window
    window.close()


@pytest.mark.qt_log_ignore(r"^This plugin does not support raise\(\)$")
def test_help_about_says_when_this_run_writes_no_log_file(qtbot: QtBot, queue: Queue, clock: FakeClock) -> None:
    window = MainWindow(queue, clock)
    qtbot.addWidget(window)
    window.show_about()
    assert window._about is not None
    assert window._about.log_file.text() == NO_LOG_FILE
    window.close()
