"""The command line end to end, in a subprocess (``python -m mailgui --db ...``): the verbs scripts rely on."""

from __future__ import annotations

import email
import json
import os
import re
import sqlite3
import subprocess
import sys
from email import policy
from email.message import EmailMessage as MimeMessage
from pathlib import Path

import pytest

from mailgui.queue import Attempt, Queue, RecipientResult
from tests.queue.helpers import make_corrupt

ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
SUMMARY_KEYS = {
    "id",
    "message_id",
    "status",
    "sender",
    "subject",
    "created_at",
    "attempts",
    "next_attempt_at",
    "recipients",
}


def run(
    db: Path, *args: str, stdin: str | None = None, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MAILGUI_DB"} | (extra_env or {})
    # No OS keyring, whatever the machine running the tests has.
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    env["MAILGUI_LOG"] = str(db.parent / "mailgui.log")  # the app's log file: not in the user's log dir
    return subprocess.run(
        [sys.executable, "-m", "mailgui", "--db", str(db), *args],
        capture_output=True,
        text=True,
        input=stdin,
        env=env,
        timeout=60,
    )


def ok(db: Path, *args: str, stdin: str | None = None) -> str:
    result = run(db, *args, stdin=stdin)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout


def user_error(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """A user mistake: non-zero exit, exactly one line on stderr, no traceback."""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


def rows(db: Path, *args: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in ok(db, "queue", "--json", *args).splitlines()]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "queue.sqlite3"
    ok(path, "senders", "add", "@example.com")
    return path


def send(db: Path, *args: str) -> int:
    out = ok(db, "send", "--from", "ann@example.com", "--to", "bob@example.org", "--subject", "Hi", *args)
    return int(out)


# -- senders ----------------------------------------------------------------------------------------


def test_senders_add_list_remove(tmp_path: Path) -> None:
    db = tmp_path / "q.sqlite3"
    assert ok(db, "senders", "list") == ""
    assert ok(db, "senders", "add", "@Example.COM") == "added @example.com\n"
    assert ok(db, "senders", "add", "@example.com") == "already authorized: @example.com\n"
    assert ok(db, "senders", "add", "Ann <ann@Example.org>") == "added ann@example.org\n"
    assert ok(db, "senders", "list") == "@example.com\nann@example.org\n"
    assert ok(db, "senders", "remove", "@EXAMPLE.com") == "removed @EXAMPLE.com\n"
    assert ok(db, "senders", "list") == "ann@example.org\n"
    user_error(run(db, "senders", "remove", "@example.com"), "mailgui: sender: '@example.com' is not in the authorized")
    user_error(run(db, "senders", "add", "not an address"), "mailgui: sender: ")
    user_error(run(db, "senders", "add", "@"), "sender: '@' is not a valid domain entry")


def test_send_is_refused_for_an_unauthorized_sender_then_queued_once_authorized(tmp_path: Path) -> None:
    db = tmp_path / "q.sqlite3"
    args = ("send", "--from", "Ann <ann@example.com>", "--to", "bob@example.org", "--subject", "Hi", "--body", "x")
    user_error(run(db, *args), "not an authorized sender", "mailgui senders add ann@example.com")
    assert rows(db) == []
    ok(db, "senders", "add", "ann@example.com")
    new_id = int(ok(db, *args))
    (row,) = rows(db)
    assert row["id"] == new_id
    assert row["sender"] == "ann@example.com"


# -- config -----------------------------------------------------------------------------------------


def test_config_list_get_set(db: Path) -> None:
    listing = ok(db, "config", "list").splitlines()
    assert "relay.port = 587" in listing
    assert "relay.security = starttls" in listing
    assert "worker.connections = 4" in listing
    assert not any("password" in line for line in listing)
    assert ok(db, "config", "set", "relay.port", "2525") == "relay.port = 2525\n"
    assert ok(db, "config", "get", "relay.port") == "2525\n"
    assert ok(db, "config", "set", "relay.security", "TLS") == "relay.security = tls\n"
    assert ok(db, "config", "set", "relay.host", "smtp.example.com") == "relay.host = smtp.example.com\n"
    assert ok(db, "config", "set", "retry.lifetime", "--stdin", stdin="3600\n") == "retry.lifetime = 3600\n"
    assert "relay.host = smtp.example.com" in ok(db, "config", "list").splitlines()
    assert ok(db, "config", "set", "admins", "ann@example.com,bob@example.org") == (
        "admins = ann@example.com, bob@example.org\n"
    )
    assert ok(db, "config", "get", "admins") == "ann@example.com, bob@example.org\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("set", "relay.port", "abc"), "mailgui: relay.port: 'abc' is not valid: expected a whole number"),
        (("set", "relay.port", "99999"), "relay.port: '99999' is not valid: expected a number from 1 to 65535"),
        (("set", "relay.security", "ssl"), "relay.security: 'ssl' is not valid: expected one of: none, starttls, tls"),
        (("set", "worker.connections", "0"), "worker.connections: '0' is not valid"),
        (("set", "relay.hots", "x"), "relay.hots: unknown setting"),
        (("get", "relay.hots"), "relay.hots: unknown setting"),
        (("set", "relay.port"), "relay.port: give a value, or --stdin"),
        (("get", "relay.password"), "relay.password: secrets are kept in the OS keyring"),
        (("set", "relay.password", "hunter2"), "relay.password: pass secrets with --stdin"),
        (("set", "retry.min_backoff", "5000"), "retry.min_backoff: 5000 is more than retry.max_backoff (4000)"),
        (("set", "admins", "ann@"), "admins: 'ann@' is not valid: 'ann@' is not a valid address"),
    ],
)
def test_config_mistakes_are_one_line_naming_the_key(db: Path, args: tuple[str, ...], message: str) -> None:
    user_error(run(db, "config", *args), message)
    assert "relay.port = 587" in ok(db, "config", "list").splitlines()


