"""The compose window (mailgui/gui/compose/window.py): checks as you type, refusals beside the field, sending via the API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from pytestqt.qtbot import QtBot

from mailgui import mail
from mailgui.clock import FakeClock
from mailgui.errors import Error
from mailgui.gui.compose.address_field import address_problems, split_entries
from mailgui.gui.compose.checks import error_field
from mailgui.gui.compose.window import ComposeWindow
from mailgui.queue import Queue, Status


@pytest.fixture
def window(qtbot: QtBot, authorized: Queue, clock: FakeClock) -> Iterator[ComposeWindow]:
    authorized.add_sender("ann@example.com")
    w = ComposeWindow(authorized, clock)
    qtbot.addWidget(w)
    w.show()
    yield w


def fill(w: ComposeWindow, *, to: str = "bob@example.org", subject: str = "Hello", body: str = "Hi Bob") -> None:
    w.sender_field.set_text("ann@example.com")
    w.to_field.setText(to)
    w.subject_edit.setText(subject)
    w.body_edit.setPlainText(body)


def test_addresses_split_on_separators_outside_quotes_and_brackets() -> None:
    assert split_entries('"Doe, John" <j@example.com>; ann@example.com,, ') == [
        '"Doe, John" <j@example.com>',
        "ann@example.com",
    ]


def test_the_address_being_typed_is_left_alone_until_a_separator_or_leaving_the_field() -> None:
    assert address_problems("bob@example.org, bad@", "to", final=False) == []
    [problem] = address_problems("bob@example.org, bad@,", "to", final=False)
    assert problem.entry == "bad@"
    assert problem.reason.startswith("to: 'bad@' is not a valid address")
    assert [p.entry for p in address_problems("bad@", "cc", final=True)] == ["bad@"]


def test_a_bad_address_is_marked_as_you_type_with_the_api_reason_beside_the_field(
    window: ComposeWindow, qtbot: QtBot
) -> None:
    qtbot.keyClicks(window.cc_field.edit, "bob@example.org, bob@@example.org")
    assert window.cc_field.error.isHidden()
    qtbot.keyClicks(window.cc_field.edit, ",")
    assert window.cc_field.error.isVisible()
    assert window.cc_field.edit.property("invalid") is True
    expected = mail.invalid_email_reason("bob@@example.org", "cc")
    assert window.cc_field.error.text() == expected
    window.cc_field.edit.setText("bob@example.org")
    assert window.cc_field.error.isHidden()
    assert window.cc_field.edit.property("invalid") is False


def test_send_queues_the_message_through_the_mail_api_and_closes(window: ComposeWindow, authorized: Queue) -> None:
    fill(window, to='"Doe, Bob" <bob@example.org>')
    window.cc_field.setText("carol@example.org")
    window.bcc_field.setText("dave@example.org")
    window.html_check.setChecked(True)
    window.html_edit.setPlainText("<p>Hi Bob</p>")
    sent: list[int] = []
    window.sent.connect(sent.append)
    queue_id = window.send()
    assert queue_id is not None and sent == [queue_id]
    assert not window.isVisible()
    detail = authorized.get_message(queue_id)
    assert detail.summary.status == Status.QUEUED
    assert [(r.address, r.kind) for r in detail.summary.recipients] == [
        ("bob@example.org", "to"),
        ("carol@example.org", "cc"),
        ("dave@example.org", "bcc"),
    ]
    assert b"Subject: Hello" in detail.raw
    assert b"<p>Hi Bob</p>" in detail.raw
    assert b"dave@example.org" not in detail.raw  # Bcc stays off the headers


def test_an_unauthorized_sender_is_refused_beside_from_and_nothing_is_lost(
    window: ComposeWindow, authorized: Queue
) -> None:
    fill(window)
    window.sender_field.set_text("mallory@evil.example")
    assert window.send() is None
    assert window.isVisible()
    label = window.error_label("sender")
    assert label.isVisible()
    assert "'mallory@evil.example' is not an authorized sender" in label.text()
    assert window.subject_edit.text() == "Hello" and window.body_edit.toPlainText() == "Hi Bob"
    assert authorized.count_messages() == 0


def test_a_bad_address_refuses_the_send_with_the_reason_beside_the_field(
    window: ComposeWindow, authorized: Queue
) -> None:
    fill(window, to="bob@example.org, bob@")
    assert window.send() is None
    assert window.to_field.error.isVisible()
    assert "'bob@' is not a valid address" in window.to_field.error.text()
    assert window.to_field.text() == "bob@example.org, bob@"
    assert authorized.count_messages() == 0


def test_no_recipient_is_refused_beside_to(window: ComposeWindow) -> None:
    fill(window, to="")
    assert window.send() is None
    assert window.to_field.error.text() == "to: add at least one recipient (To, Cc or Bcc)"


def test_an_error_from_the_mail_api_is_shown_next_to_the_field_it_names(window: ComposeWindow) -> None:
    with pytest.raises(Error) as refused:
        mail.EmailMessage(sender="ann@example.com", to="x@example.org", subject="a\nb", body="").send()
    window.show_error(str(refused.value))
    assert error_field(str(refused.value)) == "subject"
    assert window.error_label("subject").isVisible()
    assert window.error_label("subject").text() == str(refused.value)
    window.show_error("headers: 'X-Foo' is not allowed")
    assert window.error_bar.isVisible()


def test_a_control_character_in_the_subject_is_refused_beside_it_and_nothing_is_sent(
    window: ComposeWindow, authorized: Queue
) -> None:
    fill(window, subject="Hi\x00there")
    assert window.send() is None
    assert window.isVisible()
    label = window.error_label("subject")
    assert label.isVisible()
    assert label.text() == "subject: contains a control character (U+0000) at position 3"
    assert authorized.count_messages() == 0


def test_a_nul_in_the_body_is_refused_beside_it_and_nothing_is_sent(window: ComposeWindow, authorized: Queue) -> None:
    fill(window, body="line one\nline\x00two")
    assert window.send() is None
    label = window.error_label("body")
    assert label.isVisible()
    assert label.text() == "body: contains a NUL character (U+0000) at position 14, which is not allowed in text"
    assert authorized.count_messages() == 0


def test_an_attachment_name_with_trailing_dots_is_checked_and_listed_as_it_goes_out(
    window: ComposeWindow, tmp_path: Path
) -> None:
    hidden = tmp_path / "setup.exe."
    hidden.write_bytes(b"MZ")
    plain = tmp_path / "notes.txt."
    plain.write_bytes(b"x")
    refused = window.attachments.add_paths([hidden, plain])
    assert refused == ["attachments: 'setup.exe.' is blocked: .exe files can carry executable code"]
    assert [name for name, _ in window.attachments.items] == ["notes.txt"]


def test_empty_subject_asks_first_naming_the_field_then_sends_if_confirmed(
    window: ComposeWindow, authorized: Queue, qtbot: QtBot
) -> None:
    fill(window, subject="")
    assert window.send() is None
    assert window.confirm_bar.isVisible()
    assert window.confirm_bar.text_label.text().startswith("subject: the subject is empty")
    assert authorized.count_messages() == 0
    qtbot.mouseClick(window.confirm_bar.yes_button, Qt.MouseButton.LeftButton)
    assert authorized.count_messages() == 1


def test_an_attachment_mentioned_but_missing_asks_first(window: ComposeWindow, authorized: Queue, qtbot: QtBot) -> None:
    fill(window, body="Please find the report attached.")
    assert window.send() is None
    assert window.confirm_bar.text_label.text().startswith("attachments: the body mentions an attachment")
    qtbot.mouseClick(window.confirm_bar.no_button, Qt.MouseButton.LeftButton)
    assert not window.confirm_bar.isVisible()
    window.attachments.add("report.txt", b"numbers")
    assert window.send() is not None
    assert authorized.count_messages() == 1


def test_many_public_recipients_suggests_bcc_and_can_move_them(
    window: ComposeWindow, authorized: Queue, qtbot: QtBot
) -> None:
    everyone = ", ".join(f"user{i}@example.org" for i in range(12))
    fill(window, to=everyone)
    assert window.send() is None
    assert "12 recipients will all see each other's addresses" in window.confirm_bar.text_label.text()
    qtbot.mouseClick(window.confirm_bar.fix_button, Qt.MouseButton.LeftButton)
    assert window.to_field.text() == "" and len(window.bcc_field.entries()) == 12
    queue_id = window.send()
    assert queue_id is not None
    kinds = {r.kind for r in authorized.get_message(queue_id).summary.recipients}
    assert kinds == {"bcc"}


def test_blocked_attachment_types_are_refused_with_the_reason_and_sizes_are_shown(
    window: ComposeWindow, tmp_path: Path
) -> None:
    ok = tmp_path / "notes.txt"
    ok.write_bytes(b"x" * 2048)
    bad = tmp_path / "setup.exe"
    bad.write_bytes(b"MZ")
    refused = window.attachments.add_paths([ok, bad])
    assert refused == ["attachments: 'setup.exe' is blocked: .exe files can carry executable code"]
    assert window.attachments.error.isVisible()
    assert window.attachments.list.item(0).text() == "notes.txt  (2.0 KB)"
    assert window.attachments.total.text() == "1 file, 2.0 KB"
    window.attachments.list.item(0).setSelected(True)
    window.attachments.remove_selected()
    assert window.attachments.items == []


_keep: list[QMimeData] = []


def _drop(path: Path) -> QDropEvent:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    _keep.append(mime)  # a QDropEvent does not own its mime data
    return QDropEvent(
        QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )


# QApplication.sendEvent drops a Drop event when no drag is in progress (there is no real drag offscreen), so the
# events go straight to the handlers a real drop reaches: the window's event() and the body's viewport filter.
def test_files_dropped_on_the_window_or_the_body_are_attached(window: ComposeWindow, tmp_path: Path) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"\x89PNG")
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"n")
    window.event(_drop(photo))
    assert window.eventFilter(window.body_edit.viewport(), _drop(notes)) is True  # consumed: no path pasted
    assert window.attachments.items == [("photo.png", b"\x89PNG"), ("notes.txt", b"n")]
    assert window.body_edit.toPlainText() == ""


def test_send_later_holds_the_message_until_the_chosen_time(
    window: ComposeWindow, authorized: Queue, clock: FakeClock
) -> None:
    fill(window)
    window.show_send_later()
    assert window.send_later_panel.isVisible()
    assert window.schedule() is not None
    [summary] = authorized.list_messages()
    assert summary.next_attempt_at is not None and summary.next_attempt_at >= clock.now() + 3000
    assert authorized.claim_due("w", 10, 60) == []


def test_send_later_in_the_past_is_refused_beside_the_time(window: ComposeWindow, clock: FakeClock) -> None:
    from PySide6.QtCore import QDateTime

    fill(window)
    window.show_send_later()
    window.send_later_panel.send_at_edit.setDateTime(QDateTime.fromSecsSinceEpoch(int(clock.now()) - 60))
    assert window.schedule() is None
    assert window.error_label("send_at").text() == "send later: pick a time in the future"


def test_ctrl_return_sends(window: ComposeWindow, authorized: Queue, qtbot: QtBot) -> None:
    fill(window)
    window.activateWindow()
    qtbot.waitActive(window)
    qtbot.keyClick(window.body_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert authorized.count_messages() == 1


def test_with_no_authorized_sender_the_window_links_to_settings(qtbot: QtBot, queue: Queue, clock: FakeClock) -> None:
    w = ComposeWindow(queue, clock)
    qtbot.addWidget(w)
    w.show()
    assert w.header.no_senders.isVisible()
    assert not w.send_button.isEnabled()
    with qtbot.waitSignal(w.openSettingsRequested, timeout=1000):
        w.header.no_senders.linkActivated.emit("settings")
    queue.add_sender("ann@example.com")
    w.reload_senders()
    assert not w.header.no_senders.isVisible() and w.sender_field.text() == "ann@example.com"


def test_help_lists_the_reserved_simulator_addresses_and_inserts_one(window: ComposeWindow) -> None:
    from mailgui.relay.simulator import RESERVED_ADDRESSES

    window.help_button.setChecked(True)
    assert window.help_scroll.isVisible()
    for a in RESERVED_ADDRESSES:
        assert a.address in window.help_panel.text()
    window.to_field.setText("bob@example.org")
    window.help_panel.linkActivated.emit("bounce@simulator.mailgui.test")
    assert window.to_field.entries() == ["bob@example.org", "bounce@simulator.mailgui.test"]


def test_from_offers_only_authorized_senders_and_cannot_be_typed_into(window: ComposeWindow) -> None:
    field = window.sender_field
    assert not field.choice.isEditable()
    assert [field.choice.itemText(i) for i in range(field.choice.count())] == ["ann@example.com", "@example.com"]
    field.choice.setCurrentIndex(0)  # an exact address is a fixed choice: nothing to type
    assert not field.local_edit.isVisible()
    assert field.text() == "ann@example.com"
    field.name_edit.setText("Ann Example")
    assert field.text() == "Ann Example <ann@example.com>"


def test_a_domain_sender_asks_for_the_part_before_the_at_and_checks_it_as_you_type(
    qtbot: QtBot, window: ComposeWindow
) -> None:
    field = window.sender_field
    field.choice.setCurrentIndex(1)  # @example.com: any address there may send
    assert field.local_edit.isVisible()
    assert field.text() == "" and not field.error.isVisible()  # not written yet: no complaint while typing
    qtbot.keyClicks(field.local_edit, "a b")
    assert field.error.isVisible()
    assert field.error.text().startswith("sender: ")
    assert field.local_edit.property("invalid") is True
    field.local_edit.clear()
    qtbot.keyClicks(field.local_edit, "sales")
    assert not field.error.isVisible()
    assert field.text() == "sales@example.com"
    field.local_edit.clear()
    assert window.send() is None
    assert "type the part before the @" in window.error_label("sender").text()


def test_a_domain_sender_from_a_draft_selects_the_domain_with_its_local_part(window: ComposeWindow) -> None:
    window.sender_field.set_text("Sales <sales@example.com>")
    assert window.sender_field.choice.currentText() == "@example.com"
    assert window.sender_field.local_edit.text() == "sales"
    assert window.sender_field.name_edit.text() == "Sales"
    assert window.sender_field.text() == "Sales <sales@example.com>"
    window.reload_senders()  # the list is read again (settings changed): the choice stays
    assert window.sender_field.text() == "Sales <sales@example.com>"
