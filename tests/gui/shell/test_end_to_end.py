"""The whole app end to end: real widgets, the real worker in the qasync loop, a real SMTP server on 127.0.0.1.

Retry times come from a FakeClock; nothing sleeps to let time pass. Conditions are awaited by polling while the
loop runs (tests/gui/conftest.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication

from mailgui.clock import FakeClock
from mailgui.delivery import MessageEvent, RetryPolicy, WorkerEvent
from mailgui.gui.compose.window import ComposeWindow
from mailgui.gui.queue_view.cells import COL_NEXT, COL_REPLY, COL_STATE
from mailgui.gui.shell.app import AppSession, run_gui
from mailgui.gui.shell.backend import WorkerBackend
from mailgui.gui.shell.main_window import MainWindow
from mailgui.queue import Queue
from mailgui.settings import Settings
from tests.gui.conftest import AsyncRunner, until
from tests.logfail import expect_recording_failure, expect_relay_failures
from tests.smtpserver import SMTPTestServer, make_tls

SENDER = "ann@example.com"


def use_relay(queue: Queue, port: int, **extra: str) -> None:
    settings = Settings(queue)
    settings.set("relay.mode", "smtp")
    settings.set("relay.host", "127.0.0.1")
    settings.set("relay.port", str(port))
    settings.set("relay.security", "none")
    settings.set("relay.timeout", "5")
    for key, value in extra.items():
        settings.set(key, value)


@asynccontextmanager
async def running_app(db: Path, clock: FakeClock, **worker_options: object) -> AsyncIterator[AppSession]:
    """The app with the real worker (fast polling, no retry jitter); closed like a user would, then checked."""
    options: dict[str, object] = {"poll_interval": 0.02, "policy": RetryPolicy(jitter=0.0), "stop_grace": 0.5}
    options.update(worker_options)
    session = AppSession(db, clock=clock, backend=WorkerBackend(db, clock=clock, **options))
    task = asyncio.ensure_future(session.run())
    try:
        await asyncio.wait_for(session.started.wait(), 10)
        yield session
    finally:
        session.close()
        assert await asyncio.wait_for(task, 15) == 0
    with Queue(db) as q:  # worker stopped cleanly: nothing left leased
        leased = q.conn.execute("SELECT count(*) FROM messages WHERE status = 'sending' OR lease_owner IS NOT NULL")
        assert leased.fetchone()[0] == 0


def compose(window: MainWindow, to: str, subject: str = "Hello", body: str = "Hi there") -> ComposeWindow:
    w = window.new_message()
    w.sender_field.set_text(SENDER)
    w.to_field.setText(to)
    w.subject_edit.setText(subject)
    w.body_edit.setPlainText(body)
    return w


def cell(window: MainWindow, message_id: int, column: int) -> str | None:
    view = window.queue_view
    assert view is not None
    row = view.rows.row_of(message_id)
    if row is None:
        return None
    value = view.model.index(row, column).data(Qt.ItemDataRole.DisplayRole)
    return None if value is None else str(value)


def sent_id(w: ComposeWindow) -> Callable[[], Awaitable[int]]:
    ids: list[int] = []
    w.sent.connect(ids.append)

    async def wait() -> int:
        await until(lambda: ids, what="the message to be queued")
        return ids[0]

    return wait


def test_compose_and_send_arrives_at_the_server_and_turns_sent_in_the_table(
    aloop: AsyncRunner, authorized: Queue, db_path: Path, clock: FakeClock
) -> None:
    async def go() -> None:
        async with SMTPTestServer() as server:
            use_relay(authorized, server.port)
            async with running_app(db_path, clock) as session:
                window = session.window
                assert window is not None
                w = compose(window, "Bob <bob@example.org>", subject="Lunch", body="Noon at the usual place?")
                queued = sent_id(w)
                w.activateWindow()
                w.send_button.click()
                message_id = await queued()
                assert not w.isVisible()
                await server.wait_received(1)
                await until(lambda: cell(window, message_id, COL_STATE) == "Sent", what="the row to turn Sent")
                assert "250" in (cell(window, message_id, COL_REPLY) or "")
                await until(lambda: "1 sent" in window.counts_label.text(), what="the counts (coalesced)")
        [got] = server.received
        assert got.mail_from == SENDER and got.rcpt_tos == ("bob@example.org",)
        assert b"Subject: Lunch" in got.data and b"Noon at the usual place?" in got.data
        raw = authorized.get_message(message_id).raw
        # byte for byte what was queued (SMTP ends the data with a line break if the message did not)
        assert got.data == (raw if raw.endswith(b"\r\n") else raw + b"\r\n")

    aloop.run(go())


def test_a_4xx_reply_turns_the_row_deferred_with_the_next_attempt_shown(
    aloop: AsyncRunner, authorized: Queue, db_path: Path, clock: FakeClock
) -> None:
    async def go() -> None:
        async with SMTPTestServer() as server:
            use_relay(authorized, server.port)
            server.refuse("bob@example.org", "451 4.3.0 Try again later", times=1)
            async with running_app(db_path, clock) as session:
                window = session.window
                assert window is not None
                w = compose(window, "bob@example.org")
                queued = sent_id(w)
                w.send()
                message_id = await queued()
                await until(lambda: cell(window, message_id, COL_STATE) == "Deferred", what="Deferred")
                assert cell(window, message_id, COL_NEXT) == "in 5 min"  # retry.min_backoff, no jitter
                assert "451" in (cell(window, message_id, COL_REPLY) or "")
                await until(window.badge.isVisible, what="the badge")
                assert window.badge.text() == "1 deferred"
                assert server.received == []
                clock.advance(300)  # the retry is due: the worker sends it again
                session.backend.wake()  # type: ignore[union-attr]
                await server.wait_received(1)
                await until(lambda: cell(window, message_id, COL_STATE) == "Sent", what="Sent after the retry")
                assert authorized.get_message(message_id).summary.attempts == 2
                window.badge.open()
                assert not window.badge.isVisible()

    aloop.run(go())


def test_a_5xx_reply_shows_in_bounces_and_a_report_reaches_the_sender(
    aloop: AsyncRunner, authorized: Queue, db_path: Path, clock: FakeClock
) -> None:
    async def go() -> None:
        async with SMTPTestServer() as server:
            use_relay(authorized, server.port)
            server.refuse("nobody@example.org", "550 5.1.1 <nobody@example.org>: User unknown")
            async with running_app(db_path, clock) as session:
                window = session.window
                assert window is not None and window.bounces_view is not None
                w = compose(window, "nobody@example.org", subject="Invitation")
                queued = sent_id(w)
                w.send()
                message_id = await queued()
                await until(lambda: cell(window, message_id, COL_STATE) == "Bounced", what="Bounced")
                bounces = window.bounces_view.model  # type: ignore[attr-defined]
                await until(lambda: bounces.rowCount() == 1, what="the bounce in the Bounces view")
                texts = [str(bounces.index(0, c).data()) for c in range(bounces.columnCount())]
                assert "nobody@example.org" in texts
                assert any("User unknown" in t for t in texts)
                assert any(f"#{message_id} Invitation" in t for t in texts)
                await until(window.badge.isVisible, what="the badge")
                assert window.badge.text() == "1 new bounce"
                await server.wait_received(1)  # the delivery report, through the same relay
                window.show_page("bounces")
                assert not window.badge.isVisible()
        [report] = server.received
        assert report.mail_from == "" and report.rcpt_tos == (SENDER,)
        assert b"multipart/report" in report.data and b"report-type=delivery-status" in report.data
        assert b"nobody@example.org" in report.data and b"5.1.1" in report.data

    aloop.run(go())


def test_test_connection_reports_success_and_a_refused_password(
    aloop: AsyncRunner, authorized: Queue, db_path: Path, clock: FakeClock, tmp_path: Path
) -> None:
    tls = make_tls(tmp_path)

    async def go() -> None:
        server = SMTPTestServer(tls=tls, starttls=True, users={"ann": "right"})
        async with server, running_app(db_path, clock) as session:
            window = session.window
            assert window is not None
            pane = window.settings_pane
            window.show_page("settings")
            pane.smtp_radio.setChecked(True)
            pane.host_edit.setText("127.0.0.1")
            pane.port_spin.setValue(server.port)
            pane.security_box.setCurrentIndex(pane.security_box.findData("starttls"))
            pane.ca_edit.setText(str(tls.ca_file))
            pane.username_edit.setText("ann")
            pane.password_edit.setText("wrong")
            pane.test_button.click()
            assert not pane.test_button.isEnabled()  # running in the loop; the window stays live
            await until(pane.test_button.isEnabled, what="the first test")
            assert pane.test_result.text().startswith("✖ Failed: ")
            assert "535" in pane.test_result.text()
            pane.password_edit.setText("right")
            pane.test_button.click()
            await until(pane.test_button.isEnabled, what="the second test")
            assert pane.test_result.text().startswith("✔ OK: ")
            assert "STARTTLS verified" in pane.test_result.text()
            assert "logged in as ann" in pane.test_result.text()
        assert server.received == []  # no mail was sent
        assert [c.login for c in server.connections] == [None, "ann"]

    aloop.run(go())


@pytest.mark.allow_log("mailgui.delivery.running", match=r"^stopping: abandoning a send in flight ")
def test_closing_while_a_send_is_in_flight_stops_the_worker_and_releases_the_lease(
    aloop: AsyncRunner, authorized: Queue, db_path: Path, clock: FakeClock
) -> None:
    async def go() -> None:
        async with SMTPTestServer() as server:
            use_relay(authorized, server.port)
            server.hold()  # the server takes the message but does not answer yet
            async with running_app(db_path, clock, stop_grace=0.2) as session:
                window = session.window
                assert window is not None
                w = compose(window, "bob@example.org")
                queued = sent_id(w)
                w.send()
                message_id = await queued()
                await server.wait_holding(1)
                await until(lambda: cell(window, message_id, COL_STATE) == "Sending", what="Sending")
            # running_app closed the window and checked that nothing is left leased
            server.release()
        status = authorized.get_message(message_id).summary.status
        assert status in ("queued", "deferred")

    aloop.run(go())


def test_with_the_defaults_mail_goes_through_the_built_in_relay_and_bounces_land_in_the_mailbox(
    aloop: AsyncRunner, db_path: Path, clock: FakeClock
) -> None:
    """First run on a new queue, defaults accepted: local relay, you@localhost, the simulator addresses."""

    async def go() -> None:
        options = {"poll_interval": 0.02, "policy": RetryPolicy(jitter=0.0), "stop_grace": 0.5}
        session = AppSession(db_path, clock=clock, backend=WorkerBackend(db_path, clock=clock, **options))
        task = asyncio.ensure_future(session.run())
        await until(lambda: session.first_run_dialog is not None, what="the first-run dialog")
        assert session.first_run_dialog is not None
        session.first_run_dialog.accept()
        await asyncio.wait_for(session.started.wait(), 10)
        window = session.window
        assert window is not None and window.mailbox_view is not None
        ids = {}
        for to in ("success@simulator.mailgui.test", "bounce@simulator.mailgui.test"):
            w = window.new_message()
            assert w.sender_field.text() == "you@localhost"
            w.to_field.setText(to)
            w.subject_edit.setText(f"To {to}")
            w.body_edit.setPlainText("Trying mailgui")
            queued = sent_id(w)
            w.send()
            ids[to] = await queued()
        await until(lambda: cell(window, ids["success@simulator.mailgui.test"], COL_STATE) == "Sent", what="Sent")
        await until(lambda: cell(window, ids["bounce@simulator.mailgui.test"], COL_STATE) == "Bounced", what="Bounced")
        mailbox = window.mailbox_view.model  # type: ignore[attr-defined]
        # the delivered message and the bounce report to you@localhost
        await until(lambda: mailbox.rowCount() == 2, what="two messages in the mailbox")
        session.close()
        assert await task == 0

    aloop.run(go())


def test_run_gui_starts_on_its_defaults_and_closes_cleanly(qapp: QApplication, db_path: Path) -> None:
    """The `mailgui` command's own path: asyncio.Runner over qasync, the built-in relay, then a clean exit."""
    with Queue(db_path) as q:
        q.add_sender("you@localhost")  # not a new queue: no first-run dialog
    seen: list[str] = []

    tries = [0]

    def close_when_running() -> None:
        tries[0] += 1
        for widget in QApplication.topLevelWidgets():
            running = isinstance(widget, MainWindow) and widget.worker_status.state == "running"
            if isinstance(widget, MainWindow) and widget.isVisible() and (running or tries[0] > 500):
                seen.append(widget.status_bar.worker_label.text())  # after 10 s: closed anyway, and the test fails
                widget.close()
                return
        QTimer.singleShot(20, close_when_running)

    QTimer.singleShot(0, close_when_running)
    assert run_gui(db_path) == 0
    assert seen == ["Sending: running"]
    qapp.setQuitOnLastWindowClosed(True)
    qapp.setStyleSheet("")


