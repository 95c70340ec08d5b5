"""Take the README's screenshots of the real widgets over a demo queue.

Run under a virtual X server so the real platform plugin, fonts and style are used:

    xvfb-run -a -s "-screen 0 1400x900x24" .venv/bin/python tools/screenshots.py docs/

Writes docs/main-window.png, compose.png, settings.png and first-run.png (tools/screenshots_views.py takes the
queue, bounces and mailbox views on their own).
The demo queue is built through the queue's own API (enqueue, claim, record_attempt), in a temporary file.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

import qasync
from PySide6.QtWidgets import QApplication, QWidget

from mailgui.clock import SystemClock
from mailgui.gui.resources import style_sheet
from mailgui.gui.shell.app import AppSession
from mailgui.gui.shell.backend import Backend
from mailgui.gui.shell.first_run import FirstRunDialog
from mailgui.gui.shell.worker_status import WorkerStatus
from mailgui.message import MessageFields, build_message
from mailgui.queue import Attempt, Queue, RecipientResult
from mailgui.queue.drafts import DraftFields

SIM = "simulator.mailgui.test"


class DemoBackend(Backend):
    async def start(self) -> None:
        self.on_status(WorkerStatus("running"))


def demo_queue(path: Path) -> None:
    q = Queue(path)
    q.add_sender("you@localhost")
    q.add_sender("@example.com")
    now = time.time()

    def add(to: str, subject: str, outcome: str | None, code: int = 250, reply: str = "2.0.0 Ok") -> None:
        msg = build_message(MessageFields(sender="you@localhost", to=to, subject=subject, body="Hello"), now=now)
        q.enqueue(msg)
        if outcome is None:
            return
        [claimed] = q.claim_due("demo", 1, 60)
        results = tuple(RecipientResult(a, outcome, code, reply) for a in claimed.recipients)
        retry = now + 600 if outcome == "pending" else None
        q.record_attempt(claimed.id, "demo", Attempt(now, 0.2, f"127.0.0.1 ({SIM})", results), retry_at=retry)

    add(f"success@{SIM}", "Quarterly report", "delivered")
    add(f"bounce@{SIM}", "Invitation: planning meeting", "failed", 550, "5.1.1 User unknown")
    add(f"success@{SIM}, ann@example.com", "Minutes of Tuesday", "delivered")
    add(f"tempfail@{SIM}", "Invoice 2026-114", "pending", 451, "4.3.0 Temporary failure")
    add(f"full@{SIM}", "Photos from the trip", "failed", 552, "5.2.2 Mailbox full")
    add(f"greylist@{SIM}", "Re: lunch on Friday?", "pending", 450, "4.2.0 Greylisted")
    add(f"success@{SIM}", "Weekly digest", None)
    q.store_received("you@localhost", [f"success@{SIM}"], b"From: you@localhost\r\nSubject: Hi\r\n\r\nHello\r\n", "")
    q.save_draft(DraftFields(sender="you@localhost", to="bob@example.org", subject="Unfinished thoughts"))
    q.close()


def save(widget: QWidget, path: Path) -> None:
    QApplication.processEvents()
    if not widget.grab().save(str(path)):
        raise SystemExit(f"could not write {path}")
    print(f"wrote {path}")


async def shoot(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "queue.sqlite3"
        demo_queue(db)
        session = AppSession(db, clock=SystemClock(), backend=DemoBackend())
        task = asyncio.ensure_future(session.run())
        await asyncio.wait_for(session.started.wait(), 10)
        window = session.window
        assert window is not None
        window.resize(1380, 820)
        window.notify_changed([])
        await asyncio.sleep(0.5)  # let the views page in and the coalescing timers fire
        view = window.queue_view
        if view is not None and hasattr(view, "select_ids"):
            view.select_ids([2], current=2)  # the bounced invitation: its recipients and attempt in the details pane
        await asyncio.sleep(0.5)
        save(window, out / "main-window.png")

        compose = window.new_message()
        compose.resize(780, 640)
        compose.sender_field.set_text("You <you@localhost>")
        compose.to_field.setText(f"success@{SIM}, bob@")
        compose.cc_field.setText("Ann Example <ann@example.com>")
        compose.subject_edit.setText("Quarterly report")
        compose.body_edit.setPlainText("Hi all,\n\nthe figures are attached.\n\nYou")
        compose.attachments.add("report-q3.pdf", b"%PDF" + bytes(180_000))
        await asyncio.sleep(0.3)
        save(compose, out / "compose.png")
        compose.discard()

        window.show_page("settings")
        await asyncio.sleep(0.3)
        save(window, out / "settings.png")

        dialog = FirstRunDialog(session.queue, window)  # type: ignore[arg-type]
        dialog.open()
        await asyncio.sleep(0.3)
        save(dialog, out / "first-run.png")
        dialog.reject()

        session.close()
        await task


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs")
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication(sys.argv)
    app.setStyleSheet(style_sheet())
    app.setQuitOnLastWindowClosed(False)
    with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
        runner.run(shoot(out))


if __name__ == "__main__":
    main()
