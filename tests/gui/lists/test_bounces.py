"""The Bounces view lists failed recipients (refused during delivery or reported later) with the reason class in
words, the source, diagnostic, date and their message; the report a click away; unmatched reports in a tab."""

from __future__ import annotations

from PySide6.QtCore import Qt

from mailgui.bounces import parse_report
from mailgui.gui.lists.bounces import (
    COL_DIAGNOSTIC,
    COL_MESSAGE,
    COL_REASON,
    COL_RECIPIENT,
    COL_SOURCE,
    COL_STATE,
    BouncesView,
)
from mailgui.gui.lists.unmatched_reports import COL_ADDRESSES, COL_KIND
from tests.gui.queue_data import attempt, enqueue, fill_varied
from tests.reports import arf, dsn


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
    assert texts[COL_REASON] == "Unknown user"
    assert texts[COL_SOURCE] == "During delivery"
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
    assert row_texts(view, 0)[COL_REASON] == "Expired"
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


def late_bounce(queue, clock, address: str = "late@example.org") -> tuple[int, int]:
    """A message the relay took (250), then a report by mail that it bounced: (message id, report id)."""
    queue.add_sender("@example.com")
    mid = enqueue(queue, clock, 5, to=[address], subject="Newsletter")
    attempt(queue, clock, mid, [(address, "delivered", 250, "2.0.0 Ok")])
    clock.advance(300)
    message_id = queue.get_message(mid).summary.message_id
    raw = dsn(message_id, [(address, "5.1.1", f"550 5.1.1 <{address}>: Recipient address rejected: User unknown")])
    return mid, queue.record_report(raw, parse_report(raw), "test").id


def test_a_late_bounce_says_it_was_reported_and_its_report_is_one_click_away(qtbot, queue, clock, qtmodeltester):
    fill_varied(queue, clock)
    mid, report_id = late_bounce(queue, clock)
    view = BouncesView(queue, clock=clock)
    qtbot.addWidget(view)
    qtmodeltester.check(view.model)
    texts = row_texts(view, 0)
    assert texts[COL_RECIPIENT] == "late@example.org"
    assert texts[COL_SOURCE].startswith("Report received ")
    assert texts[COL_REASON] == "Unknown user"
    assert row_texts(view, 1)[COL_SOURCE] == "During delivery"
    assert f"report #{report_id}" in view.model.data(view.model.index(0, COL_SOURCE), Qt.ItemDataRole.ToolTipRole)

    view.show()
    qtbot.waitExposed(view)
    view.table.selectRow(1)
    assert not view.report_button.isEnabled()  # refused during delivery: no report by mail
    view.table.selectRow(0)
    assert view.details.message_id == mid
    assert view.report_button.isEnabled() and view.report_action.isEnabled()
    view.activateWindow()
    view.table.setFocus()
    qtbot.waitUntil(view.table.hasFocus)
    qtbot.keyClick(view.table, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    window = view.report_window
    assert window is not None
    qtbot.waitUntil(window.isVisible)
    assert window.view.report_id == report_id
    assert "late@example.org: Unknown user 5.1.1" in window.view.summary.text()
    assert "User unknown" in window.view.report_text.toPlainText()
    assert window.view.report_text.isReadOnly()
    tabs = window.view.tabs
    assert tabs.currentWidget() is window.view.report_text
    assert tabs.isTabEnabled(tabs.text_index) and tabs.tabText(tabs.text_index) == "Text"
    assert not tabs.isTabEnabled(tabs.html_index)  # a plain-text report: no HTML
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not window.isVisible())


def test_reports_about_no_message_have_their_own_tab(qtbot, queue, clock, qtmodeltester):
    view = BouncesView(queue, clock=clock)
    qtbot.addWidget(view)
    assert view.tabs.tabText(view.unmatched_index) == "Unmatched reports"
    raw = arf("<not-ours@elsewhere.example>", "someone@example.net")
    report = queue.record_report(raw, parse_report(raw), "test")
    view.refresh()
    assert view.tabs.tabText(view.unmatched_index) == "Unmatched reports (1)"
    model = view.unmatched.model
    qtmodeltester.check(model)
    assert model.rowCount() == 1 and view.model.rowCount() == 0  # a complaint fails no recipient
    assert model.data(model.index(0, COL_KIND)) == "Complaint"
    assert model.data(model.index(0, COL_ADDRESSES)) == "someone@example.net"
    view.show_unmatched()
    view.unmatched.table.selectRow(0)
    assert view.unmatched.report.report_id == report.id
    assert "matched to no message" in view.unmatched.report.summary.text()
