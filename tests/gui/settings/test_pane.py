"""The settings pane (mailgui/gui/settings/pane.py): senders, relay, retry policy, password, Test connection."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail
from pytestqt.qtbot import QtBot

from mailgui.errors import Error
from mailgui.gui.settings.pane import RelayForm, SettingsPane
from mailgui.queue import Queue
from mailgui.settings import Settings, get_password
from tests.gui.conftest import AsyncRunner, until
from tests.test_settings import MemoryKeyring


@pytest.fixture
def pane(qtbot: QtBot, queue: Queue) -> Iterator[SettingsPane]:
    p = SettingsPane(queue)
    qtbot.addWidget(p)
    p.show()
    yield p


@pytest.fixture
def no_keyring() -> Iterator[None]:
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)


def test_adding_a_sender_validates_and_normalizes_it(pane: SettingsPane, queue: Queue, qtbot: QtBot) -> None:
    senders = pane.senders
    changes: list[None] = []
    pane.sendersChanged.connect(lambda: changes.append(None))
    senders.new_edit.setText("ann@")
    assert not senders.add()
    assert senders.error.isVisible()
    assert "sender: 'ann@' is not a valid address" in senders.error.text()
    senders.new_edit.setText("@Example.COM")
    qtbot.keyClick(senders.new_edit, "\r")
    assert queue.list_senders() == ["@example.com"]
    assert [senders.list.item(i).text() for i in range(senders.list.count())] == ["@example.com"]
    assert senders.error.isHidden()
    assert len(changes) == 1
    senders.new_edit.setText("@example.com")
    assert not senders.add()
    assert senders.error.text() == "sender: @example.com is already authorized"


def test_removing_a_sender_asks_first(pane: SettingsPane, queue: Queue) -> None:
    queue.add_sender("ann@example.com")
    pane.load()
    senders = pane.senders
    senders.list.item(0).setSelected(True)
    senders.remove_button.click()
    assert senders.remove_bar.isVisible()
    assert "Remove ann@example.com?" in senders.remove_text.text()
    assert queue.list_senders() == ["ann@example.com"]
    senders.remove_yes.click()
    assert queue.list_senders() == []
    assert senders.list.count() == 0


def test_bad_values_are_refused_beside_their_field_and_nothing_is_saved(pane: SettingsPane, queue: Queue) -> None:
    pane.smtp_radio.setChecked(True)
    pane.host_edit.setText("bad host!")
    pane.min_backoff.setValue(30 * 60)
    pane.max_backoff.setValue(10 * 60)
    assert not pane.save()
    assert pane.errors["relay.host"].isVisible()
    assert pane.errors["relay.host"].text().startswith("relay.host: 'bad host!' is not valid")
    assert queue.all_settings() == {}
    pane.host_edit.setText("smtp.example.com")
    assert not pane.save()
    assert pane.errors["retry.max_backoff"].text().startswith("retry.max_backoff: the longest gap is shorter")
    assert queue.all_settings() == {}


def test_saved_settings_are_the_ones_the_api_and_command_line_read(pane: SettingsPane, queue: Queue) -> None:
    pane.smtp_radio.setChecked(True)
    pane.host_edit.setText("smtp.example.com")
    pane.port_spin.setValue(465)
    pane.security_box.setCurrentIndex(pane.security_box.findData("tls"))
    pane.username_edit.setText("ann")
    pane.connections_spin.setValue(2)
    pane.min_backoff.setValue(60)
    pane.max_backoff.setValue(30 * 60)
    pane.lifetime.setValue(48 * 3600)
    pane.delay_warning.setValue(4 * 3600)
    assert pane.save()
    s = Settings(queue)
    assert {k: s.get(k) for k in ("relay.mode", "relay.host", "relay.port", "relay.security", "relay.username")} == {
        "relay.mode": "smtp",
        "relay.host": "smtp.example.com",
        "relay.port": "465",
        "relay.security": "tls",
        "relay.username": "ann",
    }
    assert s.get_int("worker.connections") == 2
    assert s.get_float("retry.min_backoff") == 60
    assert s.get_float("retry.max_backoff") == 1800
    assert s.get_float("retry.lifetime") == 48 * 3600
    assert s.get_float("bounce.delay_warning") == 4 * 3600
    pane.host_edit.setText("other")
    pane.load()
    assert pane.host_edit.text() == "smtp.example.com"


def test_without_a_keyring_the_password_is_refused_plainly_and_not_written_anywhere(
    no_keyring: None, pane: SettingsPane, queue: Queue
) -> None:
    assert "No OS keyring is available here" in pane.password_note.text()
    pane.smtp_radio.setChecked(True)
    pane.host_edit.setText("smtp.example.com")
    pane.password_edit.setText("s3cret-never-on-disk")
    assert not pane.save()
    assert pane.errors["relay.password"].isVisible()
    assert "no OS keyring is available here, so the password was not stored" in pane.errors["relay.password"].text()
    queue.conn.execute("PRAGMA wal_checkpoint(FULL)")
    for path in Path(queue.path).parent.iterdir():
        assert b"s3cret-never-on-disk" not in path.read_bytes(), path


def test_with_a_keyring_the_password_goes_there(
    pane: SettingsPane, queue: Queue, memory_keyring: MemoryKeyring
) -> None:
    pane.load()
    assert pane.password_note.text() == "Kept in the OS keyring, never in the queue file."
    pane.smtp_radio.setChecked(True)
    pane.host_edit.setText("smtp.example.com")
    pane.username_edit.setText("ann")
    pane.password_edit.setText("s3cret")
    assert pane.save()
    assert get_password(Settings(queue)) == "s3cret"
    assert pane.password_edit.text() == ""


def test_test_connection_runs_in_the_loop_without_freezing_the_window(
    aloop: AsyncRunner, qtbot: QtBot, queue: Queue
) -> None:
    release = asyncio.Event()
    seen: list[RelayForm] = []

    async def tester(form: RelayForm) -> str:
        seen.append(form)
        await release.wait()
        if form.password == "wrong":
            raise Error("relay: authentication refused: 535 5.7.8 Bad credentials")
        return "OK: connected, TLS and login accepted"

    pane = SettingsPane(queue, tester)
    qtbot.addWidget(pane)
    pane.show()

    async def go() -> None:
        pane.smtp_radio.setChecked(True)
        pane.host_edit.setText("127.0.0.1")
        pane.password_edit.setText("wrong")
        pane.test_button.click()
        await until(lambda: seen, what="the tester to start")
        # The test is in flight and the window still handles events: typing works, the button waits.
        assert not pane.test_button.isEnabled() and pane.test_progress.isVisible()
        pane.username_edit.setText("ann")
        assert pane.username_edit.text() == "ann"
        release.set()
        await until(pane.test_button.isEnabled, what="the test to finish")
        assert pane.test_result.text() == "✖ Failed: relay: authentication refused: 535 5.7.8 Bad credentials"
        assert pane.test_result.property("ok") is False
        pane.password_edit.setText("right")
        pane.test_button.click()
        await until(pane.test_button.isEnabled, what="the second test to finish")
        assert pane.test_result.text() == "✔ OK: connected, TLS and login accepted"

    aloop.run(go())
    assert seen[0].values["relay.host"] == "127.0.0.1" and seen[0].password == "wrong"
    assert queue.all_settings() == {}  # testing does not save


def test_saving_unchanged_settings_keeps_every_duration_to_the_second(pane: SettingsPane, queue: Queue) -> None:
    # 4,000 s shown as a rounded "66.7 min" used to be saved back as 4,002 s.
    settings = Settings(queue)
    settings.set("retry.min_backoff", "301")
    pane.load()
    assert pane.save()
    assert settings.get_float("retry.max_backoff") == 4000
    assert settings.get_float("retry.min_backoff") == 301
    assert settings.get_float("retry.lifetime") == 5 * 86400
    assert settings.get_float("bounce.delay_warning") == 0
    assert pane.max_backoff.text() == "1 h 6 min 40 s"
    assert pane.lifetime.text() == "5 d"
    assert pane.delay_warning.text() == "off"


def test_the_administrators_are_edited_checked_and_saved(pane: SettingsPane, queue: Queue) -> None:
    pane.admins_edit.setText("ann@example.com, bob@")
    assert not pane.save()
    assert pane.errors["admins"].isVisible()
    assert "admins: 'ann@example.com, bob@' is not valid: 'bob@' is not a valid address" in pane.errors["admins"].text()
    assert queue.get_setting("admins") is None
    pane.admins_edit.setText(" ann@example.com ,Bob <bob@example.org>")
    assert pane.save()
    assert queue.get_setting("admins") == "ann@example.com, Bob <bob@example.org>"
    pane.admins_edit.clear()
    pane.load()
    assert pane.admins_edit.text() == "ann@example.com, Bob <bob@example.org>"
