"""Rows written by more than one part of the queue: a new message with its recipients, a delivery report, and the
lifetime setting."""

from __future__ import annotations

import sqlite3

from mailgui.queue.records import NewReport

DEFAULT_LIFETIME = 5 * 24 * 3600.0


def message_lifetime(c: sqlite3.Connection) -> float:
    """How long a message may wait before it is given up (the retry.lifetime setting)."""
    row = c.execute("SELECT value FROM settings WHERE key = 'retry.lifetime'").fetchone()
    return float(row[0]) if row else DEFAULT_LIFETIME


def insert_message(
    c: sqlite3.Connection,
    message_id: str,
    sender: str,
    from_header: str,
    subject: str,
    raw: bytes,
    smtputf8: bool,
    recipients: list[tuple[str, str]],
    now: float,
    start: float,
    expires: float,
    priority: int,
    kind: str,
    parent_id: int | None,
) -> int:
    """One queued message and its recipients (inside the caller's transaction); returns its id."""
    cur = c.execute(
        """INSERT INTO messages(message_id, sender, from_header, subject, smtputf8, priority, kind,
               parent_id, created_at, status, next_attempt_at, expires_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?)""",
        (
            message_id,
            sender,
            from_header,
            subject,
            int(smtputf8),
            priority,
            kind,
            parent_id,
            now,
            start,
            expires,
            now,
        ),
    )
    new_id = int(cur.lastrowid or 0)
    c.execute("INSERT INTO bodies(id, raw) VALUES (?, ?)", (new_id, raw))
    c.executemany(
        "INSERT INTO recipients(message_id, address, kind) VALUES (?, ?, ?)",
        [(new_id, a, k) for a, k in recipients],
    )
    return new_id


def insert_report(
    c: sqlite3.Connection, draft: NewReport, parent_id: int, now: float, lifetime: float, warned: bool
) -> int:
    """Queue ``draft`` about message ``parent_id`` (null reverse-path); ``warned``: mark that one warned."""
    report_id = insert_message(
        c,
        draft.message_id,
        "",
        "MAILER-DAEMON",
        draft.subject,
        draft.raw,
        draft.smtputf8,
        [(draft.recipient, "to")],
        now,
        now,
        now + lifetime,
        0,
        "report",
        parent_id,
    )
    if warned:
        c.execute("UPDATE messages SET warned_at = ? WHERE id = ?", (now, parent_id))
    return report_id
