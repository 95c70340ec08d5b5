"""The first-run dialog (mailgui/gui/shell/first_run.py): opened without a nested loop, stores sender and relay."""

from __future__ import annotations

from PySide6.QtWidgets import QDialogButtonBox

from mailgui.gui.shell.first_run import DEFAULT_SENDER, needs_first_run, open_first_run
from mailgui.queue import Queue
from mailgui.settings import Settings
from tests.gui.conftest import AsyncRunner, until


def _ok(dialog) -> None:  # type: ignore[no-untyped-def]
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()


def test_a_queue_without_senders_needs_the_first_run(queue: Queue) -> None:
    assert needs_first_run(queue)
    queue.add_sender("@example.com")
    assert not needs_first_run(queue)


def test_accepting_the_defaults_authorizes_you_at_localhost_and_keeps_the_local_relay(
    aloop: AsyncRunner, queue: Queue
) -> None:
    async def go() -> bool:
        dialog, accepted = open_first_run(queue)
        await until(dialog.isVisible, what="the dialog to show")
        assert dialog.sender_edit.text() == DEFAULT_SENDER
        assert dialog.local_radio.isChecked()
        assert not accepted.done()  # open() returned at once: no nested event loop
        _ok(dialog)
        return await accepted

    assert aloop.run(go()) is True
    assert queue.list_senders() == ["you@localhost"]
    assert Settings(queue).get("relay.mode") == "local"


def test_a_bad_sender_keeps_the_dialog_open_with_the_reason_beside_it(aloop: AsyncRunner, queue: Queue) -> None:
    async def go() -> None:
        dialog, accepted = open_first_run(queue)
        dialog.sender_edit.setText("ann@")
        _ok(dialog)
        await until(dialog.sender_error.isVisible, what="the error")
        assert "sender: 'ann@' is not a valid address" in dialog.sender_error.text()
        assert dialog.isVisible() and not accepted.done()
        dialog.sender_edit.setText("@Example.COM")
        _ok(dialog)
        assert await accepted is True

    aloop.run(go())
    assert queue.list_senders() == ["@example.com"]


def test_choosing_an_smtp_relay_needs_a_host_and_stores_it(aloop: AsyncRunner, queue: Queue) -> None:
    async def go() -> None:
        dialog, accepted = open_first_run(queue)
        dialog.smtp_radio.setChecked(True)
        _ok(dialog)
        await until(dialog.host_error.isVisible, what="the host error")
        assert dialog.host_error.text() == "relay.host: a host name is needed to use an SMTP relay"
        assert queue.list_senders() == []  # nothing stored while refused
        dialog.host_edit.setText("smtp.example.com")
        dialog.port_spin.setValue(465)
        _ok(dialog)
        assert await accepted is True

    aloop.run(go())
    settings = Settings(queue)
    assert (settings.get("relay.mode"), settings.get("relay.host"), settings.get("relay.port")) == (
        "smtp",
        "smtp.example.com",
        "465",
    )


def test_later_stores_nothing(aloop: AsyncRunner, queue: Queue) -> None:
    async def go() -> bool:
        dialog, accepted = open_first_run(queue)
        dialog.buttons.button(QDialogButtonBox.StandardButton.Cancel).click()
        return await accepted

    assert aloop.run(go()) is False
    assert queue.list_senders() == []
    assert queue.get_setting("relay.mode") is None
