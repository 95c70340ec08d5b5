"""Text that came from outside (a relay's reply, a subject, an address) shown as text, never as markup.

Qt guesses: a label or tooltip whose first line holds a known tag (``550 <b>spam</b>``) or ``&lt;`` is rendered as
rich text (``Qt::mightBeRichText``). A relay's reply or a stranger's subject must not get to style the window,
hide words, or draw links; so foreign text goes into plain-text labels, and into tooltips already escaped.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import Qt as QtGui
from PySide6.QtWidgets import QLabel, QWidget


def plain_tooltip(text: str | None) -> str:
    """``text`` as a tooltip that shows exactly these characters (line breaks kept, long lines wrapped); '' (no
    tooltip) for none."""
    if not text:
        return ""
    return QtGui.convertFromPlainText(text, Qt.WhiteSpaceMode.WhiteSpaceNormal)


def plain_label(parent: QWidget | None = None) -> QLabel:
    """A label that never interprets its text as markup."""
    label = QLabel(parent)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label
