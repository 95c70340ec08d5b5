"""How states look (mailgui/gui/status_style.py): every state the queue can hold has a word, a colour, an icon and
a hint of its own, so colour never carries the meaning alone."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication

from mailgui.gui import status_style
from mailgui.queue import RecipientStatus, Status


def test_every_recipient_state_has_its_own_word_icon_colour_and_hint(qapp: QApplication) -> None:
    for state in RecipientStatus:
        style = status_style.recipient_state(state)
        assert style is not status_style.recipient_state("no-such-state"), state
        assert style.word and style.hint and style.colour.startswith("#"), state
        assert not style.icon.pixmap(16, 16).isNull(), state


def test_every_message_state_has_its_own_style(qapp: QApplication) -> None:
    for state in Status:
        assert status_style.message_state(state) is not status_style.message_state("no-such-state"), state


def test_a_suppressed_recipient_is_told_apart_from_a_failed_one_by_word_and_icon(qapp: QApplication) -> None:
    suppressed = status_style.recipient_state(RecipientStatus.SUPPRESSED)
    failed = status_style.recipient_state(RecipientStatus.FAILED)
    assert suppressed.word == "Suppressed"
    assert "suppression list" in suppressed.hint
    assert suppressed.icon_name != failed.icon_name and suppressed.colour != failed.colour
