"""The queue file: WAL, versioned schema, forward migrations that keep data, environmental errors."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from mailgui.errors import StorageError
from mailgui.queue import Queue
from mailgui.queue.connection import BUSY_TIMEOUT_MS
from mailgui.queue.schema import MIGRATIONS, SCHEMA_VERSION

from .helpers import outgoing


def pragma(conn: sqlite3.Connection, name: str) -> object:
    return conn.execute(f"PRAGMA {name}").fetchone()[0]


def test_new_file_is_wal_with_current_schema_busy_timeout_and_full_sync(queue: Queue, db_path: Path) -> None:
    assert pragma(queue.conn, "journal_mode") == "wal"
    assert pragma(queue.conn, "user_version") == SCHEMA_VERSION == len(MIGRATIONS)
    assert pragma(queue.conn, "busy_timeout") == BUSY_TIMEOUT_MS
    assert pragma(queue.conn, "synchronous") == 2  # FULL
    assert pragma(queue.conn, "foreign_keys") == 1
    tables = {r[0] for r in queue.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"messages", "recipients", "attempts", "senders", "settings", "suppressions"} <= tables
    # WAL is a property of the file: a plain sqlite3 connection sees it too.
    with sqlite3.connect(db_path) as other:
        assert pragma(other, "journal_mode") == "wal"
    other.close()


def test_missing_parent_directories_are_created(tmp_path: Path) -> None:
    with Queue(tmp_path / "a" / "b" / "q.sqlite3") as q:
        assert q.count_messages() == 0


def test_data_survives_close_and_reopen(db_path: Path) -> None:
    with Queue(db_path) as q:
        q.add_sender("@example.com")
        new_id = q.enqueue(outgoing(subject="kept"))
    with Queue(db_path) as q:
        assert q.get_message(new_id).summary.subject == "kept"
        assert q.list_senders() == ["@example.com"]
        assert pragma(q.conn, "user_version") == SCHEMA_VERSION


def test_migration_from_version_1_keeps_every_row(db_path: Path) -> None:
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        """INSERT INTO messages(id, message_id, sender, from_header, subject, raw, created_at, status,
               next_attempt_at, expires_at, updated_at)
           VALUES (7, '<m@example.com>', 'ann@example.com', 'ann@example.com', 'old', x'0d0a', 1, 'deferred', 2, 3, 1)"""
    )
    conn.execute("INSERT INTO recipients(message_id, address, kind) VALUES (7, 'bob@example.org', 'to')")
    conn.execute("INSERT INTO senders(pattern, added_at) VALUES ('@example.com', 1)")
    conn.execute("INSERT INTO settings(key, value) VALUES ('relay.host', 'smtp.example.com')")
    conn.close()

    with Queue(db_path) as q:
        assert pragma(q.conn, "user_version") == SCHEMA_VERSION
        got = q.get_message(7)
        assert (got.summary.subject, got.summary.status, got.raw) == ("old", "deferred", b"\r\n")
        assert [r.address for r in got.summary.recipients] == ["bob@example.org"]
        assert q.list_senders() == ["@example.com"]
        assert q.get_setting("relay.host") == "smtp.example.com"
        tables = {r[0] for r in q.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"mailbox", "relay_sim", "drafts"} <= tables
        # New rows after the migration get fresh ids, never reusing the migrated one.
        q.add_sender("@example.org")
        assert q.enqueue(outgoing()) > 7


def test_a_file_from_a_newer_mailgui_is_refused_not_downgraded(db_path: Path) -> None:
    Queue(db_path).close()
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StorageError, match="newer than this mailgui knows"):
        Queue(db_path)


def test_a_file_that_is_not_a_database_is_a_storage_error_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "garbage.sqlite3"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StorageError, match=f"queue file {bad}"):
        Queue(bad)


def test_a_path_that_cannot_be_created_is_a_storage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StorageError, match="queue file"):
        Queue(blocker / "sub" / "q.sqlite3")


def test_migration_to_version_3_moves_the_bytes_out_of_the_message_rows(db_path: Path) -> None:
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    for statements in MIGRATIONS[:2]:
        for statement in statements:
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 2")
    conn.execute(
        """INSERT INTO messages(id, message_id, sender, from_header, subject, raw, created_at, status,
               next_attempt_at, expires_at, updated_at)
           VALUES (5, '<m@example.com>', 'ann@example.com', 'ann@example.com', 'kept', x'41420d0a', 1, 'queued',
                   1, 9e9, 1)"""
    )
    conn.execute("INSERT INTO recipients(message_id, address, kind) VALUES (5, 'bob@example.org', 'to')")
    conn.close()

    with Queue(db_path) as q:
        assert pragma(q.conn, "user_version") == SCHEMA_VERSION
        columns = {r[1] for r in q.conn.execute("PRAGMA table_info(messages)")}
        assert "raw" not in columns
        assert q.get_message(5).raw == b"AB\r\n"
        [claimed] = q.claim_due("w", 10, 60)
        assert (claimed.id, claimed.raw, claimed.recipients) == (5, b"AB\r\n", ("bob@example.org",))
        q.release(5, "w")
        assert q.delete([5]) == 1
        assert q.conn.execute("SELECT count(*) FROM bodies").fetchone()[0] == 0  # gone with its message
