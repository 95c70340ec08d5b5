"""A yes/cancel question that never blocks the event loop: the box is opened, not exec'd (STYLE.md)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QMessageBox, QWidget


def open_confirm(
    parent: QWidget, title: str, text: str, detail: str, accept_label: str, on_finished: Callable[[int], None]
) -> QMessageBox:
    """Open the question (Cancel is the default) and return the box; ``on_finished`` gets the button's result."""
    box = QMessageBox(
        QMessageBox.Icon.Question,
        title,
        text,
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
        parent,
    )
    box.setInformativeText(detail)
    box.button(QMessageBox.StandardButton.Yes).setText(accept_label)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.finished.connect(on_finished)
    box.open()
    return box