def test_an_empty_password_from_stdin_clears_it(db: Path) -> None:
    assert ok(db, "config", "set", "relay.password", "--stdin", stdin="\n") == (
        "relay.password: none was kept in the OS keyring\n"  # no keyring here: there was none to clear
    )


def test_password_from_stdin_without_a_keyring_is_refused_cleanly_and_never_stored(db: Path) -> None:
    secret = "correct-horse-battery-staple-42"
    line = user_error(run(db, "config", "set", "relay.password", "--stdin", stdin=secret + "\n"))
    assert line.startswith("mailgui: relay.password: no OS keyring is available")
    assert secret not in line
    on_disk = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
    assert secret.encode() not in on_disk
    assert "password" not in ok(db, "config", "list")


# -- send -------------------------------------------------------------------------------------------


def test_send_with_every_option(db: Path, tmp_path: Path) -> None:
    body = tmp_path / "body.txt"
    body.write_text("Grüße,\nsee the report.\n", encoding="utf-8")
    html = tmp_path / "body.html"
    html.write_text("<p>Grüße</p>", encoding="utf-8")
    report = tmp_path / "report.pdf"
    report.write_bytes(b"%PDF-1.4 " + bytes(range(256)))
    notes = tmp_path / "nötes.txt"
    notes.write_text("ü", encoding="utf-8")
    new_id = int(
        ok(
            db,
            "send",
            "--from",
            "Ann Example <ann@example.com>",
            "--to",
            "bob@example.org",
            "--to",
            "Carol <carol@example.org>, dave@example.org",
            "--cc",
            "erin@example.org",
            "--bcc",
            "frank@example.org",
            "--reply-to",
            "help@example.com",
            "--subject",
            "Quarterly report — Q3",
            "--body-file",
            str(body),
            "--html-file",
            str(html),
            "--attach",
            str(report),
            "--attach",
            str(notes),
            "--header",
            "In-Reply-To: <prev@example.com>",
        )
    )
    shown = json.loads(ok(db, "show", str(new_id), "--json"))
    assert shown["subject"] == "Quarterly report — Q3"
    assert shown["sender"] == "ann@example.com"
    assert [(r["address"], r["kind"], r["status"]) for r in shown["recipients"]] == [
        ("bob@example.org", "to", "pending"),
        ("carol@example.org", "to", "pending"),
        ("dave@example.org", "to", "pending"),
        ("erin@example.org", "cc", "pending"),
        ("frank@example.org", "bcc", "pending"),
    ]
    msg = email.message_from_string(shown["raw"], _class=MimeMessage, policy=policy.default)
    assert isinstance(msg, MimeMessage)
    assert msg["From"] == "Ann Example <ann@example.com>"
    assert msg["Reply-To"] == "help@example.com"
    assert msg["In-Reply-To"] == "<prev@example.com>"
    assert "frank" not in shown["raw"]
    plain = msg.get_body(preferencelist=("plain",))
    html_part = msg.get_body(preferencelist=("html",))
    assert plain is not None and plain.get_content().replace("\r\n", "\n") == "Grüße,\nsee the report.\n"
    assert html_part is not None and html_part.get_content().replace("\r\n", "\n") == "<p>Grüße</p>"
    attachments = {p.get_filename(): p.get_payload(decode=True) for p in msg.iter_attachments()}
    assert attachments == {"report.pdf": report.read_bytes(), "nötes.txt": "ü".encode()}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--to", "bob@", "--subject", "s", "--body", "b"), "mailgui: to: 'bob@' is not a valid address"),
        (("--to", "b@example.org", "--cc", "x", "--subject", "s", "--body", "b"), "mailgui: cc: 'x' is not a valid"),
        (("--subject", "s", "--body", "b"), "mailgui: to: at least one recipient"),
        (("--to", "b@example.org", "--subject", "a\nBcc: eve@example.com", "--body", "b"), "subject: line breaks"),
        (
            ("--to", "b@example.org", "--subject", "s", "--body", "b", "--header", "X-Evil: 1"),
            'headers: Header "X-Evil" is not allowed (allowed: ',
        ),
        (("--to", "b@example.org", "--subject", "s", "--body", "b", "--header", "nocolon"), "NAME:VALUE"),
        # Line breaks anywhere in a header, the reply-to or a name are refused, not trimmed away.
        (
            ("--to", "b@example.org", "--subject", "s", "--body", "b", "--header", "List-Id: x\r\n"),
            "header: line breaks",
        ),
        (("--to", "b@example.org", "--subject", "s", "--body", "b", "--header", "List-Id\n: x"), "header: line breaks"),
        (
            ("--to", "b@example.org", "--subject", "s", "--body", "b", "--header", "List-Id: x\nBcc: e@x.org"),
            "line breaks",
        ),
        (("--to", "b@example.org", "--subject", "s\n", "--body", "b"), "subject: line breaks"),
        (
            ("--to", "b@example.org", "--subject", "s", "--body", "b", "--reply-to", "r@example.org\nBcc: e@x.org"),
            "reply_to: line breaks",
        ),
        (("--to", "Bob\r\nBcc: e@x.org <b@example.org>", "--subject", "s", "--body", "b"), "to: line breaks"),
        (("--to", "b@example.org", "--subject", "s", "--body-file", "/no/such/file"), "body-file: cannot read"),
        (("--to", "b@example.org", "--subject", "s", "--body", "b", "--attach", "/no/such.pdf"), "attach: cannot read"),
        (("--to", "b@example.org", "--body", "b"), "the following arguments are required: --subject"),
        (("--to", "b@example.org", "--subject", "s"), "one of the arguments --body --body-file is required"),
    ],
)
def test_send_mistakes_are_one_line_and_queue_nothing(db: Path, args: tuple[str, ...], message: str) -> None:
    user_error(run(db, "send", "--from", "ann@example.com", *args), message)
    assert rows(db) == []


