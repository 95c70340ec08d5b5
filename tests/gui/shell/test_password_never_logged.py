"""The relay password never reaches a log: typed in Settings, tried with Test connection, kept in the keyring,
read back by the worker and sent with AUTH, refused once and accepted after, everything logged at DEBUG, in the
records and in the app's log file (tests/test_secrets.py checks the worker alone and the queue file)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from mailgui.clock import FakeClock
from mailgui.gui.queue_view.cells import COL_STATE
from mailgui.gui.settings.pane import RelayForm, SettingsPane
from mailgui.logsetup import configure_logging
from mailgui.queue import Queue
from tests.gui.conftest import AsyncRunner, until
from tests.gui.shell.test_end_to_end import cell, compose, running_app, sent_id
from tests.logfail import expect_relay_failures
from tests.smtpserver import SMTPTestServer, make_tls
from tests.test_secrets import SECRET, file_bytes, forms
from tests.test_settings import MemoryKeyring

WRONG = "wrong-" + SECRET


def fill_relay(pane: SettingsPane, port: int, ca_file: Path, password: str) -> None:
    pane.smtp_radio.setChecked(True)
    pane.host_edit.setText("127.0.0.1")
    pane.port_spin.setValue(port)
    pane.security_box.setCurrentIndex(pane.security_box.findData("starttls"))
    pane.ca_edit.setText(str(ca_file))
    pane.username_edit.setText("ann")
    pane.password_edit.setText(password)


def test_a_relay_form_does_not_show_its_password_in_its_repr() -> None:
    form = RelayForm({"relay.host": "smtp.example.com"}, SECRET)
    assert SECRET not in repr(form) and "smtp.example.com" in repr(form)


@expect_relay_failures
def test_the_password_never_reaches_the_log_records_or_the_log_file(
    aloop: AsyncRunner,
    authorized: Queue,
    db_path: Path,
    clock: FakeClock,
    tmp_path: Path,
    memory_keyring: MemoryKeyring,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    tls = make_tls(tmp_path)
    log_file = tmp_path / "log" / "mailgui.log"
    stderr_file = tmp_path / "stderr.log"
    stderr_fd = os.open(stderr_file, os.O_WRONLY | os.O_CREAT)
    # The app's own outputs (its rotating log file, its stderr) for everything mailgui logs; pytest's handlers on
    # the root logger keep the configured root as it is, so they go on mailgui's logger (records still reach caplog).
    setup = configure_logging(fd=stderr_fd, log_file=log_file, level=logging.DEBUG, logger=logging.getLogger("mailgui"))

    async def go() -> None:
        server = SMTPTestServer(tls=tls, starttls=True, users={"ann": SECRET})
        async with server, running_app(db_path, clock) as session:
            window = session.window
            assert window is not None
            pane = window.settings_pane
            window.show_page("settings")

            fill_relay(pane, server.port, tls.ca_file, WRONG)
            pane.test_button.click()
            await until(pane.test_button.isEnabled, what="Test connection with the wrong password")
            assert "535" in pane.test_result.text()
            assert pane.save()  # the wrong one in the keyring; the worker restarts on it
            w = compose(window, "bob@example.org")
            queued = sent_id(w)
            w.send()
            message_id = await queued()
            await until(lambda: window.worker_status.state == "unreachable", what="the login to be refused")
            assert "refused the login for 'ann'" in window.status_bar.worker_label.text()

            pane.password_edit.setText(SECRET)
            pane.test_button.click()
            await until(pane.test_button.isEnabled, what="Test connection with the right password")
            assert pane.test_result.text().startswith("✔ OK: ")
            assert pane.save()
            assert memory_keyring.secrets == {("mailgui", "ann@127.0.0.1"): SECRET}
            clock.advance(3600)  # past the relay's backoff and the message's retry time
            session.backend.wake()  # type: ignore[union-attr]
            await server.wait_received(1)
            await until(lambda: cell(window, message_id, COL_STATE) == "Sent", what="Sent")
        assert [login for login, _ in server.logins][-1:] == ["ann"]
        assert {password for _, password in server.logins} == {WRONG, SECRET}  # both really went over the wire

    try:
        aloop.run(go())
    finally:
        assert setup.stop()
        os.close(stderr_fd)

    # What mailgui's process logged (the test server's own log, aiosmtpd's "mail.log", is the far side of the
    # wire: a relay's log is not ours to keep clean).
    records = "\n".join(
        f"{r.name} {r.getMessage()} {r.exc_text or ''} {r.stack_info or ''}"
        for r in caplog.records
        if not r.name.startswith("mail.log")
    )
    written = log_file.read_text(encoding="utf-8") + stderr_file.read_text(encoding="utf-8")
    assert "relay failed (auth)" in records and "relay failed (auth)" in written  # the refusal was logged
    assert "mailgui.delivery" in written and " DEBUG " in written  # DEBUG records reached the file
    on_disk = file_bytes(db_path)
    for password in (WRONG, SECRET):
        for form in forms(password):
            assert form.decode() not in records, form
            assert form.decode() not in written, form
            assert form not in on_disk, form