def test_pause_holds_messages_back_and_resume_sends_them(
    aloop: AsyncRunner, authorized: Queue, db_path: Path, clock: FakeClock
) -> None:
    async def go() -> None:
        async with SMTPTestServer() as server:
            use_relay(authorized, server.port)
            async with running_app(db_path, clock) as session:
                window = session.window
                assert window is not None and isinstance(session.backend, WorkerBackend)
                worker = session.backend.worker
                window.pause_action.trigger()
                await until(lambda: window.status_bar.worker_label.text() == "Sending: paused", what="paused")
                events: list[WorkerEvent] = []
                worker.subscribe(events.append)
                w = compose(window, "bob@example.org")
                queued = sent_id(w)
                w.send()
                message_id = await queued()
                # A pass that begins after the message was queued, and ends: the one after it has begun.
                start = worker.passes
                for n in (1, 2):
                    worker.wake()
                    await until(lambda n=n: worker.passes >= start + n, what="the worker to look at the queue")
                assert [e for e in events if isinstance(e, MessageEvent)] == []  # not even claimed
                assert authorized.get_message(message_id).summary.status == "queued"
                assert server.received == [] and cell(window, message_id, COL_STATE) == "Queued"
                window.pause_action.trigger()
                await until(lambda: window.status_bar.worker_label.text() == "Sending: running", what="running")
                await server.wait_received(1)
                await until(lambda: cell(window, message_id, COL_STATE) == "Sent", what="Sent")

    aloop.run(go())


