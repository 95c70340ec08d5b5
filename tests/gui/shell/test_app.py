"""The application's life (mailgui/gui/shell/app.py): first run, worker started and stopped, pause, badge, restart."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

import pytest
from PySide6.QtWidgets import QDialogButtonBox

from mailgui.clock import FakeClock
from mailgui.gui.shell.app import AppSession
from mailgui.gui.shell.backend import Backend
from mailgui.gui.shell.worker_status import WorkerStatus
from mailgui.message import MessageFields, build_message
from mailgui.queue import Attempt, Queue, RecipientResult
from tests.gui.conftest import AsyncRunner, until


class RecordingBackend(Backend):
    """Stands in for the worker where the test is about the app's wiring, not delivery."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    async def start(self) -> None:
        self.calls.append("start")
        self.on_status(WorkerStatus("running"))

    async def stop(self) -> None:
        self.calls.append("stop")
        self.on_status(WorkerStatus("stopped"))

    def pause(self) -> None:
        self.calls.append("pause")
        self.on_status(WorkerStatus("paused"))

    def resume(self) -> None:
        self.calls.append("resume")
        self.on_status(WorkerStatus("running"))

    def changed(self, ids: Iterable[int]) -> None:
        self.on_changed(ids)


def bounce_one(queue: Queue, clock: FakeClock) -> int:
    """A message refused for good by the server, recorded through the queue's own worker API."""
    msg = build_message(
        MessageFields(sender="ann@example.com", to="nobody@example.org", subject="Hi", body="x"), now=clock.now()
    )
    mid = queue.enqueue(msg)
    [claimed] = queue.claim_due("test-worker", 1, 60)
    queue.record_attempt(
        claimed.id,
        "test-worker",
        Attempt(clock.now(), 0.1, "127.0.0.1:25", (RecipientResult("nobody@example.org", "failed", 550, "5.1.1 no"),)),
        retry_at=None,
    )
    return mid


def test_a_new_queue_opens_the_first_run_then_the_worker_runs_and_closing_stops_it(
    aloop: AsyncRunner, db_path: Path, clock: FakeClock
) -> None:
    backend = RecordingBackend()
    session = AppSession(db_path, clock=clock, backend=backend)

    async def go() -> int:
        task = asyncio.ensure_future(session.run())
        await until(lambda: session.first_run_dialog is not None and session.first_run_dialog.isVisible())
        assert backend.calls == []  # nothing is sent before the user has chosen a relay
        assert session.first_run_dialog is not None
        session.first_run_dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
        await asyncio.wait_for(session.started.wait(), 10)
        assert session.window is not None
        assert session.window.status_bar.worker_label.text() == "Sending: running"
        assert session.window.settings_pane.senders.list.item(0).text() == "you@localhost"
        session.window.close()
        return await task

    assert aloop.run(go()) == 0
    assert backend.calls == ["start", "stop"]
    assert not [t.name for t in threading.enumerate() if t.name.startswith("mailgui-counts")]  # thread ended
    assert session.queue is not None
    with pytest.raises(sqlite3.ProgrammingError):  # the window's connection was closed
        session.queue.conn.execute("SELECT 1")


def test_closing_the_window_during_the_first_run_ends_cleanly_without_starting_the_worker(
    aloop: AsyncRunner, db_path: Path
) -> None:
    backend = RecordingBackend()
    session = AppSession(db_path, backend=backend)

    async def go() -> int:
        task = asyncio.ensure_future(session.run())
        await until(lambda: session.first_run_dialog is not None)
        session.close()
        return await task

    assert aloop.run(go()) == 0
    assert backend.calls == ["stop"]


def test_pause_and_resume_from_the_keyboard(aloop: AsyncRunner, authorized: Queue, db_path: Path) -> None:
    backend = RecordingBackend()
    session = AppSession(db_path, backend=backend)

    async def go() -> None:
        task = asyncio.ensure_future(session.run())
        await asyncio.wait_for(session.started.wait(), 10)
        window = session.window
        assert window is not None
        assert window.pause_action.shortcut().toString() == "Ctrl+P"
        window.pause_action.trigger()
        assert window.status_bar.worker_label.text() == "Sending: paused"
        assert window.pause_action.text() == "&Resume sending"
        window.pause_action.trigger()
        assert window.status_bar.worker_label.text() == "Sending: running"
        session.close()
        await task

    aloop.run(go())
    assert backend.calls == ["start", "pause", "resume", "stop"]


