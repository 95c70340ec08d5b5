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
from mailgui.queue import Queue, schema
from mailgui.queue.connection import BUSY_TIMEOUT_ENV, busy_timeout_ms, is_environmental, transaction
from mailgui.queue.schema import MIGRATIONS
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


# -- telling a fault of the file from a bug, by SQLite's result code ------------------------------------------


def _error_from(run: Callable[[], object]) -> sqlite3.Error:
    try:
        run()
    except sqlite3.Error as exc:
        return exc
    raise AssertionError("expected an sqlite3.Error")


def _busy(path: Path) -> sqlite3.Error:
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process is writing
    try:
        waiter = sqlite3.connect(path, isolation_level=None, timeout=0.01)
        try:
            return _error_from(lambda: waiter.execute("BEGIN IMMEDIATE"))
        finally:
            waiter.close()
    finally:
        holder.close()


def _read_only(path: Path) -> sqlite3.Error:
    # mode=ro, not chmod: a read-only file means nothing to root, who runs the tests in CI containers.
    ro = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return _error_from(lambda: ro.execute("INSERT INTO senders(pattern, added_at) VALUES ('@x.org', 0)"))
    finally:
        ro.close()


def _full(path: Path) -> sqlite3.Error:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")
        return _error_from(lambda: conn.execute("INSERT INTO settings(key, value) VALUES ('k', ?)", ("v" * 100_000,)))
    finally:
        conn.close()


def _corrupt(path: Path) -> sqlite3.Error:
    make_corrupt(path)
    conn = sqlite3.connect(path)
    try:
        return _error_from(lambda: conn.execute("SELECT count(*), max(length(subject)) FROM messages").fetchall())
    finally:
        conn.close()


def _not_a_database(path: Path) -> sqlite3.Error:
    path.write_bytes(b"\xa5\x5a" * 4096)
    conn = sqlite3.connect(path)
    try:
        return _error_from(lambda: conn.execute("SELECT * FROM sqlite_master").fetchall())
    finally:
        conn.close()


STORAGE_FAULTS: dict[str, tuple[Callable[[Path], sqlite3.Error], str]] = {
    "busy": (_busy, "SQLITE_BUSY"),
    "read-only": (_read_only, "SQLITE_READONLY"),
    "full": (_full, "SQLITE_FULL"),
    "corrupt": (_corrupt, "SQLITE_CORRUPT"),
    "not a database": (_not_a_database, "SQLITE_NOTADB"),
}


@pytest.mark.parametrize("fault", sorted(STORAGE_FAULTS))
def test_a_fault_of_the_file_is_told_by_its_result_code(tmp_path: Path, fault: str) -> None:
    path = tmp_path / "queue.sqlite3"
    Queue(path).close()
    make, name = STORAGE_FAULTS[fault]
    exc = make(path)
    assert exc.sqlite_errorname == name
    assert is_environmental(exc)


BUGS = {
    # Each message holds a word the old check took for a fault of the file ("full", "locked", "busy", ...).
    "SELECT full_name FROM senders": "no such column: full_name",
    "SELECT * FROM locked_senders": "no such table: locked_senders",
    "SELEC pattern FROM senders WHERE busy": 'near "SELEC": syntax error',
    "SELECT pattern FROM senders LIMIT 'full'": "datatype mismatch",
    "INSERT INTO senders(pattern, added_at) VALUES ('@full.org', 0), ('@full.org', 0)": "UNIQUE constraint failed",
}


@pytest.mark.parametrize("sql", sorted(BUGS))
def test_a_bug_in_sql_is_not_a_fault_of_the_file(queue: Queue, sql: str) -> None:
    exc = _error_from(lambda: queue.conn.execute(sql).fetchall())
    assert str(exc).startswith(BUGS[sql])
    assert not is_environmental(exc)


def test_an_error_from_the_sqlite3_module_itself_is_a_bug(db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    conn.close()
    assert not is_environmental(_error_from(lambda: conn.execute("SELECT 1")))


def test_a_bug_inside_a_transaction_stays_a_bug_whatever_its_message_says(queue: Queue) -> None:
    with (
        pytest.raises(sqlite3.OperationalError, match=r"^no such column: full_name$"),
        transaction(queue.conn, queue.path),
    ):
        queue.conn.execute("SELECT full_name FROM senders")
    assert not queue.conn.in_transaction


def test_a_bug_in_a_migration_is_raised_as_a_bug_not_shown_as_a_storage_problem(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Queue(db_path).close()
    broken = [*MIGRATIONS, ["ALTER TABLE senders ADD COLUMN note TEXT", "UPDATE senders SET note = full_note"]]
    monkeypatch.setattr(schema, "MIGRATIONS", broken)
    monkeypatch.setattr(schema, "SCHEMA_VERSION", len(broken))
    with pytest.raises(sqlite3.OperationalError, match=r"^no such column: full_note$"):
        Queue(db_path)
    monkeypatch.undo()
    Queue(db_path).close()  # rolled back: the file is still at the version before