@expect_relay_failures
def test_an_unreachable_relay_is_shown_with_since_and_why_then_recovers(
    aloop: AsyncRunner, authorized: Queue, db_path: Path, clock: FakeClock
) -> None:
    async def go() -> None:
        async with SMTPTestServer() as server:
            use_relay(authorized, server.port)
            await server.go_down()
            async with running_app(db_path, clock) as session:
                window = session.window
                assert window is not None
                w = compose(window, "bob@example.org")
                queued = sent_id(w)
                w.send()
                message_id = await queued()
                await until(lambda: window.worker_status.state == "unreachable", what="relay unreachable")
                text = window.status_bar.worker_label.text()
                assert text.startswith("Relay unreachable since ")
                assert "refused" in text.lower()
                await until(lambda: cell(window, message_id, COL_STATE) == "Deferred", what="Deferred")
                await server.come_back()
                clock.advance(3600)  # past the relay backoff and the message's retry time
                session.backend.wake()  # type: ignore[union-attr]
                await server.wait_received(1)
                await until(lambda: window.status_bar.worker_label.text() == "Sending: running", what="running again")
                await until(lambda: cell(window, message_id, COL_STATE) == "Sent", what="Sent")

    aloop.run(go())


def test_saving_new_relay_settings_restarts_delivery_on_them(
    aloop: AsyncRunner, authorized: Queue, db_path: Path, clock: FakeClock
) -> None:
    async def go() -> None:
        async with SMTPTestServer() as server, running_app(db_path, clock) as session:
            window = session.window
            assert window is not None
            pane = window.settings_pane
            assert pane.local_radio.isChecked()  # the default: the built-in relay
            pane.smtp_radio.setChecked(True)
            pane.host_edit.setText("127.0.0.1")
            pane.port_spin.setValue(server.port)
            pane.security_box.setCurrentIndex(pane.security_box.findData("none"))
            assert pane.save()
            w = compose(window, "bob@example.org")
            queued = sent_id(w)
            w.send()
            message_id = await queued()
            await server.wait_received(1)  # went to the SMTP relay, not the built-in one
            await until(lambda: cell(window, message_id, COL_STATE) == "Sent", what="Sent")
            assert authorized.count_mailbox() == 0

    aloop.run(go())