def test_unreachable_relay_is_shown_with_since_and_why() -> None:
    status = WorkerStatus("unreachable", since=1_800_000_000.0, reason="connection refused")
    from datetime import datetime

    assert (
        status.text() == f"Relay unreachable since {datetime.fromtimestamp(1_800_000_000.0):%H:%M}: connection refused"
    )
    assert status.icon_name() == "unreachable"


def test_new_bounces_and_deferrals_raise_a_badge_that_stays_until_seen(
    aloop: AsyncRunner, authorized: Queue, db_path: Path, clock: FakeClock
) -> None:
    authorized.add_sender("ann@example.com")

    async def run_once(check) -> None:  # type: ignore[no-untyped-def]
        backend = RecordingBackend()
        session = AppSession(db_path, clock=clock, backend=backend)
        task = asyncio.ensure_future(session.run())
        await asyncio.wait_for(session.started.wait(), 10)
        await check(session, backend)
        session.close()
        await task

    async def first(session: AppSession, backend: RecordingBackend) -> None:
        window = session.window
        assert window is not None and not window.badge.isVisible()
        mid = bounce_one(authorized, clock)
        backend.changed([mid])
        await until(window.badge.isVisible, what="the badge")
        assert window.badge.text() == "1 new bounce"
        assert "1 bounced" in window.counts_label.text()

    async def second(session: AppSession, backend: RecordingBackend) -> None:
        window = session.window
        assert window is not None
        await until(window.badge.isVisible, what="the badge after a restart")  # not seen yet: still there
        window.badge.click()
        assert window.current_page() == "bounces"
        assert not window.badge.isVisible()

    async def third(session: AppSession, backend: RecordingBackend) -> None:
        window = session.window
        assert window is not None
        await until(lambda: "1 bounced" in window.counts_label.text(), what="the counts")
        assert not window.badge.isVisible()

    aloop.run(run_once(first))
    aloop.run(run_once(second))
    aloop.run(run_once(third))


def defer_one(queue: Queue, clock: FakeClock) -> int:
    """A message the server asked to try again later (451), recorded through the queue's own worker API."""
    msg = build_message(
        MessageFields(sender="ann@example.com", to="later@example.org", subject="Hi", body="x"), now=clock.now()
    )
    mid = queue.enqueue(msg)
    [claimed] = queue.claim_due("test-worker", 1, 60)
    queue.record_attempt(
        claimed.id,
        "test-worker",
        Attempt(clock.now(), 0.1, "127.0.0.1:25", (RecipientResult("later@example.org", "pending", 451, "4.3.0"),)),
        retry_at=clock.now() + 600,
    )
    return mid


def test_the_deferral_badge_survives_a_restart_until_seen(
    aloop: AsyncRunner, authorized: Queue, db_path: Path, clock: FakeClock
) -> None:
    authorized.add_sender("ann@example.com")

    async def run_once(check) -> None:  # type: ignore[no-untyped-def]
        backend = RecordingBackend()
        session = AppSession(db_path, clock=clock, backend=backend)
        task = asyncio.ensure_future(session.run())
        await asyncio.wait_for(session.started.wait(), 10)
        assert session.window is not None
        await check(session.window, backend)
        session.close()
        await task

    async def deferred(window, backend) -> None:  # type: ignore[no-untyped-def]
        assert not window.badge.isVisible()
        backend.changed([defer_one(authorized, clock)])
        await until(window.badge.isVisible, what="the badge")
        assert window.badge.text() == "1 deferred"

    async def after_restart(window, backend) -> None:  # type: ignore[no-untyped-def]
        await until(window.badge.isVisible, what="the badge after a restart")  # not seen yet: still there
        assert window.badge.text() == "1 deferred"
        clock.advance(5)
        window.badge.click()  # shows the queue and marks them seen
        assert window.current_page() == "queue"
        assert not window.badge.isVisible()

    async def seen(window, backend) -> None:  # type: ignore[no-untyped-def]
        await until(lambda: "1 deferred" in window.counts_label.text(), what="the counts")
        assert not window.badge.isVisible()
        clock.advance(60)
        backend.changed([defer_one(authorized, clock)])  # a new one after the user looked
        await until(lambda: window.badge.text() == "1 deferred" and window.badge.isVisible(), what="a new badge")

    aloop.run(run_once(deferred))
    aloop.run(run_once(after_restart))
    aloop.run(run_once(seen))


