"""Environmental faults of the queue file (corrupt, locked, read-only) are StorageError on every Queue method."""

from __future__ import annotations

import inspect
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mailgui.errors import StorageError
from mailgui.message import MessageFields, build_message
from mailgui.queue import Queue
from mailgui.queue.connection import BUSY_TIMEOUT_ENV, busy_timeout_ms
from tests.queue.helpers import make_corrupt, outgoing


@pytest.fixture(scope="module")
def corrupt_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("corrupt") / "corrupt.sqlite3"
    make_corrupt(path)
    return path


@pytest.fixture
def corrupt(corrupt_file: Path, tmp_path: Path) -> Iterator[Queue]:
    path = tmp_path / "corrupt.sqlite3"
    shutil.copyfile(corrupt_file, path)
    q = Queue(path)  # opening reads only the header and schema: the damage shows on the first read
    yield q
    q.close()


READS: dict[str, Callable[[Queue], object]] = {
    "list_messages": lambda q: q.list_messages(),
    "get_message": lambda q: q.get_message(1),
    "next_due_at": lambda q: q.next_due_at(),
    "list_senders": lambda q: q.list_senders(),
    "is_authorized": lambda q: q.is_authorized("ann@example.com"),
    "all_settings": lambda q: q.all_settings(),
    "message_ids": lambda q: q.message_ids(search="s1"),
    "get_received": lambda q: q.get_received(5),
    "list_mailbox": lambda q: q.list_mailbox(),
    "count_mailbox": lambda q: q.count_mailbox(),
    "list_drafts": lambda q: q.list_drafts(),
}


@pytest.mark.parametrize("name", sorted(READS))
def test_a_read_on_a_corrupt_file_is_a_storage_error_naming_the_file(corrupt: Queue, name: str) -> None:
    with pytest.raises(StorageError, match=rf"^queue file {corrupt.path}: database disk image is malformed$"):
        READS[name](corrupt)


def test_every_public_queue_method_is_guarded() -> None:
    public = [n for n, f in inspect.getmembers(Queue, inspect.isfunction) if not n.startswith("_")]
    assert "list_messages" in public and "count_drafts" in public and "enqueue" in public
    assert [n for n in public if not hasattr(getattr(Queue, n), "__wrapped__")] == []


def test_a_bug_in_a_query_is_not_disguised_as_a_storage_error(queue: Queue) -> None:
    # Only environmental faults become StorageError; a programming error keeps its own type.
    with pytest.raises(sqlite3.IntegrityError, match="datatype mismatch"):
        queue.list_messages(limit="ten")  # type: ignore[arg-type]


def hold_exclusive(path: Path) -> sqlite3.Connection:
    """Another connection that keeps the whole file locked (exclusive locking mode, a write open)."""
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("INSERT INTO settings(key, value) VALUES ('held', '1')")
    return holder


def test_opening_a_file_locked_past_the_busy_timeout_is_a_storage_error(db_path: Path) -> None:
    Queue(db_path).close()
    holder = hold_exclusive(db_path)
    try:
        with pytest.raises(StorageError, match=rf"^queue file {db_path}: database is locked$"):
            Queue(db_path, busy_timeout=0.05)
    finally:
        holder.close()
    Queue(db_path, busy_timeout=0.05).close()  # free again once the other connection lets go


def test_a_write_waiting_past_the_busy_timeout_is_a_storage_error(db_path: Path) -> None:
    q = Queue(db_path, busy_timeout=0.05)
    assert q.conn.execute("PRAGMA busy_timeout").fetchone()[0] == 50
    other = sqlite3.connect(db_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StorageError, match=rf"^queue file {db_path}: database is locked$"):
            q.add_sender("@example.com")
        assert q.list_senders() == []  # WAL: reading still works while another process writes
    finally:
        other.close()
        q.close()


def test_a_read_only_file_is_a_storage_error_on_write(queue: Queue) -> None:
    queue.add_sender("@example.com")
    queue.conn.execute("PRAGMA query_only = ON")  # SQLite's own read-only refusal (chmod means nothing to root)
    with pytest.raises(StorageError, match=r"attempt to write a readonly database$"):
        queue.add_sender("@example.org")
    with pytest.raises(StorageError, match=r"readonly"):
        queue.enqueue(outgoing())
    assert queue.list_senders() == ["@example.com"]


def test_busy_timeout_comes_from_the_environment_and_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BUSY_TIMEOUT_ENV, raising=False)
    assert busy_timeout_ms() == 15_000
    monkeypatch.setenv(BUSY_TIMEOUT_ENV, "250")
    assert busy_timeout_ms() == 250
    monkeypatch.setenv(BUSY_TIMEOUT_ENV, "soon")
    with pytest.raises(StorageError, match=rf"^{BUSY_TIMEOUT_ENV}: 'soon' is not a whole number"):
        busy_timeout_ms()


def test_a_full_file_is_a_storage_error_and_keeps_what_was_there(queue: Queue) -> None:
    queue.add_sender("@example.com")
    first = queue.enqueue(outgoing())
    # SQLite's own "full" (max_page_count is what a full disk looks like to it), at the file's current size.
    pages = queue.conn.execute("PRAGMA page_count").fetchone()[0]
    queue.conn.execute(f"PRAGMA max_page_count = {pages}")
    big = build_message(
        MessageFields(sender="ann@example.com", to="bob@example.org", subject="big", body="x" * 200_000), now=0
    )
    with pytest.raises(StorageError, match=r"database or disk is full$"):
        queue.enqueue(big)
    assert [m.id for m in queue.list_messages()] == [first]
