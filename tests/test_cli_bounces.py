"""`mailgui bounces parse [--json] FILE...` (issue 16): a stable JSON shape, in the order given, no queue touched;
a file that cannot be read is one line on stderr and the others are still parsed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bounces.checks import assert_json_shape

BOUNCE = b"""\
From: MAILER-DAEMON@mx.example.com
To: alice@example.com
Subject: failure notice

Hi. This is the qmail-send program at mx.example.com.
I'm afraid I wasn't able to deliver your message to the following addresses.

<bob@example.net>:
Remote host said: 550 5.1.1 <bob@example.net>: User unknown

--- Below this line is a copy of the message.

From: alice@example.com
To: bob@example.net
Message-ID: <hello.1@example.com>

Hi.
"""
AUTO_REPLY = b"""\
From: carol@example.net
To: alice@example.com
Subject: Out of office
Auto-Submitted: auto-replied

Back on Monday.
"""


def mailgui(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MAILGUI_DB"}
    env["MAILGUI_LOG"] = str(tmp_path / "mailgui.log")
    return subprocess.run(
        [sys.executable, "-m", "mailgui", "--db", str(tmp_path / "queue.sqlite3"), "bounces", "parse", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    bounce, reply = tmp_path / "bounce.eml", tmp_path / "reply.eml"
    bounce.write_bytes(BOUNCE)
    reply.write_bytes(AUTO_REPLY)
    return bounce, reply


def test_json_is_one_object_per_file_in_the_order_given(tmp_path: Path, files: tuple[Path, Path]) -> None:
    bounce, reply = files
    result = mailgui(tmp_path, "--json", str(reply), str(bounce))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    for obj in objects:
        assert_json_shape(obj)
    assert objects == [
        {"file": str(reply), "kind": "auto_reply", "recipients": [], "original_message_id": None},
        {
            "file": str(bounce),
            "kind": "bounce",
            "recipients": [
                {
                    "address": "bob@example.net",
                    "status": "5.1.1",
                    "reason": "unknown_user",
                    "diagnostic": "<bob@example.net>: Remote host said: 550 5.1.1 <bob@example.net>: User unknown",
                }
            ],
            "original_message_id": "<hello.1@example.com>",
        },
    ]
    assert not (tmp_path / "queue.sqlite3").exists()  # no queue opened, none created


def test_an_unreadable_file_is_one_line_on_stderr_and_the_others_are_parsed(
    tmp_path: Path, files: tuple[Path, Path]
) -> None:
    bounce, reply = files
    missing = tmp_path / "missing.eml"
    result = mailgui(tmp_path, "--json", str(bounce), str(missing), str(tmp_path), str(reply))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    errors = result.stderr.splitlines()
    assert len(errors) == 2
    assert errors[0].startswith("mailgui: bounces parse: cannot read ") and str(missing) in errors[0]
    assert str(tmp_path) in errors[1]
    assert [json.loads(line)["file"] for line in result.stdout.splitlines()] == [str(bounce), str(reply)]


def test_without_json_a_line_a_file_and_one_a_recipient(tmp_path: Path, files: tuple[Path, Path]) -> None:
    bounce, reply = files
    result = mailgui(tmp_path, str(bounce), str(reply))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"{bounce}: bounce (about <hello.1@example.com>)",
        "  bob@example.net  unknown_user  5.1.1  <bob@example.net>: Remote host said: 550 5.1.1 <bob@example.net>: "
        "User unknown",
        f"{reply}: auto_reply",
    ]


def test_a_file_name_that_is_not_utf8_still_prints_as_valid_json(tmp_path: Path) -> None:
    odd = tmp_path / os.fsdecode(b"bounce-\xff.eml")
    odd.write_bytes(BOUNCE)
    result = mailgui(tmp_path, "--json", str(odd))
    assert result.returncode == 0, result.stderr
    obj = json.loads(result.stdout)
    assert obj["file"].endswith("bounce-\\xff.eml")
    assert obj["kind"] == "bounce"


def test_files_are_required(tmp_path: Path) -> None:
    result = mailgui(tmp_path, "--json")
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1
