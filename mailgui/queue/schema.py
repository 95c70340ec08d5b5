"""Queue schema and forward migrations, versioned with PRAGMA user_version."""

from __future__ import annotations

import sqlite3

from mailgui.errors import StorageError

# Each entry moves the schema one version forward. Never edit a released entry: append a new one.
MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            message_id TEXT NOT NULL,
            sender TEXT NOT NULL,             -- envelope sender; '' is the null reverse-path
            from_header TEXT NOT NULL,
            subject TEXT NOT NULL,
            raw BLOB NOT NULL,                -- the exact bytes sent, stored once
            smtputf8 INTEGER NOT NULL DEFAULT 0,
            priority INTEGER NOT NULL DEFAULT 0,
            kind TEXT NOT NULL DEFAULT 'normal',   -- normal | report
            parent_id INTEGER REFERENCES messages(id) ON DELETE SET NULL,
            created_at REAL NOT NULL,
            status TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL,
            expires_at REAL NOT NULL,
            lease_owner TEXT,
            lease_expires_at REAL,
            last_code INTEGER,
            last_reply TEXT,
            updated_at REAL NOT NULL,
            warned_at REAL
        )""",
        "CREATE INDEX messages_due ON messages(next_attempt_at) WHERE status IN ('queued', 'deferred')",
        "CREATE INDEX messages_lease ON messages(lease_expires_at) WHERE status = 'sending'",
        "CREATE INDEX messages_status ON messages(status, id)",
        "CREATE INDEX messages_parent ON messages(parent_id) WHERE parent_id IS NOT NULL",
        """CREATE TABLE recipients (
            id INTEGER PRIMARY KEY,
            message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
            address TEXT NOT NULL,
            kind TEXT NOT NULL,               -- to | cc | bcc
            status TEXT NOT NULL DEFAULT 'pending',  -- pending | delivered | failed | expired | cancelled
            code INTEGER,
            reply TEXT,
            updated_at REAL
        )""",
        "CREATE INDEX recipients_message ON recipients(message_id)",
        "CREATE INDEX recipients_failed ON recipients(updated_at) WHERE status IN ('failed', 'expired')",
        """CREATE TABLE attempts (
            id INTEGER PRIMARY KEY,
            message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
            started_at REAL NOT NULL,
            duration REAL NOT NULL,
            relay TEXT NOT NULL,
            error TEXT,                       -- whole-transaction failure, if any
            detail TEXT NOT NULL              -- JSON: [{address, code, reply, status}]
        )""",
        "CREATE INDEX attempts_message ON attempts(message_id)",
        "CREATE TABLE senders (pattern TEXT PRIMARY KEY, added_at REAL NOT NULL)",
        "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """CREATE TABLE suppressions (
            address TEXT PRIMARY KEY COLLATE NOCASE,
            reason TEXT NOT NULL,
            added_at REAL NOT NULL
        )""",
    ],
    [
        # The built-in relay's mailbox (what arrived at it), its simulator state, and compose drafts.
        """CREATE TABLE mailbox (
            id INTEGER PRIMARY KEY,
            received_at REAL NOT NULL,
            mail_from TEXT NOT NULL,
            rcpt_to TEXT NOT NULL,            -- JSON list of envelope recipients
            peer TEXT NOT NULL DEFAULT '',
            from_header TEXT NOT NULL DEFAULT '',
            subject TEXT NOT NULL DEFAULT '',
            raw BLOB NOT NULL
        )""",
        """CREATE TABLE relay_sim (
            key TEXT PRIMARY KEY,             -- e.g. 'tempfail:<sender>:<recipient>'
            count INTEGER NOT NULL DEFAULT 0
        )""",
        """CREATE TABLE drafts (
            id INTEGER PRIMARY KEY,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            fields TEXT NOT NULL              -- JSON of the compose fields, attachments inline (base64)
        )""",
    ],
    # v3: a message's bytes in a table of their own. Every claim and every recorded attempt rewrites the
    # message's row; with the bytes inline that rewrote the message too (13 ms of CPU for a 1 MB message).
    [
        """CREATE TABLE bodies (
            id INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
            raw BLOB NOT NULL                 -- the exact bytes sent, stored once, never rewritten
        )""",
        "INSERT INTO bodies(id, raw) SELECT id, raw FROM messages",
        "ALTER TABLE messages DROP COLUMN raw",
    ],
    # v4: reports that come back by mail (late bounces, complaints, auto-replies), matched to what was sent; the
    # reason class of a failed recipient; where a suppression came from.
    [
        """CREATE TABLE reports (
            id INTEGER PRIMARY KEY,
            received_at REAL NOT NULL,
            source TEXT NOT NULL,             -- where it was read: 'imap host/folder', 'local mailbox', 'file'
            digest TEXT NOT NULL UNIQUE,      -- sha256 of its bytes: the same report twice is recorded once
            kind TEXT NOT NULL,               -- bounce | delay | auto_reply | complaint | other
            message_id INTEGER REFERENCES messages(id) ON DELETE SET NULL,  -- the message it is about; NULL: unmatched
            original_message_id TEXT,         -- the Message-ID it names, if any
            from_header TEXT NOT NULL DEFAULT '',
            subject TEXT NOT NULL DEFAULT '',
            detail TEXT NOT NULL,             -- JSON: [{address, status, reason, diagnostic, applied}]
            raw BLOB NOT NULL
        )""",
        "CREATE INDEX reports_message ON reports(message_id)",
        "CREATE INDEX reports_received ON reports(received_at)",
        "CREATE INDEX messages_message_id ON messages(message_id)",
        "ALTER TABLE recipients ADD COLUMN reason TEXT",  # bounce class: unknown_user, mailbox_full, ...
        "ALTER TABLE recipients ADD COLUMN report_id INTEGER REFERENCES reports(id) ON DELETE SET NULL",
        "CREATE INDEX recipients_address ON recipients(address COLLATE NOCASE) WHERE reason IS NOT NULL",
        "ALTER TABLE suppressions ADD COLUMN message_id INTEGER REFERENCES messages(id) ON DELETE SET NULL",
        "ALTER TABLE suppressions ADD COLUMN source TEXT NOT NULL DEFAULT 'user'",  # user | bounce | complaint
        # A job one process of several may do at a time (the bounce mailbox's reader), held until a time.
        "CREATE TABLE leases (name TEXT PRIMARY KEY, owner TEXT NOT NULL, until REAL NOT NULL)",
    ],
]

SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection) -> None:
    """Bring the schema to SCHEMA_VERSION; safe when several processes open a new file at once."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StorageError(f"queue file has schema version {version}, newer than this mailgui knows ({SCHEMA_VERSION})")
    if version == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StorageError(
                f"queue file has schema version {version}, newer than this mailgui knows ({SCHEMA_VERSION})"
            )
        for statements in MIGRATIONS[version:]:
            for statement in statements:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
