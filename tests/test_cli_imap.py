"""`mailgui bounces fetch [--json]` (mailgui/cli_imap.py) against the test Dovecot: one line a report (kind,
message or 'unmatched', recipients and reasons), exit 0; a connection or login failure is one error line, exit 1.
And `mailgui config set bounces.imap.password --stdin` keeps the password in the keyring. In process (the keyring
is the test's in-memory one)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from mailgui.cli import main
from mailgui.clock import FakeClock
from mailgui.queue import Queue
from mailgui.settings import KEYRING_SERVICE, Settings
from tests.delivery.test_imap_reader import bounce_for, sent
from tests.realservers.dovecot import PASSWORD, USER, Dovecot, Mailbox, free_port
from tests.test_settings import MemoryKeyring


def mailgui(db: Path, *args: str, stdin: str = "") -> tuple[int, str, str]:
    """Run ``mailgui --db DB ARGS...`` in this process: exit status, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("sys.stdin", io.StringIO(stdin))
        mp.setattr("sys.stdout", out)
        mp.setattr("sys.stderr", err)
        with pytest.raises(SystemExit) as exited:
            main(["--db", str(db), *args])
    return int(exited.value.code or 0), out.getvalue(), err.getvalue()


def configure(db: Path, port: int, ca_file: Path | str = "", password: str = PASSWORD) -> None:
    for key, value in {
        "bounces.imap.host": "127.0.0.1",
        "bounces.imap.port": str(port),
        "bounces.imap.username": USER,
        "bounces.imap.ca_file": str(ca_file),
    }.items():
        assert mailgui(db, "config", "set", key, value)[0] == 0
    code, out, _ = mailgui(db, "config", "set", "bounces.imap.password", "--stdin", stdin=password + "\n")
    assert (code, out) == (0, "bounces.imap.password stored in the OS keyring\n")


def test_the_password_goes_to_the_keyring_under_its_imap_account(
    db_path: Path, queue: Queue, memory_keyring: MemoryKeyring
) -> None:
    configure(db_path, 993)
    assert memory_keyring.secrets == {(KEYRING_SERVICE, f"imap:{USER}@127.0.0.1"): PASSWORD}
    assert PASSWORD not in Settings(queue).all().values()


def test_fetch_prints_each_report_with_its_message_or_unmatched(
    db_path: Path,
    authorized: Queue,
    clock: FakeClock,
    dovecot: Dovecot,
    imap_mailbox: Mailbox,
    memory_keyring: MemoryKeyring,
) -> None:
    mid, message_id = sent(authorized, clock, ["bob@example.org"])
    imap_mailbox.append(bounce_for(message_id))
    imap_mailbox.append(bounce_for("<not-ours@elsewhere.example>", "dave@example.net"))
    configure(db_path, dovecot.imaps_port, dovecot.tls.ca_file)

    assert mailgui(db_path, "bounces", "fetch") == (
        0,
        f"bounce  message {mid}  bob@example.org unknown_user 5.1.1\n"
        "bounce  unmatched  dave@example.net unknown_user 5.1.1\n",
        "",
    )
    code, out, err = mailgui(db_path, "bounces", "fetch", "--json")
    assert (code, err) == (0, "")
    [again] = [json.loads(line) for line in out.splitlines()]  # the matched one was filed away
    assert again["message"] is None and again["duplicate"] is True
    assert again["recipients"] == [
        {
            "address": "dave@example.net",
            "status": "5.1.1",
            "reason": "unknown_user",
            "diagnostic": "550 5.1.1 <dave@example.net>: Recipient address rejected: User unknown in local recipient table",
            "applied": False,
        }
    ]


def test_a_server_that_does_not_answer_is_one_error_line_and_exit_1(
    db_path: Path, queue: Queue, memory_keyring: MemoryKeyring
) -> None:
    port = free_port()
    configure(db_path, port)
    code, out, err = mailgui(db_path, "bounces", "fetch")
    assert (code, out) == (1, "")
    assert err.startswith(f"mailgui: bounces.imap.host: cannot connect to 127.0.0.1:{port} (tls): ")
    assert err.count("\n") == 1


def test_fetch_without_a_mailbox_set_says_which_setting(db_path: Path, queue: Queue) -> None:
    assert mailgui(db_path, "bounces", "fetch") == (
        1,
        "",
        "mailgui: bounces.imap.host: no IMAP host is set (mailgui config set bounces.imap.host ...)\n",
    )