@pytest.mark.allow_log(
    "mailgui.gui.shell.backend", level=logging.ERROR, match=r"^delivery did not start: relay\.host: "
)
def test_a_relay_that_cannot_be_used_is_said_in_the_status_bar_and_fixed_from_settings(
    aloop: AsyncRunner, authorized: Queue, db_path: Path, clock: FakeClock
) -> None:
    Settings(authorized).set("relay.mode", "smtp")  # but no relay.host

    async def go() -> None:
        options = {"poll_interval": 0.02, "policy": RetryPolicy(jitter=0.0), "stop_grace": 0.5}
        session = AppSession(db_path, clock=clock, backend=WorkerBackend(db_path, clock=clock, **options))
        task = asyncio.ensure_future(session.run())
        await asyncio.wait_for(session.started.wait(), 10)
        window = session.window
        assert window is not None
        assert window.worker_status.state == "stopped"
        assert window.status_bar.worker_label.text() == "Sending: stopped: relay.host: no relay host is set"
        async with SMTPTestServer() as server:
            pane = window.settings_pane
            pane.host_edit.setText("127.0.0.1")
            pane.port_spin.setValue(server.port)
            pane.security_box.setCurrentIndex(pane.security_box.findData("none"))
            assert pane.save()
            await until(lambda: window.worker_status.state == "running", what="delivery to start")
            session.close()
            assert await task == 0

    aloop.run(go())


