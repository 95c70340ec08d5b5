"""Help → About: the version, the queue file and the log file this run writes, as text the user can select and
paste into a bug report (a GUI started from a launcher has no terminal to show where its log went)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QLabel, QVBoxLayout, QWidget

import mailgui

NO_LOG_FILE = "none: this run logs to stderr only"


def _selectable(text: str, name: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName(name)
    label.setTextFormat(Qt.TextFormat.PlainText)  # a path may hold '<' or '&'
    label.setTextInteractionFlags(
        Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.TextSelectableByKeyboard
    )
    label.setWordWrap(True)
    return label


class AboutWindow(QWidget):
    """A small window owned by ``parent``; the caller shows it."""

    def __init__(self, queue_file: Path, log_file: Path | None, parent: QWidget) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("aboutWindow")
        self.setWindowTitle("About mailgui")
        title = QLabel(f"<b>mailgui {mailgui.__version__}</b>")
        summary = QLabel("A desktop mail composer and outgoing-mail queue manager.")
        self.queue_file = _selectable(str(queue_file), "queueFile")
        self.log_file = _selectable(str(log_file) if log_file is not None else NO_LOG_FILE, "logFile")
        paths = QFormLayout()
        paths.addRow("Queue file:", self.queue_file)
        paths.addRow("Log file:", self.log_file)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 16)
        layout.addWidget(title)
        layout.addWidget(summary)
        layout.addLayout(paths)
        self.setMinimumWidth(480)