def test_send_refuses_a_blocked_attachment_and_a_body_that_is_not_utf8(db: Path, tmp_path: Path) -> None:
    exe = tmp_path / "setup.exe"
    exe.write_bytes(b"MZ")
    base = ("send", "--from", "ann@example.com", "--to", "b@example.org", "--subject", "s")
    user_error(
        run(db, *base, "--body", "b", "--attach", str(exe)),
        "mailgui: attachments: 'setup.exe' is blocked: .exe files can carry executable code",
    )
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("Grüße".encode("latin-1"))
    user_error(run(db, *base, "--body-file", str(latin)), f"body-file: {latin} is not UTF-8 text")
    assert rows(db) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("send", "--from", "ann@example.com", "--to", "b@example.org", "--subject", "caf\udcff", "--body", "b"),
         "mailgui: subject: contains a lone surrogate (U+DCFF) at position 4, which is not valid text"),
        (("send", "--from", "Ann\udcff <ann@example.com>", "--to", "b@example.org", "--subject", "s", "--body", "b"),
         "mailgui: sender: contains a lone surrogate (U+DCFF) at position 4"),
        (("send", "--from", "ann@example.com", "--to", "b@example.org", "--subject", "s", "--body", "\udcff"),
         "mailgui: body: contains a lone surrogate (U+DCFF) at position 1"),
        (("send", "--from", "ann@example.com", "--to", "b@example.org", "--cc", "\udce9@example.org", "--subject",
          "s", "--body", "b"), "mailgui: cc: contains a lone surrogate (U+DCE9) at position 1"),
        (("send", "--from", "ann@example.com", "--to", "b@example.org", "--subject", "s", "--body", "b", "--header",
          "List-Id: \udcff"), "mailgui: header: contains a lone surrogate (U+DCFF) at position 10"),
        (("queue", "--search", "caf\udce9"), "mailgui: search: contains a lone surrogate (U+DCE9) at position 4"),
        (("config", "set", "relay.host", "h\udcff"), "mailgui: value: contains a lone surrogate (U+DCFF)"),
        (("senders", "add", "@ex\udcffample.com"), "mailgui: pattern: contains a lone surrogate (U+DCFF)"),
    ],
)  # fmt: skip
def test_bytes_that_are_not_text_in_any_argument_are_one_line_naming_it(
    db: Path, args: tuple[str, ...], message: str
) -> None:
    # subprocess passes each argument through os.fsencode, so "\udcff" reaches mailgui as the byte 0xff.
    user_error(run(db, *args), message)
    assert rows(db) == []


