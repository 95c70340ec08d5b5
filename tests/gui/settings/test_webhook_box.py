"""The settings pane's Events webhook group (mailgui/gui/settings/webhook_box.py): URL, signing secret, last error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QLineEdit
from pytestqt.qtbot import QtBot

from mailgui.delivery.webhooks import LAST_ERROR
from mailgui.gui.settings.pane import SettingsPane
from mailgui.gui.settings.webhook_box import SECRET, URL
from mailgui.queue import Queue
from mailgui.settings import Settings, get_password
from tests.test_settings import MemoryKeyring


@pytest.fixture
def pane(qtbot: QtBot, queue: Queue) -> Iterator[SettingsPane]:
    p = SettingsPane(queue)
    qtbot.addWidget(p)
    p.show()
    yield p


def test_a_webhook_url_is_saved_with_the_other_settings(pane: SettingsPane, queue: Queue) -> None:
    pane.webhook.url_edit.setText(" https://hooks.example.com/mailgui ")
    assert pane.save()
    assert Settings(queue).get(URL) == "https://hooks.example.com/mailgui"
    assert pane.errors[URL].isHidden()
    pane.webhook.url_edit.setText("https://elsewhere.example.com/")
    pane.load()
    assert pane.webhook.url_edit.text() == "https://hooks.example.com/mailgui"
    pane.webhook.url_edit.setText("http://127.0.0.1:8080/hook")  # clear text to this computer only is allowed
    assert pane.save()
    assert Settings(queue).get(URL) == "http://127.0.0.1:8080/hook"


def test_a_clear_text_url_to_another_host_is_refused_under_the_field_and_nothing_is_saved(
    pane: SettingsPane, queue: Queue
) -> None:
    pane.admins_edit.setText("ann@example.com")  # valid, and still not saved: the form is saved whole or not at all
    pane.webhook.url_edit.setText("http://hooks.example.com/mailgui")
    assert not pane.save()
    error = pane.errors[URL]
    assert error.isVisible()
    assert error.text() == (
        "events.webhook.url: 'http://hooks.example.com/mailgui' is not valid: "
        "http sends events in clear text: use https, or http to 127.0.0.1 only"
    )
    assert pane.saved_label.text() == "Not saved: see the fields marked below."
    assert queue.all_settings() == {}


def test_a_typed_secret_goes_to_the_keyring_and_is_never_shown_back(
    pane: SettingsPane, queue: Queue, memory_keyring: MemoryKeyring
) -> None:
    box = pane.webhook
    assert box.secret_edit.echoMode() == QLineEdit.EchoMode.Password
    box.url_edit.setText("https://hooks.example.com/mailgui")
    box.secret_edit.setText("whsec-never-shown")
    assert pane.save()
    assert get_password(Settings(queue), SECRET) == "whsec-never-shown"
    assert box.secret_edit.text() == ""
    pane.load()
    assert box.secret_edit.text() == ""
    shown = [w.text() for w in pane.findChildren(QLabel)] + [w.text() for w in pane.findChildren(QLineEdit)]
    assert not any("whsec-never-shown" in text for text in shown)
    queue.conn.execute("PRAGMA wal_checkpoint(FULL)")
    for path in Path(queue.path).parent.iterdir():
        assert b"whsec-never-shown" not in path.read_bytes(), path
    # Saving again with the field left empty keeps the secret.
    assert pane.save()
    assert get_password(Settings(queue), SECRET) == "whsec-never-shown"


def test_a_secret_without_a_url_is_refused_and_nothing_is_saved(
    pane: SettingsPane, queue: Queue, memory_keyring: MemoryKeyring
) -> None:
    pane.webhook.secret_edit.setText("whsec")
    assert not pane.save()
    assert pane.errors[SECRET].isVisible()
    assert pane.errors[SECRET].text().startswith("events.webhook.secret: set the URL first")
    assert queue.all_settings() == {}
    assert memory_keyring.secrets == {}


def test_a_new_url_without_a_secret_kept_for_it_is_pointed_out(
    pane: SettingsPane, queue: Queue, memory_keyring: MemoryKeyring
) -> None:
    box = pane.webhook
    box.url_edit.setText("https://hooks.example.com/one")
    assert pane.save()
    assert box.secret_note.text().startswith("No secret is kept for the new URL yet")
    box.secret_edit.setText("whsec")
    assert pane.save()
    pane.load()
    assert box.secret_note.text().startswith("Kept in the OS keyring for this URL")


def test_without_a_keyring_the_secret_is_refused_plainly_and_the_url_still_saved(
    pane: SettingsPane, queue: Queue
) -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        pane.load()
        assert pane.webhook.secret_note.text().startswith("No OS keyring is available here")
        pane.webhook.url_edit.setText("https://hooks.example.com/mailgui")
        pane.webhook.secret_edit.setText("whsec-never-on-disk")
        assert not pane.save()
    finally:
        keyring.set_keyring(previous)
    assert pane.errors[SECRET].isVisible()
    assert "events.webhook.secret: no OS keyring is available here" in pane.errors[SECRET].text()
    assert pane.saved_label.text() == "Settings saved, but not the webhook secret: see below."
    assert Settings(queue).get(URL) == "https://hooks.example.com/mailgui"


def test_the_last_error_written_in_the_queue_is_shown_as_plain_text(pane: SettingsPane, queue: Queue) -> None:
    label = pane.webhook.last_error
    assert label.text() == "No error"
    error = "events.webhook.url: https://hooks.example.com/mailgui answered 500 to event #7 <b>not bold</b>"
    queue.set_setting(LAST_ERROR, error)
    pane.load()
    assert label.text() == error
    assert label.textFormat() == Qt.TextFormat.PlainText
    assert label.property("role") == "fieldError"
    queue.set_setting(LAST_ERROR, "")  # the sender got through: shown again when the pane is shown again
    pane.hide()
    pane.show()
    assert label.text() == "No error"
    assert label.property("role") == "hint"


def test_every_webhook_field_has_a_mnemonic(pane: SettingsPane) -> None:
    box = pane.webhook
    buddies = {label.text(): label.buddy() for label in box.findChildren(QLabel) if label.buddy() is not None}
    assert buddies["U&RL:"].focusProxy() is box.url_edit
    assert buddies["S&igning secret:"].focusProxy() is box.secret_edit
    assert buddies["Las&t error:"] is box.last_error
    assert box.last_error.focusPolicy() & Qt.FocusPolicy.TabFocus


class _UnreadableKeyring(MemoryKeyring):
    """A keyring that is there but cannot be read now (a locked collection, a session bus gone away)."""

    def get_password(self, service: str, username: str) -> str | None:
        raise RuntimeError("the collection is locked")


def test_a_keyring_that_cannot_be_read_does_not_stop_a_new_url_being_saved(pane: SettingsPane, queue: Queue) -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(_UnreadableKeyring())
    try:
        pane.webhook.url_edit.setText("https://hooks.example.com/mailgui")
        assert pane.save()  # no secret typed: nothing to store, so nothing to fail on
    finally:
        keyring.set_keyring(previous)
    assert Settings(queue).get(URL) == "https://hooks.example.com/mailgui"
