"""The queue: every state change is one small transaction. The only code (with reads.py) that runs SQL."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from mailgui.addresses import sender_matches
from mailgui.clock import Clock, SystemClock
from mailgui.errors import InvalidSenderError, QueueError, UnknownMessageError
from mailgui.message import OutgoingMessage
from mailgui.queue.connection import connect, storage_errors
from mailgui.queue.drafts import DraftStore
from mailgui.queue.event_log import EventLog
from mailgui.queue.holds import HoldStore
from mailgui.queue.interface import QueueBackend
from mailgui.queue.late_reports import ReportStore
from mailgui.queue.mailbox import MailboxStore
from mailgui.queue.reads import QueueReads
from mailgui.queue.records import (
    Status,
)
from mailgui.queue.rows import insert_message, message_lifetime
from mailgui.queue.worker_side import WorkerStore


@storage_errors
class Queue(QueueReads, WorkerStore, HoldStore, MailboxStore, DraftStore, ReportStore, EventLog):
    """A handle on one queue file. Cheap to open; several processes may share one file.

    Every public method raises :class:`~mailgui.errors.StorageError` when the file is locked too long, full,
    read-only or corrupt. ``busy_timeout`` (seconds) overrides how long to wait for another process's lock.
    """

    def __init__(self, path: str | Path, clock: Clock | None = None, *, busy_timeout: float | None = None):
        self.path = str(path)
        self.clock: Clock = clock or SystemClock()
        self.conn: sqlite3.Connection = connect(path, busy_timeout)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Queue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- authorized senders ---------------------------------------------------------------------------
    def list_senders(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT pattern FROM senders ORDER BY pattern")]

    def add_sender(self, pattern: str) -> bool:
        """Add a normalized entry (see addresses.normalize_sender_pattern). False if it was there."""
        with self._tx() as c:
            cur = c.execute(
                "INSERT INTO senders(pattern, added_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (pattern, self.clock.now()),
            )
            return cur.rowcount > 0

    def remove_sender(self, pattern: str) -> bool:
        with self._tx() as c:
            return c.execute("DELETE FROM senders WHERE pattern = ?", (pattern,)).rowcount > 0

    def is_authorized(self, address: str) -> bool:
        return any(sender_matches(address, p) for p in self.list_senders())

    def _check_sender(self, address: str) -> None:
        if not any(sender_matches(address, p) for (p,) in self.conn.execute("SELECT pattern FROM senders")):
            domain = address.rpartition("@")[2]
            raise InvalidSenderError(
                f"sender: {address!r} is not an authorized sender; authorize it with "
                f"`mailgui senders add {address}` (or `mailgui senders add @{domain}` for the whole domain)"
            )

    # -- settings (validated above this layer, in mailgui.settings) ----------------------------------
    def get_setting(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def set_setting(self, key: str, value: str) -> None:
        with self._tx() as c:
            c.execute(
                "INSERT INTO settings(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def delete_setting(self, key: str) -> None:
        with self._tx() as c:
            c.execute("DELETE FROM settings WHERE key = ?", (key,))

    def all_settings(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT key, value FROM settings ORDER BY key").fetchall())

    # -- enqueue --------------------------------------------------------------------------------------
    def enqueue(
        self,
        msg: OutgoingMessage,
        *,
        not_before: float | None = None,
        lifetime: float | None = None,
        authorize: bool = True,
        priority: int = 0,
    ) -> int:
        """Store a validated message; returns its queue id once the transaction is committed (durable).

        The authorized-sender check runs inside the same transaction, so it holds on every path.
        """
        now = self.clock.now()
        with self._tx() as c:
            if authorize:
                self._check_sender(msg.sender.address)
            if lifetime is None:
                lifetime = message_lifetime(c)
            start = max(now, not_before or now)
            return insert_message(
                c,
                msg.message_id,
                msg.sender.address,
                str(msg.sender),
                msg.subject,
                msg.raw,
                msg.smtputf8,
                [(a, k) for a, k in msg.recipients],
                now,
                start,
                start + lifetime,
                priority,
                "normal",
                None,
            )

    def enqueue_report(
        self, *, parent_id: int, message_id: str, recipient: str, subject: str, raw: bytes, smtputf8: bool = False
    ) -> int:
        """Queue a delivery report (bounce) with the null reverse-path. Not subject to the sender check."""
        now = self.clock.now()
        with self._tx() as c:
            lifetime = message_lifetime(c)
            return insert_message(
                c,
                message_id,
                "",
                "MAILER-DAEMON",
                subject,
                raw,
                smtputf8,
                [(recipient, "to")],
                now,
                now,
                now + lifetime,
                0,
                "report",
                parent_id,
            )

    # -- the user's side ------------------------------------------------------------------------------
    def _status_of(self, c: sqlite3.Connection, message_id: int) -> str:
        row = c.execute("SELECT status FROM messages WHERE id = ?", (message_id,)).fetchone()
        if row is None:
            raise UnknownMessageError(f"id: no message {message_id} in the queue")
        return str(row[0])

    def cancel(self, message_id: int) -> None:
        """Stop a waiting message from being sent. A message being sent right now cannot be cancelled."""
        now = self.clock.now()
        with self._tx() as c:
            status = self._status_of(c, message_id)
            if status not in (Status.QUEUED, Status.DEFERRED):
                raise QueueError(
                    f"id: message {message_id} is {status}; only queued or deferred messages can be cancelled"
                )
            c.execute(
                "UPDATE messages SET status = 'cancelled', next_attempt_at = ?, updated_at = ? WHERE id = ?",
                (now, now, message_id),
            )
            c.execute(
                "UPDATE recipients SET status = 'cancelled', updated_at = ? WHERE message_id = ? AND status = 'pending'",
                (now, message_id),
            )

    def requeue(self, message_id: int) -> None:
        """Retry now. A bounced or cancelled message gets its failed recipients back and a fresh lifetime."""
        now = self.clock.now()
        with self._tx() as c:
            status = self._status_of(c, message_id)
            if status in (Status.SENDING, Status.SENT):
                raise QueueError(f"id: message {message_id} is {status}; it cannot be retried")
            if status in (Status.BOUNCED, Status.CANCELLED):
                c.execute(
                    """UPDATE recipients SET status = 'pending', updated_at = ?
                       WHERE message_id = ? AND status IN ('failed', 'expired', 'cancelled', 'suppressed')""",
                    (now, message_id),
                )
                c.execute("UPDATE messages SET expires_at = ? WHERE id = ?", (now + message_lifetime(c), message_id))
            c.execute(
                "UPDATE messages SET status = 'queued', next_attempt_at = ?, warned_at = NULL, updated_at = ? WHERE id = ?",
                (now, now, message_id),
            )

    def delete(self, message_ids: Iterable[int]) -> int:
        """Delete messages for good. Messages being sent right now are left alone."""
        ids = list(message_ids)
        with self._tx() as c:
            marks = ",".join("?" * len(ids))
            return c.execute(f"DELETE FROM messages WHERE id IN ({marks}) AND status != 'sending'", ids).rowcount


if TYPE_CHECKING:
    # mypy checks here that the SQLite queue implements the whole interface, signatures included.
    def _implements(queue: Queue) -> QueueBackend:
        return queue
