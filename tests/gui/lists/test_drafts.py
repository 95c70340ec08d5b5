"""The Drafts list (mailgui/gui/lists/drafts.py): newest first, on the shared list base, the selected draft kept
across the reloads autosave causes, deleted only once confirmed."""

from __future__ import annotations

from PySide6.QtWidgets import QPushButton
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from mailgui.clock import FakeClock
from mailgui.gui.lists.drafts import COL_SUBJECT, COL_TO, NO_DRAFTS, DraftsView
from mailgui.queue import Queue
from mailgui.queue.drafts import DraftFields


def subjects(view: DraftsView) -> list[str]:
    return [view.model.index(row, COL_SUBJECT).data() for row in range(view.model.rowCount())]


def test_drafts_are_listed_newest_first_with_a_count(
    qtbot: QtBot, queue: Queue, clock: FakeClock, qtmodeltester: ModelTester
) -> None:
    view = DraftsView(queue)
    qtbot.addWidget(view)
    assert view.count_label.text() == NO_DRAFTS
    assert not view.open_button.isEnabled() and not view.delete_button.isEnabled()
    queue.save_draft(DraftFields(sender="ann@example.com", to="bob@example.org", subject="First"))
    clock.advance(60)
    queue.save_draft(DraftFields(sender="ann@example.com"))
    view.refresh()
    qtmodeltester.check(view.model)
    assert subjects(view) == ["(no subject)", "First"]
    assert view.model.index(0, COL_TO).data() == "(no recipient)"
    assert view.count_label.text() == "2 drafts"
    assert view.open_button.isEnabled() and view.delete_button.isEnabled()


def test_the_selected_draft_stays_selected_when_another_is_saved_and_moves_up(
    qtbot: QtBot, queue: Queue, clock: FakeClock
) -> None:
    ids = {}
    for subject in ("A", "B", "C"):
        ids[subject] = queue.save_draft(DraftFields(sender="ann@example.com", subject=subject))
        clock.advance(60)
    view = DraftsView(queue)
    qtbot.addWidget(view)
    view.show()
    assert subjects(view) == ["C", "B", "A"]
    view.table.selectRow(1)
    assert view.selected_id() == ids["B"]
    queue.save_draft(DraftFields(sender="ann@example.com", subject="A, edited"), ids["A"])  # an autosave
    view.refresh()
    assert subjects(view) == ["A, edited", "C", "B"]
    assert view.selected_id() == ids["B"]  # by id, not by row (row 1 is C now): Delete still means B
    opened: list[int] = []
    view.openDraft.connect(opened.append)
    view.open_selected()
    assert opened == [ids["B"]]


def test_the_drafts_list_deletes_a_draft_only_once_confirmed(qtbot: QtBot, authorized: Queue) -> None:
    authorized.save_draft(DraftFields(sender="ann@example.com", to="bob@example.org", subject="Keep me"))
    doomed = authorized.save_draft(DraftFields(sender="ann@example.com", subject="Drop me"))
    view = DraftsView(authorized)
    qtbot.addWidget(view)
    view.show()
    assert view.model.rowCount() == 2
    view.table.selectRow(subjects(view).index("Drop me"))
    view.delete_button.click()
    assert view.confirm.isVisible() and authorized.count_drafts() == 2  # asked, nothing gone yet
    yes = view.confirm.findChild(QPushButton, "deleteDraftYes")
    assert yes is not None
    yes.click()
    assert not view.confirm.isVisible()
    assert [d.fields.subject for d in authorized.list_drafts()] == ["Keep me"]
    assert subjects(view) == ["Keep me"] and doomed not in [d.id for d in authorized.list_drafts()]
    assert view.count_label.text() == "1 draft"
