"""Queue schema and forward migrations, versioned with PRAGMA user_version."""

from __future__ import annotations

import sqlite3

from mailgui.errors import StorageError

EVENT_KINDS = ("queued", "sent", "deferred", "bounced", "complained", "suppressed", "delayed", "cancelled")

_NORMAL = "(SELECT kind FROM messages WHERE id = {mid}) = 'normal'"
_EVENT = (
    """INSERT INTO events(at, kind, message_id, header_message_id, recipient, code, text, reason, next_attempt_at)"""
)
_EVENT_TRIGGERS = [
    # A recipient enters the queue (a normal message; reports about mail are not events of their own).
    f"""CREATE TRIGGER events_queued AFTER INSERT ON recipients WHEN {_NORMAL.format(mid="NEW.message_id")}
        BEGIN {_EVENT} SELECT created_at, 'queued', id, message_id, NEW.address, NULL, NULL, NULL, NULL
              FROM messages WHERE id = NEW.message_id; END""",
    # A recipient's state changes: sent, bounced (now or reported later), suppressed, cancelled, queued again.
    f"""CREATE TRIGGER events_recipient AFTER UPDATE OF status ON recipients
        WHEN NEW.status != OLD.status AND {_NORMAL.format(mid="NEW.message_id")}
        BEGIN {_EVENT} SELECT coalesce(NEW.updated_at, m.updated_at),
                  CASE NEW.status WHEN 'delivered' THEN 'sent' WHEN 'failed' THEN 'bounced'
                       WHEN 'expired' THEN 'bounced' WHEN 'pending' THEN 'queued' ELSE NEW.status END,
                  m.id, m.message_id, NEW.address, NEW.code, NEW.reply,
                  CASE NEW.status WHEN 'expired' THEN 'expired' ELSE NEW.reason END, NULL
              FROM messages AS m WHERE m.id = NEW.message_id; END""",
    # An attempt left a recipient waiting: deferred, with the reply and the next attempt.
    f"""CREATE TRIGGER events_deferred AFTER INSERT ON attempts WHEN {_NORMAL.format(mid="NEW.message_id")}
        BEGIN {_EVENT} SELECT NEW.started_at + NEW.duration, 'deferred', m.id, m.message_id,
                  json_extract(d.value, '$.address'), json_extract(d.value, '$.code'),
                  json_extract(d.value, '$.reply'), NULL,
                  CASE m.status WHEN 'deferred' THEN m.next_attempt_at END
              FROM messages AS m, json_each(NEW.detail) AS d
             WHERE m.id = NEW.message_id AND json_extract(d.value, '$.status') = 'pending'; END""",
    # The sender was warned that delivery is late.
    f"""CREATE TRIGGER events_delayed AFTER UPDATE OF warned_at ON messages
        WHEN NEW.warned_at IS NOT NULL AND OLD.warned_at IS NULL AND NEW.kind = 'normal'
        BEGIN {_EVENT} SELECT NEW.warned_at, 'delayed', NEW.id, NEW.message_id, r.address, NULL, NULL, NULL,
                  NEW.next_attempt_at
              FROM recipients AS r WHERE r.message_id = NEW.id AND r.status = 'pending'; END""",
    # A recipient marked the mail as spam (a complaint matched to the message).
    f"""CREATE TRIGGER events_complained AFTER UPDATE OF detail ON reports
        WHEN NEW.kind = 'complaint' AND NEW.message_id IS NOT NULL
        BEGIN {_EVENT} SELECT NEW.received_at, 'complained', m.id, m.message_id,
                  json_extract(d.value, '$.address'), NULL, json_extract(d.value, '$.diagnostic'), NULL, NULL
              FROM messages AS m, json_each(NEW.detail) AS d WHERE m.id = NEW.message_id; END""",
]

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
    # v5: one per-recipient event stream (`mailgui events`). Written by triggers, so every state change makes its
    # event in its own transaction, whichever code path made it, and the delivery path runs no extra statement.
    [
        f"""CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: a consumer resumes after the last id it saw
            at REAL NOT NULL,
            kind TEXT NOT NULL,               -- {" | ".join(EVENT_KINDS)}
            message_id INTEGER NOT NULL,      -- the queue's id (the message may be deleted since)
            header_message_id TEXT NOT NULL,  -- its Message-ID
            recipient TEXT NOT NULL,
            code INTEGER,
            text TEXT,                        -- the relay's reply, the report's diagnostic, why suppressed
            reason TEXT,                      -- bounced: unknown_user, mailbox_full, ...
            next_attempt_at REAL              -- deferred: when it is tried again
        )""",
        *_EVENT_TRIGGERS,
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
