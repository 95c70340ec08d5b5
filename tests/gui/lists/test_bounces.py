"""The Bounces view lists failed recipients with reason, diagnostic, date and their message."""

from __future__ import annotations

from PySide6.QtCore import Qt

from mailgui.gui.lists.bounces import COL_DIAGNOSTIC, COL_MESSAGE, COL_REASON, COL_RECIPIENT, COL_STATE, BouncesView
from tests.gui.queue_data import attempt, enqueue, fill_varied


def row_texts(view: BouncesView, row: int) -> list[str]:
    m = view.model
    return [m.data(m.index(row, c)) for c in range(m.columnCount())]


def test_failed_recipients_are_listed_with_reason_diagnostic_and_message(qtbot, queue, clock, qtmodeltester):
    v = fill_varied(queue, clock)
    view = BouncesView(queue, clock=clock)
    qtbot.addWidget(view)
    qtmodeltester.check(view.model)
    assert view.model.rowCount() == 1
    texts = row_texts(view, 0)
    assert texts[COL_STATE] == "Failed"
    assert texts[COL_RECIPIENT] == "nobody@example.org"
    assert texts[COL_REASON] == "Unknown recipient"
    assert texts[COL_DIAGNOSTIC] == "550 5.1.1 <nobody@example.org>: User unknown"
    assert texts[COL_MESSAGE] == f"#{v.bounced} Welcome aboard"
    icon = view.model.data(view.model.index(0, COL_STATE), Qt.ItemDataRole.DecorationRole)
    assert not icon.isNull()
    assert view.count_label.text() == "1 failed recipient"

    # A new bounce (mailbox full for one of two recipients) and an expiry show up on refresh, newest first.
    clock.advance(60)
    two = enqueue(queue, clock, 8, to=["ok@example.org", "full@example.net"], subject="Holiday photos")
    attempt(
        queue,
        clock,
        two,
        [("ok@example.org", "delivered", 250, "2.0.0 Ok"), ("full@example.net", "failed", 552, "5.2.2 Mailbox full")],
    )
    clock.advance(60)
    late = enqueue(queue, clock, 9, to=["slow@example.net"], subject="Late")
    attempt(queue, clock, late, [("slow@example.net", "pending", 451, "4.4.1 No answer")], retry_at=None)
    view.refresh()
    assert view.model.rowCount() == 3
    assert row_texts(view, 0)[COL_STATE] == "Expired"
    assert row_texts(view, 0)[COL_REASON] == "Gave up retrying (expired)"
    assert row_texts(view, 1)[COL_RECIPIENT] == "full@example.net"
    assert row_texts(view, 1)[COL_REASON] == "Mailbox full"


def test_selecting_a_bounce_shows_its_message_and_ctrl_o_opens_it_in_the_queue(qtbot, queue, clock):
    v = fill_varied(queue, clock)
    view = BouncesView(queue, clock=clock)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    view.table.selectRow(0)
    assert view.details.message_id == v.bounced
    view.activateWindow()
    view.table.setFocus()
    qtbot.waitUntil(view.table.hasFocus)
    with qtbot.waitSignal(view.openMessage, timeout=2000) as signal:
        qtbot.keyClick(view.table, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier)
    assert signal.args == [v.bounced]