def test_control_characters_and_disguised_attachments_are_refused_in_one_line(db: Path, tmp_path: Path) -> None:
    base = ("send", "--from", "ann@example.com", "--to", "b@example.org")
    user_error(
        run(db, *base, "--subject", "a\x0bb", "--body", "b"),
        "mailgui: subject: contains a control character (U+000B) at position 2",
    )
    trailing = tmp_path / "setup.exe."
    trailing.write_bytes(b"MZ")
    user_error(
        run(db, *base, "--subject", "s", "--body", "b", "--attach", str(trailing)),
        "mailgui: attachments: 'setup.exe.' is blocked: .exe files can carry executable code",
    )
    undecodable = tmp_path / os.fsdecode(b"r\xe9sum\xe9.pdf")  # a Latin-1 name: a file may have it, mail may not
    undecodable.write_bytes(b"%PDF")
    user_error(
        run(db, *base, "--subject", "s", "--body", "b", "--attach", str(undecodable)),
        "mailgui: attachments: file name 'r\\udce9sum\\udce9.pdf' contains a lone surrogate (U+DCE9) at position 2",
    )
    assert rows(db) == []


def test_an_unusable_queue_file_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    user_error(run(blocker / "q.sqlite3", "queue"), "mailgui: queue file ")


@pytest.mark.parametrize(
    "args", [("queue",), ("queue", "--json"), ("show", "1"), ("senders", "list"), ("config", "list")]
)
def test_a_corrupt_queue_file_is_one_line_not_a_traceback(tmp_path: Path, args: tuple[str, ...]) -> None:
    path = tmp_path / "corrupt.sqlite3"
    make_corrupt(path)
    user_error(run(path, *args), f"mailgui: queue file {path}: database disk image is malformed")


def test_no_command_starts_the_app_which_reports_an_unusable_file_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "garbage.sqlite3"
    bad.write_bytes(b"this is not a database" * 100)
    result = run(bad, extra_env={"QT_QPA_PLATFORM": "offscreen"})
    user_error(result, f"mailgui: queue file {bad}: file is not a database")


def test_a_queue_file_locked_by_another_process_is_one_line_after_the_busy_timeout(db: Path) -> None:
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("INSERT INTO settings(key, value) VALUES ('held', '1')")
    try:
        for args in (("queue",), ("senders", "add", "@example.org")):
            result = run(db, *args, extra_env={"MAILGUI_BUSY_TIMEOUT_MS": "100"})
            user_error(result, f"mailgui: queue file {db}: database is locked")
    finally:
        holder.close()
    assert ok(db, "senders", "list") == "@example.com\n"


# -- queue, show, retry, cancel ------------------------------------------------------------------------


def test_queue_table_and_json_with_iso_utc_times(db: Path) -> None:
    first = send(db, "--body", "one")
    second = send(db, "--body", "two", "--cc", "c@example.org")
    table = ok(db, "queue").splitlines()
    assert table[0].split() == ["ID", "STATUS", "CREATED", "TRIES", "FROM", "TO", "SUBJECT"]
    assert table[1].split()[:2] == [str(second), "queued"]
    assert "bob@example.org +1" in table[1]
    assert table[2].split()[:2] == [str(first), "queued"]
    got = rows(db)
    assert [r["id"] for r in got] == [second, first]
    for r in got:
        assert set(r) >= SUMMARY_KEYS
        assert r["status"] == "queued"
        assert r["attempts"] == 0
        assert ISO_UTC.match(str(r["created_at"]))
        assert ISO_UTC.match(str(r["next_attempt_at"]))
        assert str(r["message_id"]).startswith("<")
        for rcpt in r["recipients"]:  # type: ignore[attr-defined]
            assert set(rcpt) >= {"address", "status", "code", "reply"}
    ok(db, "cancel", str(first))
    assert [r["id"] for r in rows(db, "--status", "cancelled")] == [first]
    assert [r["id"] for r in rows(db, "--status", "queued")] == [second]
    assert rows(db, "--status", "cancelled")[0]["next_attempt_at"] is None
    user_error(run(db, "queue", "--status", "lost"), "invalid choice: 'lost'")