def test_drafts_survive_closing_and_reopening_the_app(aloop: AsyncRunner, authorized: Queue, db_path: Path) -> None:
    authorized.add_sender("ann@example.com")

    async def write() -> None:
        session = AppSession(db_path, backend=RecordingBackend())
        task = asyncio.ensure_future(session.run())
        await asyncio.wait_for(session.started.wait(), 10)
        assert session.window is not None
        compose = session.window.new_message()
        compose.to_field.setText("bob@example.org")
        compose.subject_edit.setText("Unfinished")
        session.window.close()  # closes the compose window too, which saves it
        await task

    async def reopen() -> None:
        session = AppSession(db_path, backend=RecordingBackend())
        task = asyncio.ensure_future(session.run())
        await asyncio.wait_for(session.started.wait(), 10)
        window = session.window
        assert window is not None
        assert window.drafts_notice.isVisible()
        window.drafts_view.open_selected()
        [compose] = window.compose_windows
        assert compose.subject_edit.text() == "Unfinished"
        session.close()
        await task

    aloop.run(write())
    aloop.run(reopen())


def test_every_common_action_has_a_keyboard_shortcut(aloop: AsyncRunner, authorized: Queue, db_path: Path) -> None:
    session = AppSession(db_path, backend=RecordingBackend())

    async def go() -> None:
        task = asyncio.ensure_future(session.run())
        await asyncio.wait_for(session.started.wait(), 10)
        window = session.window
        assert window is not None
        for action in (window.new_action, window.pause_action, window.refresh_action, window.quit_action):
            assert not action.shortcut().isEmpty(), action.text()
        for name, action in window.page_actions.items():
            assert not action.shortcut().isEmpty(), name
            action.trigger()
            assert window.current_page() == name
        window.new_action.trigger()
        assert len(window.compose_windows) == 1
        session.close()
        await task

    aloop.run(go())


def test_edit_as_new_opens_compose_prefilled_from_the_queued_message(
    aloop: AsyncRunner, authorized: Queue, db_path: Path
) -> None:
    from mailgui import mail

    authorized.add_sender("ann@example.com")
    message_id = mail.EmailMessage(
        sender="Ann <ann@example.com>",
        to=["Bob <bob@example.org>"],
        cc="carol@example.org",
        bcc="dave@example.org",
        subject="Figures",
        body="See the file.",
        html="<p>See the file.</p>",
        attachments=[("figures.csv", b"a,b\n1,2\n")],
    ).send(db=db_path)
    session = AppSession(db_path, backend=RecordingBackend())

    async def go() -> None:
        task = asyncio.ensure_future(session.run())
        await asyncio.wait_for(session.started.wait(), 10)
        window = session.window
        assert window is not None and window.queue_view is not None
        window.queue_view.editAsNew.emit(message_id)
        [compose] = window.compose_windows
        assert compose.sender_field.text() == "Ann <ann@example.com>"
        assert compose.to_field.entries() == ["Bob <bob@example.org>"]
        assert compose.cc_field.entries() == ["carol@example.org"]
        assert compose.bcc_field.entries() == ["dave@example.org"]  # from the envelope: Bcc is not in the headers
        assert compose.subject_edit.text() == "Figures"
        assert compose.body_edit.toPlainText().strip() == "See the file."
        assert compose.html_check.isChecked() and "<p>See the file.</p>" in compose.html_edit.toPlainText()
        assert compose.attachments.items == [("figures.csv", b"a,b\n1,2\n")]
        new_id = compose.send()
        assert new_id is not None and new_id != message_id
        session.close()
        await task

    aloop.run(go())


