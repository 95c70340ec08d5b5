"""Help → Keyboard shortcuts: every key of the window's actions, and the compose window's and settings' keys."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel, QWidget

# Keys that belong to other windows, so they are not among the main window's actions.
OTHER_KEYS = (
    ("Ctrl+Return", "Send (compose window)"),
    ("Ctrl+Shift+Return", "Send later"),
    ("Ctrl+S", "Save draft / save settings"),
    ("Ctrl+Shift+A", "Attach files"),
    ("Ctrl+T", "Test connection (settings)"),
)


def shortcuts_window(actions: Iterable[QAction], parent: QWidget) -> QLabel:
    """A small window (owned by ``parent``) listing the keys; the caller shows it."""
    rows = []
    for action in actions:
        keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        if keys:
            rows.append((keys, action.text().replace("&", "")))
    rows.extend(OTHER_KEYS)
    table = "".join(f"<tr><td><b>{keys}</b></td><td>{what}</td></tr>" for keys, what in rows)
    label = QLabel(f"<table cellspacing='6'>{table}</table>")
    label.setWindowTitle("Keyboard shortcuts — mailgui")
    label.setParent(parent, Qt.WindowType.Window)
    label.setContentsMargins(16, 16, 16, 16)
    return label