@expect_recording_failure
def test_a_worker_that_cannot_record_stops_sending_says_why_and_starts_again_from_the_pause_action(
    aloop: AsyncRunner, authorized: Queue, db_path: Path, clock: FakeClock
) -> None:
    refuse = "CREATE TRIGGER no_outcomes BEFORE UPDATE ON recipients BEGIN SELECT RAISE(ABORT, 'disk says no'); END"

    async def go() -> None:
        async with SMTPTestServer() as server:
            use_relay(authorized, server.port)
            authorized.conn.execute(refuse)  # every outcome write aborts, as a full disk would
            options = {"poll_interval": 0.02, "policy": RetryPolicy(jitter=0.0), "stop_grace": 0.5}
            session = AppSession(db_path, clock=clock, backend=WorkerBackend(db_path, clock=clock, **options))
            task = asyncio.ensure_future(session.run())
            await asyncio.wait_for(session.started.wait(), 10)
            window = session.window
            assert window is not None
            w = compose(window, "bob@example.org")
            queued = sent_id(w)
            w.send()
            first = await queued()
            await until(lambda: window.worker_status.state == "failed", what="sending to stop")
            assert (
                window.status_bar.worker_label.text()
                == "Sending stopped: could not record what was sent (IntegrityError: disk says no)"
            )
            assert window.pause_action.isEnabled() and window.pause_action.text() == "&Start sending"
            assert len(server.received) == 1
            # Sent, not recorded: left leased until its lease ends (then sent again), not given back at once.
            await until(lambda: cell(window, first, COL_STATE) == "Sending", what="the row to show Sending")

            authorized.conn.execute("DROP TRIGGER no_outcomes")  # room on the disk again
            window.pause_action.trigger()
            await until(lambda: window.worker_status.state == "running", what="sending to start again")
            w = compose(window, "carol@example.org")
            queued = sent_id(w)
            w.send()
            second = await queued()
            await until(lambda: cell(window, second, COL_STATE) == "Sent", what="the next message Sent")
            session.close()
            assert await task == 0
        assert [r.rcpt_tos for r in server.received] == [("bob@example.org",), ("carol@example.org",)]

    aloop.run(go())
