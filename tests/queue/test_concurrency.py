"""Several processes on one queue file: concurrent senders, and a sender killed mid-loop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from mailgui.queue import Queue

SENDER = """
import json, sys
from mailgui import mail

tag, count = sys.argv[1], int(sys.argv[2])
sys.stdin.readline()  # start together
ids = [mail.send_mail("ann@example.com", "bob@example.org", f"{tag} {i}", "body") for i in range(count)]
print(json.dumps(ids))
"""

SEND_FOREVER = """
import sys
from mailgui import mail

i = 0
while True:
    new_id = mail.send_mail("ann@example.com", "bob@example.org", f"loop {i}", "body " * 50)
    # Printed only once send() has returned: this id is promised to be in the queue.
    sys.stdout.write(f"{new_id}\\n")
    sys.stdout.flush()
    i += 1
"""


def env_for(db: Path) -> dict[str, str]:
    return {**os.environ, "MAILGUI_DB": str(db)}


def start(script: str, db: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env_for(db),
    )


def test_two_processes_sending_1000_each_at_once_queue_2000_without_error(tmp_path: Path) -> None:
    db = tmp_path / "queue.sqlite3"
    with Queue(db) as q:
        q.add_sender("@example.com")
    procs = {tag: start(SENDER, db, tag, "1000") for tag in ("a", "b")}
    for p in procs.values():
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    results = {tag: p.communicate(timeout=240) for tag, p in procs.items()}
    for tag, (_out, err) in results.items():
        assert procs[tag].returncode == 0, err
        assert err == ""
    ids = {tag: json.loads(out) for tag, (out, _) in results.items()}
    assert len(ids["a"]) == len(ids["b"]) == 1000
    assert not set(ids["a"]) & set(ids["b"])
    with Queue(db) as q:
        assert q.count_messages() == 2000
        assert q.counts_by_status() == {"queued": 2000}
        subjects = {m.id: m.subject for m in q.list_messages(limit=5000)}
        for tag in ("a", "b"):
            assert [subjects[i] for i in ids[tag]] == [f"{tag} {i}" for i in range(1000)]
        assert q.conn.execute("SELECT count(*) FROM recipients").fetchone()[0] == 2000


def test_a_sender_killed_mid_loop_leaves_a_clean_queue_with_every_returned_message(tmp_path: Path) -> None:
    db = tmp_path / "queue.sqlite3"
    with Queue(db) as q:
        q.add_sender("@example.com")
    proc = start(SEND_FOREVER, db)
    assert proc.stdout is not None and proc.stderr is not None and proc.stdin is not None
    printed: list[int] = []
    with proc:  # closes the pipes
        try:
            while len(printed) < 300:
                line = proc.stdout.readline()
                assert line, f"sender stopped early: {proc.stderr.read()}"
                printed.append(int(line))
        finally:
            os.kill(proc.pid, signal.SIGKILL)
        # The rest is read through the same reader as the lines above, never with communicate(): readline() reads
        # ahead into its buffer, and communicate() reads the pipe beneath it, so the lines in that buffer were lost.
        rest = proc.stdout.read()
        assert proc.wait(timeout=60) == -signal.SIGKILL
    # Lines written before the kill are still in the pipe; a cut-off last line was not a promise.
    printed += [int(x) for x in rest.split("\n")[:-1]]

    with Queue(db) as q:
        assert q.conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        stored = {m.id for m in q.list_messages(limit=100_000)}
        assert set(printed) <= stored
        assert len(stored) - len(printed) <= 1  # at most the one in flight when killed
        for i in printed[:5] + printed[-5:]:
            assert q.get_message(i).summary.status == "queued"