def test_show_json_has_the_attempt_log_and_raw_and_the_table_form_reads(db: Path) -> None:
    new_id = send(db, "--body", "hello", "--cc", "c@example.org")
    with Queue(db) as q:
        (claimed,) = q.claim_due("test-worker", 1, 60)
        assert claimed.id == new_id
        q.record_attempt(
            new_id,
            "test-worker",
            Attempt(
                q.clock.now(),
                0.25,
                "smtp.example.com:587",
                (
                    RecipientResult("bob@example.org", "delivered", 250, "2.0.0 OK"),
                    RecipientResult("c@example.org", "failed", 550, "5.1.1 no such user"),
                ),
            ),
            retry_at=None,
        )
        raw = q.get_message(new_id).raw
    shown = json.loads(ok(db, "show", str(new_id), "--json"))
    assert set(shown) >= SUMMARY_KEYS
    assert shown["status"] == "bounced"
    assert shown["attempts"] == 1
    assert shown["next_attempt_at"] is None
    assert shown["raw"] == raw.decode()
    (attempt,) = shown["attempt_log"]
    assert ISO_UTC.match(attempt["started_at"])
    assert (attempt["relay"], attempt["duration"], attempt["error"]) == ("smtp.example.com:587", 0.25, None)
    assert attempt["recipients"] == [
        {"address": "bob@example.org", "status": "delivered", "code": 250, "reply": "2.0.0 OK"},
        {"address": "c@example.org", "status": "failed", "code": 550, "reply": "5.1.1 no such user"},
    ]
    assert [(r["address"], r["status"], r["code"]) for r in shown["recipients"]] == [
        ("bob@example.org", "delivered", 250),
        ("c@example.org", "failed", 550),
    ]
    text = ok(db, "show", str(new_id))
    assert f"Message {new_id}  bounced" in text
    assert "c@example.org 550 5.1.1 no such user" in text
    assert "Subject: Hi" in text
    user_error(run(db, "show", "999"), "mailgui: id: no message 999 in the queue")

    # retry brings the failed recipient back; a sent message cannot be retried.
    assert ok(db, "retry", str(new_id)) == f"message {new_id} queued for delivery now\n"
    again = json.loads(ok(db, "show", str(new_id), "--json"))
    assert again["status"] == "queued"
    assert [(r["address"], r["status"]) for r in again["recipients"]] == [
        ("bob@example.org", "delivered"),
        ("c@example.org", "pending"),
    ]


def test_output_into_a_closed_pipe_ends_quietly(db: Path) -> None:
    # `mailgui show 1 --json | head -1`: the reader leaves before the (larger than a pipe buffer) output is out.
    body = db.parent / "big.txt"
    body.write_text("x" * 300_000)
    send(db, "--body-file", str(body))
    env = {k: v for k, v in os.environ.items() if k != "MAILGUI_DB"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mailgui", "--db", str(db), "show", "1", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read(10)
    proc.stdout.close()
    with proc.stderr:
        stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 1
    assert stderr == ""


def test_retry_and_cancel_rules(db: Path) -> None:
    new_id = send(db, "--body", "x")
    assert ok(db, "cancel", str(new_id)) == f"message {new_id} cancelled\n"
    user_error(run(db, "cancel", str(new_id)), f"id: message {new_id} is cancelled; only queued or deferred")
    ok(db, "retry", str(new_id))
    assert rows(db)[0]["status"] == "queued"
    with Queue(db) as q:
        q.claim_due("w", 1, 60)
        q.record_attempt(
            new_id, "w", Attempt(0, 0, "r", (RecipientResult("bob@example.org", "delivered", 250, "ok"),)), None
        )
    user_error(run(db, "retry", str(new_id)), f"id: message {new_id} is sent; it cannot be retried")
    user_error(run(db, "retry", "4242"), "id: no message 4242")
    user_error(run(db, "cancel", "abc"), "invalid int value: 'abc'")