def test_no_two_actions_or_shortcuts_share_a_key_on_any_page_or_in_compose(qtbot, authorized: Queue, clock) -> None:  # type: ignore[no-untyped-def]
    """Actions and QShortcuts alike: window-wide keys plus the keys of the page shown must all differ."""
    from PySide6.QtGui import QAction, QShortcut

    from mailgui.gui.compose.window import ComposeWindow
    from mailgui.gui.shell.main_window import PAGES, MainWindow

    def keys_of(objects) -> list[str]:  # type: ignore[no-untyped-def]
        found = []
        for o in objects:
            seqs = o.shortcuts() if isinstance(o, QAction) else [o.key()]
            found += [s.toString() for s in seqs if not s.isEmpty()]
        return found

    def owned_by(root, objects):  # type: ignore[no-untyped-def]
        def inside(o) -> bool:  # type: ignore[no-untyped-def]
            p = o.parent()
            while p is not None:
                if p is root:
                    return True
                p = p.parent()
            return False

        return [o for o in objects if inside(o)]

    window = MainWindow(authorized, clock)
    try:
        everything = window.findChildren(QAction) + window.findChildren(QShortcut)
        pages = list(window.page_widgets.values())
        global_ = [o for o in everything if not any(owned_by(p, [o]) for p in pages)]
        common = keys_of(global_)
        assert len(common) == len(set(common)), common
        assert {"Ctrl+N", "Ctrl+P", "Ctrl+1", "Ctrl+,", "F1"} <= set(common)
        for name in PAGES:
            keys = common + keys_of(owned_by(window.page_widgets[name], everything))
            clashes = sorted({k for k in keys if keys.count(k) > 1})
            assert clashes == [], f"{name}: {clashes}"
        settings_keys = keys_of(owned_by(window.settings_pane, everything))
        assert {"Ctrl+S", "Ctrl+T"} <= set(settings_keys)  # QShortcuts are seen, not only actions
        compose = ComposeWindow(authorized, clock)
        qtbot.addWidget(compose)
        keys = keys_of(compose.findChildren(QAction) + compose.findChildren(QShortcut))
        clashes = sorted({k for k in keys if keys.count(k) > 1})
        assert clashes == []
        assert {"Ctrl+Return", "Ctrl+Shift+Return", "Ctrl+S", "Ctrl+Shift+A", "F1", "Ctrl+W"} <= set(keys)
    finally:
        for view in (window.queue_view, window.bounces_view, window.mailbox_view):
            if view is not None:
                view.close()
        with qtbot.waitSignal(window.destroyed):
            window.deleteLater()


def test_the_worker_state_in_the_status_bar_is_icon_colour_and_word(qtbot, authorized: Queue, clock) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtGui import QPalette

    from mailgui.gui.resources import style_sheet
    from mailgui.gui.shell.main_window import MainWindow

    window = MainWindow(authorized, clock)
    try:
        window.setStyleSheet(style_sheet())
        colours = set()
        for status in (
            WorkerStatus("running"),
            WorkerStatus("paused"),
            WorkerStatus("unreachable", since=clock.now(), reason="connection refused"),
        ):
            window.set_worker_status(status)
            assert not window.status_bar.worker_icon.pixmap().isNull()
            assert status.state in window.status_bar.worker_label.text().lower()
            window.status_bar.worker_label.ensurePolished()
            colours.add(window.status_bar.worker_label.palette().color(QPalette.ColorRole.WindowText).name())
        assert len(colours) == 3  # a colour of its own for each state, with the icon and the word
        assert "connection refused" in window.status_bar.worker_label.text()
    finally:
        for view in (window.queue_view, window.bounces_view, window.mailbox_view):
            if view is not None:
                view.close()
        with qtbot.waitSignal(window.destroyed):
            window.deleteLater()
