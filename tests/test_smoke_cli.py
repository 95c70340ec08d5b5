"""The command line end to end in a subprocess: the verbs scripts rely on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def mailgui(db: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MAILGUI_DB"}
    return subprocess.run(
        [sys.executable, "-m", "mailgui", "--db", str(db), *args],
        capture_output=True,
        text=True,
        input=stdin,
        env=env,
        timeout=60,
    )


def test_send_is_refused_for_unauthorized_sender_then_queued_once_authorized(tmp_path: Path) -> None:
    db = tmp_path / "q.sqlite3"
    refused = mailgui(
        db, "send", "--from", "ann@example.com", "--to", "bob@example.org", "--subject", "Hi", "--body", "x"
    )
    assert refused.returncode != 0
    assert "not an authorized sender" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert mailgui(db, "senders", "add", "@Example.COM").returncode == 0
    sent = mailgui(
        db, "send", "--from", "Ann <ann@example.com>", "--to", "bob@example.org", "--subject", "Hi", "--body", "x"
    )
    assert sent.returncode == 0, sent.stderr
    listing = mailgui(db, "queue", "--json")
    rows = [json.loads(line) for line in listing.stdout.splitlines()]
    assert [r["id"] for r in rows] == [int(sent.stdout)]
    assert rows[0]["status"] == "queued"
    assert rows[0]["recipients"][0]["address"] == "bob@example.org"
