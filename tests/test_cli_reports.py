"""`mailgui bounces read|reports` and `mailgui suppressions`: reports received later and the suppression list from
the command line, as scripts use them (stable English lines, one JSON object a line with --json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mailgui.queue import Attempt, Queue, RecipientResult
from tests.queue.helpers import outgoing
from tests.reports import auto_reply, dsn
from tests.test_cli import ok, run, user_error

UNKNOWN = "550 5.1.1 <bob@example.org>: Recipient address rejected: User unknown"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "queue.sqlite3"


def sent_message(db: Path) -> tuple[int, str]:
    """A message the relay took (250) for bob@example.org: its queue id and Message-ID."""
    with Queue(db) as q:
        q.add_sender("@example.com")
        mid = q.enqueue(outgoing(to="bob@example.org"))
        q.claim_due("w", 1, 60)
        q.record_attempt(
            mid, "w", Attempt(0.0, 0.1, "relay", (RecipientResult("bob@example.org", "delivered", 250, "ok"),)), None
        )
        return mid, q.get_message(mid).summary.message_id


def test_bounces_read_records_a_report_against_its_message_once(db: Path, tmp_path: Path) -> None:
    mid, message_id = sent_message(db)
    report = tmp_path / "bounce.eml"
    report.write_bytes(dsn(message_id, [("bob@example.org", "5.1.1", UNKNOWN)]))

    line = ok(db, "bounces", "read", str(report)).strip()
    assert line == f"{report}: bounce about message {mid}: bob@example.org unknown_user"
    again = ok(db, "bounces", "read", str(report)).strip()
    assert again.endswith("(seen before: nothing changed): bob@example.org unknown_user")
    show = json.loads(ok(db, "show", str(mid), "--json"))
    assert [r["status"] for r in show["recipients"]] == ["failed"]
    [listed] = [json.loads(x) for x in ok(db, "bounces", "reports", "--json").splitlines()]
    assert (listed["kind"], listed["message"], listed["source"]) == ("bounce", mid, f"file {report}")
    assert listed["recipients"][0]["applied"] is True


def test_bounces_read_keeps_unmatched_reports_and_goes_on_past_an_unreadable_file(db: Path, tmp_path: Path) -> None:
    sent_message(db)
    stranger = tmp_path / "stranger.eml"
    stranger.write_bytes(dsn("<someone-else@elsewhere.example>", [("x@example.org", "5.1.1", "550 no")]))
    ooo = tmp_path / "ooo.eml"
    ooo.write_bytes(auto_reply("<nothing@example.com>", "bob@example.org"))
    result = run(db, "bounces", "read", "--json", str(tmp_path / "missing.eml"), str(stranger), str(ooo))
    assert result.returncode == 1
    user_error(result, "cannot read", "missing.eml")
    got = [json.loads(x) for x in result.stdout.splitlines()]
    assert [(g["file"], g["kind"], g["message"]) for g in got] == [
        (str(stranger), "bounce", None),
        (str(ooo), "auto_reply", None),
    ]
    unmatched = [json.loads(x)["id"] for x in ok(db, "bounces", "reports", "--unmatched", "--json").splitlines()]
    assert sorted(unmatched) == sorted(g["id"] for g in got)


def test_suppressions_are_added_listed_and_lifted(db: Path) -> None:
    assert (
        ok(db, "suppressions", "add", "dead@example.org", "--reason", "left the company")
        == "suppressed dead@example.org\n"
    )
    assert ok(db, "suppressions", "add", "DEAD@example.org") == "already suppressed: DEAD@example.org\n"
    [row] = [json.loads(x) for x in ok(db, "suppressions", "list", "--json").splitlines()]
    assert (row["address"], row["reason"], row["source"]) == ("dead@example.org", "left the company", "user")
    assert ok(db, "suppressions", "remove", "Dead@Example.org") == "lifted 1 suppression\n"
    user_error(run(db, "suppressions", "remove", "dead@example.org"), "address:", "is suppressed")
    user_error(run(db, "suppressions", "add", "not-an-address"), "address:")
    user_error(run(db, "suppressions", "add", "a@example.org", "--reason", "x\ny"), "reason:")


def test_send_warns_about_a_suppressed_recipient_and_queues_all_the_same(db: Path) -> None:
    ok(db, "senders", "add", "@example.com")
    ok(db, "suppressions", "add", "dead@example.org")
    result = run(
        db,
        "send",
        "--from",
        "ann@example.com",
        "--to",
        "dead@example.org",
        "--to",
        "bob@example.org",
        "--subject",
        "Hi",
        "--body",
        "Hello",
    )
    assert result.returncode == 0
    assert result.stdout.strip().isdigit()
    warning = user_error_like_warning(result.stderr)
    assert "dead@example.org is suppressed since" in warning and "mail to it is not sent" in warning


def user_error_like_warning(stderr: str) -> str:
    [line] = stderr.splitlines()
    assert line.startswith("mailgui: warning: ")
    return line
