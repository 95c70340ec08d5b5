"""QueueView: selection by id, coalesced live updates, other processes' changes, and the actions."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMessageBox

from mailgui.gui.queue_view.cells import COL_STATE, COLUMNS, ID_ROLE
from mailgui.gui.queue_view.view import QueueView
from mailgui.queue import Queue
from tests.gui.queue_data import enqueue, fill_varied


@pytest.fixture
def view(qtbot, queue, clock):
    v = QueueView(queue, clock=clock)
    qtbot.addWidget(v)
    v.resize(1300, 700)
    v.show()
    qtbot.waitExposed(v)
    v.watcher.stop()  # tests that need it start it; the rest are not disturbed by polling
    return v


def state_of(view: QueueView, mid: int) -> str:
    row = view.rows.row_of(mid)
    assert row is not None, f"message {mid} is not in the list"
    return view.model.data(view.model.index(row, COL_STATE))


def focus_table(qtbot, view: QueueView) -> None:
    view.activateWindow()
    view.table.setFocus()
    qtbot.waitUntil(lambda: view.table.hasFocus())


def test_selection_is_kept_by_message_id_across_new_rows_refresh_and_filter(qtbot, view, queue, clock):
    v = fill_varied(queue, clock)
    view.refresh()
    view.select_ids([v.deferred, v.sent], current=v.deferred)
    assert sorted(view.selected_ids()) == sorted([v.deferred, v.sent])
    rows_before = {view.rows.row_of(i) for i in (v.deferred, v.sent)}
    for i in range(3):
        enqueue(queue, clock, 50 + i)
    view.notify_changed([queue.list_messages(limit=1)[0].id])
    qtbot.waitUntil(lambda: view.model.rowCount() == 9)
    assert sorted(view.selected_ids()) == sorted([v.deferred, v.sent])
    assert {view.rows.row_of(i) for i in (v.deferred, v.sent)} == {r + 3 for r in rows_before}
    view.refresh()  # a full reload: rows are read again, the same messages stay selected
    assert sorted(view.selected_ids()) == sorted([v.deferred, v.sent])
    assert view.current_id() == v.deferred
    view.filter_combo.setCurrentIndex(view.filter_combo.findText("Deferred"))
    assert view.model.rowCount() == 1
    assert view.selected_ids() == [v.deferred]
    assert view.details.message_id == v.deferred


def test_many_worker_updates_make_one_read_and_one_data_changed_per_tick(qtbot, view, queue, clock):
    queue.add_sender("@example.com")
    for i in range(60):
        enqueue(queue, clock, i)
    view.refresh()
    shown = [view.rows.message_id(r) for r in range(view.table.rowAt(view.table.viewport().height() - 1) + 1)]
    assert len(shown) > 10
    for mid in shown:
        queue.cancel(mid)
    reads, changed = [], []
    real = queue.get_summaries
    queue.get_summaries = lambda ids: reads.append(list(ids)) or real(ids)  # type: ignore[method-assign]
    view.model.dataChanged.connect(lambda a, b, roles=(): changed.append((a.row(), b.row())))
    for mid in shown:  # the worker reports each message on its own, in a burst
        view.notify_changed([mid])
        view.notify_changed([mid])
    qtbot.waitUntil(lambda: view.update_ticks == 1)
    assert len(reads) == 1 and sorted(reads[0]) == sorted(shown)
    assert len(changed) == 1
    assert all(state_of(view, mid) == "Cancelled" for mid in shown)
    # Rendering shows it: the first visible row now says Cancelled.
    assert view.table.model().index(0, COL_STATE).data() == "Cancelled"


def test_a_message_sent_by_another_process_shows_up(qtbot, view, queue, db_path):
    queue.add_sender("@example.com")
    view.watcher.start()
    assert view.model.rowCount() == 0
    script = (
        "from mailgui import mail\n"
        "mail.send_mail(sender='script@example.com', to='zoe@example.org', subject='From a script', body='hi')\n"
    )
    env = {**os.environ, "MAILGUI_DB": str(db_path)}
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=60)
    qtbot.waitUntil(lambda: view.model.rowCount() == 1, timeout=5000)
    assert view.model.data(view.model.index(0, COLUMNS.index("Subject"))) == "From a script"


def test_a_state_change_made_through_another_connection_shows_up(qtbot, view, queue, clock, db_path):
    v = fill_varied(queue, clock)
    view.refresh()
    view.watcher.start()
    other = Queue(db_path, clock=clock)
    try:
        other.cancel(v.queued)
    finally:
        other.close()
    qtbot.waitUntil(lambda: state_of(view, v.queued) == "Cancelled", timeout=5000)


def test_retry_now_with_its_shortcut(qtbot, view, queue, clock):
    v = fill_varied(queue, clock)
    view.refresh()
    view.select_ids([v.deferred, v.bounced], current=v.deferred)
    focus_table(qtbot, view)
    qtbot.keyClick(view.table, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    assert queue.get_message(v.deferred).summary.status == "queued"
    assert queue.get_message(v.bounced).summary.status == "queued"
    qtbot.waitUntil(lambda: state_of(view, v.bounced) == "Queued")
    assert "Retrying 2 messages" in view.notice.text()


def test_cancel_with_its_shortcut_and_refusals_are_explained(qtbot, view, queue, clock):
    v = fill_varied(queue, clock)
    view.refresh()
    view.select_ids([v.queued, v.sent], current=v.queued)
    focus_table(qtbot, view)
    qtbot.keyClick(view.table, Qt.Key.Key_X, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert queue.get_message(v.queued).summary.status == "cancelled"
    assert queue.get_message(v.sent).summary.status == "sent"
    assert "Cancelled 1 message" in view.notice.text()
    assert f"message {v.sent} is sent" in view.notice.text()
    qtbot.waitUntil(lambda: state_of(view, v.queued) == "Cancelled")


def test_delete_asks_first_without_blocking_and_removes_the_rows(qtbot, view, queue, clock):
    v = fill_varied(queue, clock)
    view.refresh()
    view.select_ids([v.sent, v.cancelled], current=v.sent)
    focus_table(qtbot, view)
    qtbot.keyClick(view.table, Qt.Key.Key_Delete)
    box = view.queue_actions.confirm_box
    assert box is not None and box.isVisible()  # opened, not exec'd: we are back here while it shows
    assert "Delete 2 messages" in box.text()
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert view.model.rowCount() == 6
    view.queue_actions.delete_selected()
    view.queue_actions.confirm_box.button(QMessageBox.StandardButton.Yes).click()
    assert view.model.rowCount() == 4
    assert view.rows.row_of(v.sent) is None and view.rows.row_of(v.cancelled) is None
    assert "Deleted 2 messages" in view.notice.text()


def test_edit_as_new_emits_the_message_id_with_its_shortcut(qtbot, view, queue, clock):
    v = fill_varied(queue, clock)
    view.refresh()
    view.select_ids([v.bounced], current=v.bounced)
    focus_table(qtbot, view)
    with qtbot.waitSignal(view.editAsNew, timeout=2000) as signal:
        qtbot.keyClick(view.table, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    assert signal.args == [v.bounced]


def test_actions_follow_the_selection(qtbot, view, queue, clock):
    v = fill_varied(queue, clock)
    view.refresh()
    view.select_ids([v.sent], current=v.sent)
    assert not view.retry_action.isEnabled()
    assert not view.cancel_action.isEnabled()
    assert view.delete_action.isEnabled()
    view.select_ids([v.deferred], current=v.deferred)
    assert view.retry_action.isEnabled() and view.cancel_action.isEnabled()


def test_the_details_pane_follows_the_current_row_and_live_updates(qtbot, view, queue, clock):
    v = fill_varied(queue, clock)
    view.refresh()
    view.select_ids([v.deferred], current=v.deferred)
    assert view.details.message_id == v.deferred
    assert "Deferred" in view.details.state_label.text()
    queue.cancel(v.deferred)
    view.notify_changed([v.deferred])
    qtbot.waitUntil(lambda: "Cancelled" in view.details.state_label.text())


def test_search_box_filters_after_typing_stops(qtbot, view, queue, clock):
    v = fill_varied(queue, clock)
    view.refresh()
    qtbot.keyClicks(view.search_box, "erin@slow")
    qtbot.waitUntil(lambda: view.model.rowCount() == 1)
    assert view.model.data(view.model.index(0, 0), ID_ROLE) == v.deferred
    assert view.count_label.text() == "1 message"


def test_new_messages_do_not_move_what_a_reader_further_down_is_looking_at(qtbot, view, queue, clock):
    queue.add_sender("@example.com")
    for i in range(200):
        enqueue(queue, clock, i)
    view.refresh()
    bar = view.table.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 120)  # the view lays itself out after the reload
    bar.setValue(120)
    assert view.table.rowAt(0) == 120
    top_id = view.rows.message_id(120)
    for i in range(5):
        enqueue(queue, clock, 300 + i)
    view.notify_changed([queue.list_messages(limit=1)[0].id])
    qtbot.waitUntil(lambda: view.model.rowCount() == 205)
    assert view.table.rowAt(0) == 125
    assert view.rows.message_id(view.table.rowAt(0)) == top_id
    view.table.scrollToTop()  # at the top, new messages come into view
    enqueue(queue, clock, 400)
    view.notify_changed([queue.list_messages(limit=1)[0].id])
    qtbot.waitUntil(lambda: view.model.rowCount() == 206)
    assert view.table.rowAt(0) == 0
    assert view.model.data(view.model.index(0, 4)) == "Quarterly report 400"


def test_the_views_keys_do_not_clash_with_the_main_windows(qtbot, queue, clock):
    """Qt fires neither of two actions with one key in live contexts (and warns): each key must be unique."""
    from mailgui.gui.shell.main_window import MainWindow

    window = MainWindow(queue, clock)
    try:
        keys: dict[str, list[str]] = {}
        for action in window.findChildren(QAction):
            for seq in action.shortcuts():
                keys.setdefault(seq.toString(), []).append(action.text())
        clashes = {k: v for k, v in keys.items() if k and len(v) > 1}
        assert clashes == {}
        view_keys = {a.shortcut().toString() for a in window.queue_view.actions() if not a.shortcut().isEmpty()}
        assert {"Ctrl+R", "Ctrl+Shift+X", "Del", "Ctrl+E", "Ctrl+F"} <= view_keys
    finally:
        window.queue_view.close()  # stops its timers
        with qtbot.waitSignal(window.destroyed):  # nothing of it may fire after the queue file is closed
            window.deleteLater()


def test_actions_on_many_messages_run_in_chunks_and_a_huge_selection_is_refused(qtbot, view, queue, clock, monkeypatch):
    from mailgui.gui.queue_view import actions as queue_actions

    queue.add_sender("@example.com")
    ids = [enqueue(queue, clock, i) for i in range(25)]
    view.refresh()
    monkeypatch.setattr(queue_actions, "ACTION_CHUNK", 10)
    monkeypatch.setattr(queue_actions, "ACTION_LIMIT", 20)
    view.table.selectAll()
    assert view.selected_count() == 25
    view.queue_actions.cancel_selected()
    assert "at most 20 at a time" in view.notice.text()
    assert queue.count_messages("cancelled") == 0
    view.select_ids(ids[:18], current=ids[0])
    view.queue_actions.cancel_selected()
    assert queue.count_messages("cancelled") == 10  # the first chunk; the event loop turns before the next
    assert view.notice.text() == "Cancelled … 10 of 18"
    qtbot.waitUntil(lambda: view.notice.text() == "Cancelled 18 messages.")
    assert queue.count_messages("cancelled") == 18
