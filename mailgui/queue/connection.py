"""Opening the queue file, transactions, and telling environmental faults from bugs."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mailgui.errors import StorageError
from mailgui.queue.schema import migrate

BUSY_TIMEOUT_MS = 15_000

# Environmental failures a user can act on (disk full, read-only, locked, corrupt): shown as they are.
_ENVIRONMENTAL = (
    "locked",
    "busy",
    "full",
    "readonly",
    "read-only",
    "disk i/o",
    "malformed",
    "not a database",
    "unable to open",
)


def describe(exc: sqlite3.Error, path: str) -> StorageError:
    return StorageError(f"queue file {path}: {exc}")


def is_environmental(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError | sqlite3.DatabaseError) and any(w in text for w in _ENVIRONMENTAL)


def connect(path: str | Path) -> sqlite3.Connection:
    """Open (creating if needed) a queue file in WAL mode with a busy timeout, migrated to the current schema.

    synchronous=FULL: in WAL mode a commit then returns only after the WAL is fsynced, so a message whose
    send() returned survives a power cut, not only a killed process.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn)
    except sqlite3.Error as exc:
        raise describe(exc, str(path)) from exc
    except OSError as exc:
        raise StorageError(f"queue file {path}: {exc.strerror or exc}") from exc
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection, path: str) -> Iterator[sqlite3.Connection]:
    """One write transaction, taken with BEGIN IMMEDIATE so writers queue up on the busy timeout."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        raise describe(exc, path) from exc
    try:
        yield conn
    except BaseException as exc:
        # SQLite may have rolled back already (disk full, I/O error): don't hide the real error.
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error) and is_environmental(exc):
            raise describe(exc, path) from exc
        raise
    try:
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise describe(exc, path) from exc
