"""Text from outside (a relay's reply, a subject) is shown as the characters it is, never rendered as markup."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PySide6.QtCore import Qt
from PySide6.QtGui import Qt as QtGui
from PySide6.QtGui import QTextDocument

from mailgui.gui.queue_view.cells import COL_REPLY, COL_SUBJECT, ID_ROLE
from mailgui.gui.queue_view.model import QueueTableModel
from mailgui.gui.widgets.details import DetailsPane
from mailgui.gui.widgets.plain import plain_tooltip
from tests.gui.queue_data import attempt, enqueue

HOSTILE_REPLY = "5.7.1 <b>Blocked</b> <a href='http://127.0.0.1:9/'>appeal here</a> &lt;x&gt; <img src=x>"
HOSTILE_SUBJECT = "<h1>URGENT</h1><font color=red>pay now</font>"


def shown(tip: str | None) -> str:
    """What a user reads in a tooltip: Qt renders it as rich text when it guesses so (Qt::mightBeRichText)."""
    assert tip is not None
    if not QtGui.mightBeRichText(tip):
        return tip
    doc = QTextDocument()
    doc.setHtml(tip)
    return doc.toPlainText()


def words(text: str) -> str:
    return " ".join(text.split())


def lines(text: str) -> list[str]:
    """The words of each line that has any (Qt drops trailing blank lines and collapses spaces, as HTML does)."""
    return [words(line) for line in text.splitlines() if line.strip()]


_PIECES = ["<b>", "</b>", "<a href='http://127.0.0.1:9/'>", "<img src=x>", "<p>", "<br>", "<!--", "&lt;", "&amp;"]
_TEXT = st.lists(
    st.one_of(st.sampled_from(_PIECES), st.text(alphabet=st.sampled_from("<>&;/=\"' abcXYZ01\n\t.:-"), max_size=8)),
    min_size=1,
    max_size=12,
).map("".join)


@given(_TEXT)
def test_a_tooltip_shows_exactly_the_characters_it_was_given(qapp, text):
    tip = plain_tooltip(text)
    if not text.strip():
        return  # nothing to show: Qt shows no tooltip for blank text either way
    assert lines(shown(tip)) == lines(text)


def test_the_details_pane_shows_a_relays_markup_and_a_subject_as_text(qtbot, queue, clock):
    queue.add_sender("@example.com")
    mid = enqueue(queue, clock, 1, to=["bob@example.org"], subject=HOSTILE_SUBJECT)
    attempt(queue, clock, mid, [("bob@example.org", "failed", 550, HOSTILE_REPLY)])
    pane = DetailsPane(queue, clock)
    qtbot.addWidget(pane)
    pane.show_message(mid)
    assert pane.title.textFormat() == Qt.TextFormat.PlainText and pane.title.text() == HOSTILE_SUBJECT
    assert pane.facts.textFormat() == Qt.TextFormat.PlainText
    recipient = pane.recipients.topLevelItem(0)
    assert words(shown(recipient.toolTip(3))) == f"550 {HOSTILE_REPLY}"
    child = pane.attempts.topLevelItem(0).child(0)
    assert words(shown(child.toolTip(2))) == f"Failed: 550 {HOSTILE_REPLY}"


def test_queue_table_tooltips_show_a_relays_markup_as_text(queue, clock, qapp):
    queue.add_sender("@example.com")
    mid = enqueue(queue, clock, 1, to=["bob@example.org"], subject=HOSTILE_SUBJECT)
    attempt(queue, clock, mid, [("bob@example.org", "failed", 550, HOSTILE_REPLY)])
    model = QueueTableModel(queue, clock)
    [row] = [r for r in range(model.rowCount()) if model.data(model.index(r, 0), ID_ROLE) == mid]
    tip = Qt.ItemDataRole.ToolTipRole
    assert words(shown(model.data(model.index(row, COL_REPLY), tip))) == f"550 {HOSTILE_REPLY}"
    assert shown(model.data(model.index(row, COL_SUBJECT), tip)) == HOSTILE_SUBJECT


@pytest.mark.parametrize("text", ["", None])
def test_no_text_is_no_tooltip(text):
    assert plain_tooltip(text) == ""  # Qt shows no tooltip


def test_the_bounces_list_shows_a_relays_markup_and_a_subject_as_text(queue, clock, qapp):
    from mailgui.gui.lists.bounces import COL_DIAGNOSTIC, COL_MESSAGE, BouncesModel

    queue.add_sender("@example.com")
    mid = enqueue(queue, clock, 1, to=["bob@example.org"], subject=HOSTILE_SUBJECT)
    attempt(queue, clock, mid, [("bob@example.org", "failed", 550, HOSTILE_REPLY)])
    model = BouncesModel(queue, clock=clock)
    tip = Qt.ItemDataRole.ToolTipRole
    assert words(shown(model.data(model.index(0, COL_DIAGNOSTIC), tip))) == f"550 {HOSTILE_REPLY}"
    assert HOSTILE_SUBJECT in shown(model.data(model.index(0, COL_MESSAGE), tip))
