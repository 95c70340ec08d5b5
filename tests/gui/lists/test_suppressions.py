"""The Suppressions view: search, lift one or many after a question, add one by hand, export CSV."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from mailgui.bounces import parse_report
from mailgui.gui.lists.suppressions import COL_ADDRESS, COL_REASON, COL_SOURCE, SuppressionsView
from tests.gui.queue_data import attempt, enqueue
from tests.reports import arf


def addresses(view: SuppressionsView) -> list[str]:
    m = view.model
    return [m.data(m.index(r, COL_ADDRESS)) for r in range(m.rowCount())]


def fill(queue, clock) -> None:
    queue.add_suppression("typed@example.org", "asked to stop")
    clock.advance(60)
    queue.add_sender("@example.com")
    mid = enqueue(queue, clock, 1, to=["angry@example.net"], subject="Offer")
    attempt(queue, clock, mid, [("angry@example.net", "delivered", 250, "2.0.0 Ok")])
    clock.advance(60)
    raw = arf(queue.get_message(mid).summary.message_id, "angry@example.net")
    queue.record_report(raw, parse_report(raw), "test")


def test_suppressed_addresses_are_listed_newest_first_with_reason_and_source(qtbot, queue, clock, qtmodeltester):
    fill(queue, clock)
    view = SuppressionsView(queue, clock=clock)
    qtbot.addWidget(view)
    qtmodeltester.check(view.model)
    assert addresses(view) == ["angry@example.net", "typed@example.org"]
    m = view.model
    assert m.data(m.index(0, COL_SOURCE)) == "Complaint"
    assert "spam" in m.data(m.index(0, COL_REASON))
    assert m.data(m.index(1, COL_SOURCE)) == "Added by hand"
    assert view.count_label.text() == "2 suppressed addresses"

    qtbot.keyClicks(view.search, "angry")
    assert addresses(view) == ["angry@example.net"]
    view.search.clear()
    assert len(addresses(view)) == 2


def test_an_address_is_added_by_hand_and_a_bad_one_is_refused_naming_the_problem(qtbot, queue, clock):
    view = SuppressionsView(queue, clock=clock)
    qtbot.addWidget(view)
    assert view.count_label.text().startswith("No suppressed addresses")
    qtbot.keyClicks(view.new_address, "bob@")
    qtbot.keyClick(view.new_address, Qt.Key.Key_Return)
    assert "address" in view.message.text() and queue.list_suppressions() == []
    view.new_address.setText("bob@example.org")
    view.new_reason.setText("left the company")
    with qtbot.waitSignal(view.changed, timeout=1000):
        view.add_button.click()
    assert addresses(view) == ["bob@example.org"]
    assert queue.suppression_of("bob@example.org").reason == "left the company"
    assert view.new_address.text() == ""


def test_lifting_several_asks_first_and_cancel_changes_nothing(qtbot, queue, clock):
    fill(queue, clock)
    clock.advance(60)
    queue.add_suppression("third@example.org")
    view = SuppressionsView(queue, clock=clock)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    assert not view.lift_button.isEnabled()
    view.table.selectRow(0)
    view.table.selectionModel().select(
        view.model.index(2, 0),
        view.table.selectionModel().SelectionFlag.Select | view.table.selectionModel().SelectionFlag.Rows,
    )
    assert [s.address for s in view.selected()] == ["third@example.org", "typed@example.org"]
    assert view.lift_button.isEnabled()

    view.table.setFocus()
    qtbot.waitUntil(view.table.hasFocus)
    qtbot.keyClick(view.table, Qt.Key.Key_Delete)
    box = view._confirm
    assert box is not None and box.isVisible()
    assert "2 addresses" in box.text() and "typed@example.org" in box.informativeText()
    box.button(QMessageBox.StandardButton.Cancel).click()
    qtbot.waitUntil(lambda: view._confirm is None)
    assert len(queue.list_suppressions()) == 3

    view.lift_button.click()
    box = view._confirm
    assert box is not None
    with qtbot.waitSignal(view.changed, timeout=1000):
        box.button(QMessageBox.StandardButton.Yes).click()
    assert addresses(view) == ["angry@example.net"]
    assert view.message.text() == "Lifted 2 suppressions."


@pytest.mark.allow_log("mailgui.gui.lists.suppressions", match=r"^suppressions: export to .*no-such-dir.* failed: ")
def test_export_writes_the_listed_addresses_as_csv_through_a_dialog_that_is_opened_not_execd(
    qtbot, queue, clock, tmp_path: Path
):
    fill(queue, clock)
    view = SuppressionsView(queue, clock=clock)
    qtbot.addWidget(view)
    view.show()
    view.export_button.click()
    dialog = view._export
    assert dialog is not None and dialog.isVisible()
    target = tmp_path / "out.csv"
    with qtbot.waitSignal(dialog.fileSelected, timeout=2000):
        dialog.selectFile(str(target))
        dialog.accept()
    qtbot.waitUntil(lambda: view._export is None)
    with target.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["address", "reason", "source", "added_at", "message_id"]
    assert [r[0] for r in rows[1:]] == ["angry@example.net", "typed@example.org"]
    assert rows[1][2] == "complaint" and rows[1][4] != "" and rows[2][4] == ""
    assert "Exported 2 addresses" in view.message.text()

    view.export_to(str(tmp_path / "no-such-dir" / "x.csv"))
    assert view.message.text().startswith("Could not export")
