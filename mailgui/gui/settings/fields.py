"""The pieces every settings group is made of: a field with the line under it where its error is shown."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from mailgui.gui.widgets.plain import plain_label


def error_label(name: str) -> QLabel:
    """The hidden line under a field where its error goes; plain text, as errors quote what was typed."""
    label = plain_label()
    label.setObjectName(name)
    label.setProperty("role", "fieldError")
    label.setWordWrap(True)
    label.hide()
    return label


def with_error(widget: QWidget, error: QLabel, hint: str | None = None) -> QWidget:
    """``widget`` over its hint and its error line, as one form row whose label's mnemonic focuses ``widget``."""
    box = QWidget()
    box.setFocusProxy(widget)
    col = QVBoxLayout(box)
    col.setContentsMargins(0, 0, 0, 0)
    col.setSpacing(2)
    col.addWidget(widget)
    if hint:
        h = QLabel(hint)
        h.setProperty("role", "hint")
        h.setWordWrap(True)
        col.addWidget(h)
    col.addWidget(error)
    return box
