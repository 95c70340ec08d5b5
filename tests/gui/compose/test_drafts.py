"""Drafts in the GUI: autosaved a short time after the last change (FakeClock), on close, offered again, reopened."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from mailgui.clock import FakeClock
from mailgui.gui.compose.autosave import AUTOSAVE_DELAY
from mailgui.gui.compose.window import ComposeWindow
from mailgui.gui.lists.drafts import COL_SUBJECT
from mailgui.gui.shell.main_window import MainWindow
from mailgui.queue import Queue


def test_autosave_waits_for_a_pause_in_typing(qtbot: QtBot, authorized: Queue, clock: FakeClock) -> None:
    w = ComposeWindow(authorized, clock)
    qtbot.addWidget(w)
    w.show()
    qtbot.keyClicks(w.subject_edit, "Plans")
    assert w.autosave.pending
    clock.advance(AUTOSAVE_DELAY - 1)
    assert not w.autosave.poll()
    qtbot.keyClicks(w.body_edit, "Half a thought")  # a new change restarts the wait
    clock.advance(AUTOSAVE_DELAY - 1)
    assert not w.autosave.poll()
    assert authorized.count_drafts() == 0
    clock.advance(1)
    assert w.autosave.poll()
    [draft] = authorized.list_drafts()
    assert (draft.fields.subject, draft.fields.body) == ("Plans", "Half a thought")
    assert w.status.text().startswith("Draft saved at")
    qtbot.keyClicks(w.body_edit, ", finished")
    clock.advance(AUTOSAVE_DELAY)
    assert w.autosave.poll()
    assert [d.fields.body for d in authorized.list_drafts()] == ["Half a thought, finished"]  # same draft updated


def test_an_empty_window_leaves_no_draft(qtbot: QtBot, authorized: Queue, clock: FakeClock) -> None:
    w = ComposeWindow(authorized, clock)
    qtbot.addWidget(w)
    w.show()
    w.close()
    assert authorized.count_drafts() == 0


def test_a_closed_window_is_offered_again_after_a_restart_and_reopens_intact(
    qtbot: QtBot, db_path: Path, clock: FakeClock
) -> None:
    first = Queue(db_path, clock=clock)
    first.add_sender("ann@example.com")
    window = MainWindow(first, clock)
    qtbot.addWidget(window)
    compose = window.new_message()
    compose.to_field.setText("bob@example.org, half@")
    compose.subject_edit.setText("Minutes")
    compose.body_edit.setPlainText("Draft text")
    compose.attachments.add("minutes.txt", b"1. nothing")
    compose.close()  # before the autosave delay: closing saves
    window.close()
    first.close()

    second = Queue(db_path, clock=clock)  # "restart": a new connection on the same file
    window = MainWindow(second, clock)
    qtbot.addWidget(window)
    window.show()
    assert window.drafts_notice.isVisible()
    assert "1 unsent draft" in window.drafts_notice.text_label.text()
    window.show_page("drafts")
    assert window.drafts_view.model.rowCount() == 1
    assert window.drafts_view.model.index(0, COL_SUBJECT).data() == "Minutes"
    window.drafts_view.table.selectRow(0)
    window.drafts_view.open_selected()
    [reopened] = window.compose_windows
    assert reopened.to_field.text() == "bob@example.org, half@"
    assert reopened.to_field.error.isVisible()  # the bad address is marked again
    assert reopened.body_edit.toPlainText() == "Draft text"
    assert reopened.attachments.items == [("minutes.txt", b"1. nothing")]
    reopened.to_field.setText("bob@example.org")
    assert reopened.send() is not None
    assert second.count_drafts() == 0  # sent: the draft is gone
    assert window.drafts_view.model.rowCount() == 0
    window.close()
    second.close()


def test_discard_deletes_the_draft(qtbot: QtBot, authorized: Queue, clock: FakeClock) -> None:
    w = ComposeWindow(authorized, clock)
    qtbot.addWidget(w)
    w.subject_edit.setText("Nope")
    assert w.save_draft() is not None
    assert authorized.count_drafts() == 1
    w.discard()
    assert authorized.count_drafts() == 0
    assert not w.isVisible()
