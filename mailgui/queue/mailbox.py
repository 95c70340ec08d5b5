"""The built-in relay's local mailbox (what arrived, kept beside the queue) and its simulator counters.

Every write is one transaction. Records are plain frozen dataclasses; the GUI's Mailbox view pages over
:meth:`MailboxStore.list_mailbox` (newest first, keyset on the id) and opens one with :meth:`get_received`.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from typing import Any

from mailgui.clock import Clock
from mailgui.errors import UnknownMessageError
from mailgui.queue.connection import transaction
from mailgui.queue.reads import id_range

log = logging.getLogger(__name__)

_ENTRY_COLUMNS = "id, received_at, mail_from, rcpt_to, peer, from_header, subject, length(raw)"


@dataclass(frozen=True)
class MailboxEntry:
    """One message that arrived at the built-in relay, as the Mailbox list shows it."""

    id: int
    received_at: float
    mail_from: str  # envelope sender; '' is the null reverse-path (a bounce report)
    rcpt_to: tuple[str, ...]  # envelope recipients the relay accepted
    peer: str  # the client's address, e.g. '127.0.0.1:53122'
    from_header: str  # decoded From: header ('' if none)
    subject: str  # decoded Subject: header ('' if none)
    size: int  # bytes


@dataclass(frozen=True)
class ReceivedMessage:
    """A mailbox entry with the message exactly as received (CRLF line ends, dot-unstuffed)."""

    entry: MailboxEntry
    raw: bytes


def display_headers(raw: bytes) -> tuple[str, str]:
    """The decoded From and Subject of a message, for list display; '' for a missing or unreadable one."""
    try:
        headers = BytesHeaderParser(policy=default_policy).parsebytes(raw)
    except Exception:  # the stdlib parser is lenient; this is for the unexpected, and must not lose mail
        log.exception("mailbox: cannot parse the headers of a received message; storing it without From/Subject")
        return "", ""
    out: list[str] = []
    for name in ("From", "Subject"):
        try:
            value = headers.get(name)
            text = "" if value is None else str(value)
        except Exception:  # a malformed encoded-word can make header folding raise
            log.warning("mailbox: cannot decode the %s header of a received message", name, exc_info=True)
            text = ""
        out.append(" ".join(text.split()))
    return out[0], out[1]


def _entry(row: Any) -> MailboxEntry:
    return MailboxEntry(
        id=row[0],
        received_at=row[1],
        mail_from=row[2],
        rcpt_to=tuple(json.loads(row[3])),
        peer=row[4],
        from_header=row[5],
        subject=row[6],
        size=row[7],
    )


class MailboxStore:
    """Mixed into :class:`mailgui.queue.Queue`: the mailbox and simulator tables of the same file."""

    conn: sqlite3.Connection
    path: str
    clock: Clock

    # -- the mailbox ----------------------------------------------------------------------------------
    def store_received(self, mail_from: str, rcpt_to: Sequence[str], raw: bytes, peer: str) -> int:
        """Keep one message as it arrived (bytes untouched); returns its mailbox id once committed."""
        return self.store_received_many([(mail_from, rcpt_to, raw, peer)])[0]

    def store_received_many(self, messages: Sequence[tuple[str, Sequence[str], bytes, str]]) -> list[int]:
        """Keep several messages (mail_from, rcpt_to, raw, peer) in one transaction: one fsync for all."""
        now = self.clock.now()
        rows = [
            (now, mail_from, json.dumps(list(rcpt_to)), peer, *display_headers(raw), bytes(raw))
            for mail_from, rcpt_to, raw, peer in messages
        ]
        with transaction(self.conn, self.path) as c:
            ids = []
            for row in rows:
                cur = c.execute(
                    """INSERT INTO mailbox(received_at, mail_from, rcpt_to, peer, from_header, subject, raw)
                       VALUES (?, ?, ?, ?, ?, ?, ?)""",
                    row,
                )
                ids.append(int(cur.lastrowid or 0))
            return ids

    def count_mailbox(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM mailbox").fetchone()[0])

    def list_mailbox(
        self,
        *,
        limit: int = 100,
        before_id: int | None = None,
        after_id: int | None = None,
        offset: int = 0,
    ) -> list[MailboxEntry]:
        """A page of the mailbox, newest first. Keyset paging: pass the last id seen as ``before_id``;
        ``after_id`` gives only what arrived since (still newest first); ``offset`` jumps to a row."""
        clauses: list[str] = []
        params: list[object] = []
        id_range("id", after_id, before_id, clauses, params)
        where = " AND ".join(clauses) or "1"
        rows = self.conn.execute(
            f"SELECT {_ENTRY_COLUMNS} FROM mailbox WHERE {where} ORDER BY id DESC LIMIT ? OFFSET ?",
            [*params, limit, offset],
        ).fetchall()
        return [_entry(r) for r in rows]

    def get_received(self, mailbox_id: int) -> ReceivedMessage:
        row = self.conn.execute(f"SELECT {_ENTRY_COLUMNS}, raw FROM mailbox WHERE id = ?", (mailbox_id,)).fetchone()
        if row is None:
            raise UnknownMessageError(f"id: no message {mailbox_id} in the mailbox")
        return ReceivedMessage(entry=_entry(row), raw=bytes(row[8]))

    def delete_received(self, mailbox_ids: Iterable[int]) -> int:
        ids = list(mailbox_ids)
        if not ids:
            return 0
        with transaction(self.conn, self.path) as c:
            marks = ",".join("?" * len(ids))
            return c.execute(f"DELETE FROM mailbox WHERE id IN ({marks})", ids).rowcount

    def clear_mailbox(self) -> int:
        """Delete everything in the mailbox; returns how many messages went."""
        with transaction(self.conn, self.path) as c:
            return c.execute("DELETE FROM mailbox").rowcount

    # -- the outcome simulator's counters -------------------------------------------------------------
    def bump_sim(self, key: str) -> int:
        """Add one to a simulator counter (created at 0) and return the new count."""
        with transaction(self.conn, self.path) as c:
            row = c.execute(
                """INSERT INTO relay_sim(key, count) VALUES (?, 1)
                   ON CONFLICT(key) DO UPDATE SET count = count + 1 RETURNING count""",
                (key,),
            ).fetchone()
            return int(row[0])

    def get_sim(self, key: str) -> int:
        row = self.conn.execute("SELECT count FROM relay_sim WHERE key = ?", (key,)).fetchone()
        return 0 if row is None else int(row[0])

    def reset_sim(self, keys: Iterable[str]) -> int:
        """Forget the given counters (back to 0); returns how many existed."""
        ks = list(keys)
        if not ks:
            return 0
        with transaction(self.conn, self.path) as c:
            marks = ",".join("?" * len(ks))
            return c.execute(f"DELETE FROM relay_sim WHERE key IN ({marks})", ks).rowcount

    def clear_sim(self) -> int:
        """Forget every simulator counter, so each reserved address behaves as on first use again."""
        with transaction(self.conn, self.path) as c:
            return c.execute("DELETE FROM relay_sim").rowcount
