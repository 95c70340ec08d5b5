"""Opening the queue file, transactions, and telling environmental faults from bugs."""

from __future__ import annotations

import functools
import inspect
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from mailgui.errors import StorageError
from mailgui.queue.schema import migrate

BUSY_TIMEOUT_MS = 15_000
# How long to wait for another process's lock before giving up (ms); tests shorten it.
BUSY_TIMEOUT_ENV = "MAILGUI_BUSY_TIMEOUT_MS"

# Faults of the file or the machine that a user can act on (locked, read-only, full, damaged, not there), by
# SQLite's primary result code (https://sqlite.org/rescode.html): the set qutebrowser's misc/sql.py calls
# KnownError. Anything else (SQLITE_ERROR: no such column, a syntax error; a constraint; a datatype mismatch) is
# our bug and keeps its own type. Reading the words of the message instead took "no such column: full_name"
# for a full disk and would hide a bug behind "queue file ...: ..." the user can do nothing about.
_STORAGE_FAULTS = frozenset(
    {
        sqlite3.SQLITE_BUSY,  # locked by another connection past the busy timeout
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_CORRUPT,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PROTOCOL,
        sqlite3.SQLITE_NOTADB,
    }
)


def describe(exc: sqlite3.Error, path: str) -> StorageError:
    return StorageError(f"queue file {path}: {exc}")


def is_environmental(exc: sqlite3.Error) -> bool:
    """Whether ``exc`` is a fault of the file or the machine rather than a bug. Extended result codes
    (SQLITE_BUSY_SNAPSHOT, SQLITE_IOERR_FSYNC, ...) count as their primary code. An error raised by the
    sqlite3 module itself (a closed connection, a bad binding) has no code: a bug."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in _STORAGE_FAULTS


def busy_timeout_ms() -> int:
    """The busy timeout: ``$MAILGUI_BUSY_TIMEOUT_MS`` if set (a whole number of ms), else 15 s."""
    text = os.environ.get(BUSY_TIMEOUT_ENV, "").strip()
    if not text:
        return BUSY_TIMEOUT_MS
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise StorageError(f"{BUSY_TIMEOUT_ENV}: {text!r} is not a whole number of milliseconds")
    return value


def connect(path: str | Path, busy_timeout: float | None = None) -> sqlite3.Connection:
    """Open (creating if needed) a queue file in WAL mode with a busy timeout, migrated to the current schema.

    ``busy_timeout`` (seconds) is how long to wait for another process's lock; default :func:`busy_timeout_ms`.

    synchronous=FULL: in WAL mode a commit then returns only after the WAL is fsynced, so a message whose
    send() returned survives a power cut, not only a killed process.
    """
    path = Path(path)
    timeout_ms = busy_timeout_ms() if busy_timeout is None else round(busy_timeout * 1000)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None, timeout=timeout_ms / 1000, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {int(timeout_ms)}")
        if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn)
    except sqlite3.Error as exc:
        if is_environmental(exc):
            raise describe(exc, str(path)) from exc
        raise
    except OSError as exc:
        raise StorageError(f"queue file {path}: {exc.strerror or exc}") from exc
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection, path: str) -> Iterator[sqlite3.Connection]:
    """One write transaction, taken with BEGIN IMMEDIATE so writers queue up on the busy timeout."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        if is_environmental(exc):
            raise describe(exc, path) from exc
        raise
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
        if is_environmental(exc):
            raise describe(exc, path) from exc
        raise


_F = TypeVar("_F", bound=Callable[..., Any])
_C = TypeVar("_C", bound=type)


def _guarded(fn: _F) -> _F:
    @functools.wraps(fn)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(self, *args, **kwargs)
        except sqlite3.Error as exc:
            if is_environmental(exc):
                raise describe(exc, self.path) from exc
            raise

    return wrapper  # type: ignore[return-value]


def storage_errors(cls: _C) -> _C:
    """Class decorator: every public method (inherited ones too) raises StorageError for an environmental
    sqlite3 error (locked, full, read-only, corrupt), so reads fail as clearly as writes. Bugs (a bad
    query, a constraint) still surface as they are."""
    for name in dir(cls):
        if name.startswith("_"):
            continue
        attr = inspect.getattr_static(cls, name)
        if inspect.isfunction(attr):
            setattr(cls, name, _guarded(attr))
    return cls
