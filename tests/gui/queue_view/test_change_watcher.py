"""ChangeWatcher notices commits made by other connections and processes, not its own."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from mailgui.gui.queue_view.change_watcher import ChangeWatcher
from mailgui.queue import Queue

pytestmark = pytest.mark.usefixtures("qapp")


def test_a_commit_through_another_connection_is_noticed(qtbot, queue, db_path):
    watcher = ChangeWatcher(queue, interval_ms=20)
    other = Queue(db_path)
    try:
        with qtbot.waitSignal(watcher.changed, timeout=3000):
            other.add_sender("@example.com")
    finally:
        other.close()
        watcher.stop()


def test_its_own_connection_and_quiet_polls_do_not_fire(qtbot, queue):
    watcher = ChangeWatcher(queue, interval_ms=10_000)
    watcher.stop()
    fired = []
    watcher.changed.connect(lambda: fired.append(1))
    queue.add_sender("@example.com")  # the GUI's own writes are reported by the GUI itself
    watcher.poll()
    watcher.poll()
    assert fired == []


def test_a_send_mail_from_another_process_is_noticed_within_a_second(qtbot, queue, db_path):
    queue.add_sender("@example.com")
    watcher = ChangeWatcher(queue)
    assert watcher.interval <= 500
    script = "from mailgui import mail\nmail.send_mail('s@example.com', 'r@example.org', 'subject', 'body')\n"
    try:
        with qtbot.waitSignal(watcher.changed, timeout=1000 + 30_000):  # process start-up is not ours to time
            subprocess.run(
                [sys.executable, "-c", script], env={**os.environ, "MAILGUI_DB": str(db_path)}, check=True, timeout=60
            )
    finally:
        watcher.stop()
    assert queue.count_messages() == 1


@pytest.mark.allow_log("mailgui.gui.queue_view.change_watcher", match=r": cannot check for changes: ")
def test_an_unreadable_queue_is_reported_once_and_polling_goes_on(qtbot, queue):
    watcher = ChangeWatcher(queue, interval_ms=10_000)
    watcher.stop()
    errors = []
    watcher.failed.connect(errors.append)
    queue.close()
    watcher.poll()
    watcher.poll()
    assert len(errors) == 1 and "queue file" in errors[0]
