"""With a new queue's defaults (relay.mode local), the command line alone shows delivery and a bounce."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from mailgui.queue import Queue, Status


def mailgui(db: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "mailgui", "--db", str(db), *args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_success_is_sent_and_bounce_reports_to_the_local_mailbox(tmp_path: Path) -> None:
    db = tmp_path / "fresh.sqlite3"
    mailgui(db, "senders", "add", "you@localhost")
    ok = int(mailgui(db, "send", "--from", "you@localhost", "--to", "success@simulator.mailgui.test",
                     "--subject", "ok", "--body", "hi"))  # fmt: skip
    bad = int(mailgui(db, "send", "--from", "you@localhost", "--to", "bounce@simulator.mailgui.test",
                      "--subject", "nope", "--body", "hi"))  # fmt: skip
    out = mailgui(db, "worker", "--until-idle")
    assert "built-in relay on 127.0.0.1:" in out
    with Queue(db) as q:
        assert q.get_message(ok).summary.status == Status.SENT
        assert q.get_message(bad).summary.status == Status.BOUNCED
        [report_id] = q.get_message(bad).report_ids
        assert q.get_message(report_id).summary.status == Status.SENT
        entries = q.list_mailbox()
        assert [(e.mail_from, e.rcpt_to) for e in reversed(entries)] == [
            ("you@localhost", ("success@simulator.mailgui.test",)),
            ("", ("you@localhost",)),  # the bounce report, with the null reverse-path
        ]
        assert b"bounce@simulator.mailgui.test" in q.get_received(entries[0].id).raw
