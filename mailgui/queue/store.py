"""The queue: every state change is one small transaction. The only code (with reads.py) that runs SQL."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mailgui.addresses import sender_matches
from mailgui.clock import Clock, SystemClock
from mailgui.errors import InvalidSenderError, LeaseLostError, QueueError, UnknownMessageError
from mailgui.message import OutgoingMessage
from mailgui.queue.connection import connect, storage_errors, transaction
from mailgui.queue.drafts import DraftStore
from mailgui.queue.mailbox import MailboxStore
from mailgui.queue.reads import QueueReads
from mailgui.queue.records import (
    Attempt,
    AttemptOutcome,
    ClaimedMessage,
    NewReport,
    Recipient,
    RecipientStatus,
    Status,
)

DEFAULT_LIFETIME = 5 * 24 * 3600.0

Recorded = tuple[AttemptOutcome | LeaseLostError | UnknownMessageError, int | None]


@dataclass(frozen=True)
class WaitingScan:
    """What one call of :meth:`Queue.warn_waiting` did."""

    last_id: int  # the last id looked at: the next call starts after it
    done: bool  # no message after it
    warned: list[tuple[int, int]]  # (message id, report id) of each warning queued
    not_yet: list[tuple[int, float]]  # (id, earliest time it may call for a warning) of the others still waiting


@storage_errors
class Queue(QueueReads, MailboxStore, DraftStore):
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

    def _tx(self):  # type: ignore[no-untyped-def]
        return transaction(self.conn, self.path)

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
                lifetime = self._lifetime(c)
            start = max(now, not_before or now)
            return self._insert(
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
            lifetime = self._lifetime(c)
            return self._insert(
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

    def _lifetime(self, c: sqlite3.Connection) -> float:
        row = c.execute("SELECT value FROM settings WHERE key = 'retry.lifetime'").fetchone()
        return float(row[0]) if row else DEFAULT_LIFETIME

    def _insert(
        self,
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
        cur = c.execute(
            """INSERT INTO messages(message_id, sender, from_header, subject, raw, smtputf8, priority, kind,
                   parent_id, created_at, status, next_attempt_at, expires_at, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?)""",
            (
                message_id,
                sender,
                from_header,
                subject,
                raw,
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
        c.executemany(
            "INSERT INTO recipients(message_id, address, kind) VALUES (?, ?, ?)",
            [(new_id, a, k) for a, k in recipients],
        )
        return new_id

    # -- the worker's side ----------------------------------------------------------------------------
    def claim_due(
        self, owner: str, limit: int, lease_seconds: float, *, expired_only: bool = False
    ) -> list[ClaimedMessage]:
        """Lease up to ``limit`` due messages (or ones whose lease ran out) to ``owner``.

        ``expired_only``: only those whose lifetime is over (a worker backing off a dead relay still gives
        those up on time).
        """
        with self._tx() as c:
            return self._claim_due(c, owner, limit, lease_seconds, self.clock.now(), expired_only)

    def _claim_due(
        self, c: sqlite3.Connection, owner: str, limit: int, lease_seconds: float, now: float, expired_only: bool
    ) -> list[ClaimedMessage]:
        expired = "AND expires_at <= ?" if expired_only else ""
        cutoff = (now,) if expired_only else ()
        rows = c.execute(
            f"""UPDATE messages SET status = 'sending', lease_owner = ?, lease_expires_at = ?, updated_at = ?
               WHERE id IN (
                   SELECT id FROM (
                       SELECT * FROM (
                           SELECT id, next_attempt_at AS due FROM messages INDEXED BY messages_due
                            WHERE status IN ('queued', 'deferred') AND next_attempt_at <= ? {expired}
                            ORDER BY next_attempt_at, id LIMIT ?)
                       UNION ALL
                       SELECT * FROM (
                           SELECT id, lease_expires_at AS due FROM messages INDEXED BY messages_lease
                            WHERE status = 'sending' AND lease_expires_at <= ? {expired}
                            ORDER BY lease_expires_at, id LIMIT ?)
                   ) ORDER BY due, id LIMIT ?)
               RETURNING id, message_id, sender, raw, smtputf8, attempts, created_at, expires_at, kind,
                         parent_id, warned_at, subject""",
            # Each side walks its partial index in due order and stops at ``limit``: without the inner
            # LIMITs (and with SQLite picking messages_status), a million queued messages were all read
            # and sorted on every claim (1.2 s each, in the GUI's event loop).
            (owner, now + lease_seconds, now, now, *cutoff, limit, now, *cutoff, limit, limit),
        ).fetchall()
        if not rows:
            return []
        ids = [r[0] for r in rows]
        pending: dict[int, list[str]] = {i: [] for i in ids}
        failed: set[int] = set()
        marks = ",".join("?" * len(ids))
        for mid, addr, status in c.execute(
            "SELECT message_id, address, status FROM recipients"
            f" WHERE status IN ('pending', 'failed', 'expired') AND message_id IN ({marks}) ORDER BY id",
            ids,
        ):
            if status == RecipientStatus.PENDING:
                pending[mid].append(addr)
            else:
                failed.add(mid)
        return [
            ClaimedMessage(
                id=r[0],
                message_id=r[1],
                sender=r[2],
                raw=r[3],
                smtputf8=bool(r[4]),
                recipients=tuple(pending[r[0]]),
                attempts=r[5],
                created_at=r[6],
                expires_at=r[7],
                kind=r[8],
                parent_id=r[9],
                warned_at=r[10],
                subject=r[11],
                failed_before=r[0] in failed,
            )
            for r in sorted(rows, key=lambda r: r[0])
        ]

    def next_due_at(self) -> float | None:
        """When the next message becomes claimable (None if nothing is waiting)."""
        row = self.conn.execute(
            """SELECT min(due) FROM (
                   SELECT min(next_attempt_at) AS due FROM messages WHERE status IN ('queued', 'deferred')
                   UNION ALL
                   SELECT min(lease_expires_at) FROM messages WHERE status = 'sending')"""
        ).fetchone()
        return row[0]

    def extend_lease(self, message_id: int, owner: str, lease_seconds: float) -> None:
        with self._tx() as c:
            self._check_lease(c, message_id, owner)
            c.execute(
                "UPDATE messages SET lease_expires_at = ? WHERE id = ?", (self.clock.now() + lease_seconds, message_id)
            )

    def _check_lease(self, c: sqlite3.Connection, message_id: int, owner: str) -> sqlite3.Row:
        row = c.execute("SELECT status, lease_owner, attempts FROM messages WHERE id = ?", (message_id,)).fetchone()
        if row is None:
            raise UnknownMessageError(f"id: no message {message_id} in the queue")
        if row[0] != Status.SENDING or row[1] != owner:
            raise LeaseLostError(f"message {message_id}: lease held by {row[1]!r}, not {owner!r}")
        return row

    def record_attempt(self, message_id: int, owner: str, attempt: Attempt, retry_at: float | None) -> AttemptOutcome:
        """Log an attempt and apply its per-recipient outcomes, in one transaction.

        Recipients left pending are deferred to ``retry_at``; with ``retry_at=None`` (lifetime over) they
        expire. The message ends ``sent`` if every recipient was delivered, ``bounced`` if none is pending
        and one failed or expired, else ``deferred``.
        """
        with self._tx() as c:
            return self._record_attempt(c, message_id, owner, attempt, retry_at, self.clock.now())

    def record_attempts(
        self,
        owner: str,
        items: Sequence[tuple[int | ClaimedMessage, Attempt, float | None]],
        report: Callable[[int, AttemptOutcome], NewReport | None] | None = None,
    ) -> list[Recorded]:
        """``record_attempt`` for several messages in one transaction (one commit for a batch of sends).

        An item may name its message by the ClaimedMessage it was sent from: its pending recipients and
        earlier failures (fixed while the lease is held) then settle the state without reading them again.
        ``report(index, outcome)`` may return a delivery report about item ``index``; it is queued (with the
        null reverse-path) in the same transaction, so a crash cannot keep the attempt and lose its report.
        Returns (outcome, report id or None) per item; a message whose lease was lost (or that was deleted)
        is skipped, its error in place of the outcome.
        """
        return self.record_and_claim(owner, items, report)[0]

    def record_and_claim(
        self,
        owner: str,
        items: Sequence[tuple[int | ClaimedMessage, Attempt, float | None]],
        report: Callable[[int, AttemptOutcome], NewReport | None] | None = None,
        *,
        claim: int = 0,
        lease_seconds: float = 0.0,
    ) -> tuple[list[Recorded], list[ClaimedMessage]]:
        """``record_attempts``, then ``claim_due(owner, claim, lease_seconds)``, in one transaction: a worker
        that keeps its senders fed pays one commit (one fsync) for both."""
        now = self.clock.now()
        out: list[Recorded] = []
        with self._tx() as c:
            lifetime = self._lifetime(c) if items else 0.0
            for index, (message, attempt, retry_at) in enumerate(items):
                try:
                    outcome = self._record_attempt(c, message, owner, attempt, retry_at, now)
                except (LeaseLostError, UnknownMessageError) as exc:
                    out.append((exc, None))
                    continue
                draft = report(index, outcome) if report is not None else None
                report_id = None
                if draft is not None:
                    message_id = message if isinstance(message, int) else message.id
                    report_id = self._insert_report(c, draft, message_id, now, lifetime, draft.warned)
                out.append((outcome, report_id))
            claimed = self._claim_due(c, owner, claim, lease_seconds, now, False) if claim > 0 else []
        return out, claimed

    def _insert_report(
        self, c: sqlite3.Connection, draft: NewReport, parent_id: int, now: float, lifetime: float, warned: bool
    ) -> int:
        """Queue ``draft`` about message ``parent_id`` (null reverse-path); ``warned``: mark that one warned."""
        report_id = self._insert(
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

    def _record_attempt(
        self,
        c: sqlite3.Connection,
        message: int | ClaimedMessage,
        owner: str,
        attempt: Attempt,
        retry_at: float | None,
        now: float,
    ) -> AttemptOutcome:
        if isinstance(message, ClaimedMessage):
            return self._record_claimed(c, message, owner, attempt, retry_at, now)
        message_id = message
        self._check_lease(c, message_id, owner)
        self._log_attempt(c, message_id, attempt)
        newly_failed = self._settle_recipients(c, message_id, attempt, retry_at, now)
        # One read for both: who is still pending, and whether anyone failed (this attempt or an earlier one).
        left = c.execute(
            "SELECT address, status FROM recipients WHERE message_id = ? AND status IN ('pending', 'failed', 'expired')"
            " ORDER BY id",
            (message_id,),
        ).fetchall()
        pending = tuple(a for a, st in left if st == RecipientStatus.PENDING)
        status = _message_status(pending, len(left) > len(pending))
        last = _last_reply(attempt)
        c.execute(
            """UPDATE messages SET status = ?, attempts = attempts + 1, next_attempt_at = ?,
                   lease_owner = NULL, lease_expires_at = NULL, last_code = ?, last_reply = ?, updated_at = ?
               WHERE id = ?""",
            (status, retry_at if pending else now, last[0], last[1], now, message_id),
        )
        return AttemptOutcome(status=status, newly_failed=tuple(newly_failed), pending=pending)

    def _record_claimed(
        self,
        c: sqlite3.Connection,
        msg: ClaimedMessage,
        owner: str,
        attempt: Attempt,
        retry_at: float | None,
        now: float,
    ) -> AttemptOutcome:
        """``_record_attempt`` for a message this owner holds the lease on: nobody else changes its recipients
        meanwhile, so the claim's view of them settles the state, and the lease check rides on the update."""
        results = {r.address: r.status for r in attempt.results}
        if retry_at is None:  # lifetime over: nothing stays pending
            pending: tuple[str, ...] = ()
            failed = msg.failed_before or any(s != RecipientStatus.DELIVERED for s in results.values())
            failed = failed or any(a not in results for a in msg.recipients)
        else:
            pending = tuple(
                a for a in msg.recipients if results.get(a, RecipientStatus.PENDING) == RecipientStatus.PENDING
            )
            failed = msg.failed_before or any(
                s in (RecipientStatus.FAILED, RecipientStatus.EXPIRED) for s in results.values()
            )
        status = _message_status(pending, failed)
        last = _last_reply(attempt)
        held = c.execute(
            """UPDATE messages SET status = ?, attempts = attempts + 1, next_attempt_at = ?,
                   lease_owner = NULL, lease_expires_at = NULL, last_code = ?, last_reply = ?, updated_at = ?
               WHERE id = ? AND status = 'sending' AND lease_owner = ?""",
            (status, retry_at if pending else now, last[0], last[1], now, msg.id, owner),
        ).rowcount
        if not held:
            self._check_lease(c, msg.id, owner)  # raises: unknown message, or lease lost
            raise LeaseLostError(f"message {msg.id}: lease lost")  # pragma: no cover (the check raised)
        self._log_attempt(c, msg.id, attempt)
        newly_failed = self._settle_recipients(c, msg.id, attempt, retry_at, now)
        return AttemptOutcome(status=status, newly_failed=tuple(newly_failed), pending=pending)

    @staticmethod
    def _log_attempt(c: sqlite3.Connection, message_id: int, attempt: Attempt) -> None:
        c.execute(
            "INSERT INTO attempts(message_id, started_at, duration, relay, error, detail) VALUES (?, ?, ?, ?, ?, ?)",
            (
                message_id,
                attempt.started_at,
                attempt.duration,
                attempt.relay,
                attempt.error,
                json.dumps([r.__dict__ for r in attempt.results]),
            ),
        )

    @staticmethod
    def _settle_recipients(
        c: sqlite3.Connection, message_id: int, attempt: Attempt, retry_at: float | None, now: float
    ) -> list[Recipient]:
        """Apply each recipient's outcome; returns those that failed or expired just now."""
        newly_failed: list[Recipient] = []
        for r in attempt.results:
            status = r.status
            if status == RecipientStatus.PENDING and retry_at is None:
                status = RecipientStatus.EXPIRED
            changed = c.execute(
                """UPDATE recipients SET status = ?, code = ?, reply = ?, updated_at = ?
                   WHERE message_id = ? AND address = ? AND status = 'pending' RETURNING kind""",
                (status, r.code, r.reply, now, message_id, r.address),
            ).fetchall()
            # Only a recipient that was pending until now is newly failed (not one reported twice).
            if changed and status in (RecipientStatus.FAILED, RecipientStatus.EXPIRED):
                newly_failed.append(Recipient(r.address, changed[0][0], status, r.code, r.reply, now))
        if retry_at is None:
            # Recipients this attempt did not report on (a whole-relay failure) expire too, and are
            # reported as newly failed so the sender hears about them.
            for address, kind, code, reply in c.execute(
                """UPDATE recipients SET status = 'expired', updated_at = ?
                   WHERE message_id = ? AND status = 'pending' RETURNING address, kind, code, reply""",
                (now, message_id),
            ).fetchall():
                newly_failed.append(Recipient(address, kind, RecipientStatus.EXPIRED, code, reply, now))
        return newly_failed

    def mark_warned(self, message_id: int) -> None:
        with self._tx() as c:
            c.execute("UPDATE messages SET warned_at = ? WHERE id = ?", (self.clock.now(), message_id))

    def release(self, message_id: int, owner: str) -> None:
        """Give a lease back without an attempt (worker stopping): the message is claimable again at once."""
        with self._tx() as c:
            c.execute(
                """UPDATE messages SET status = CASE WHEN attempts = 0 THEN 'queued' ELSE 'deferred' END,
                       lease_owner = NULL, lease_expires_at = NULL, updated_at = ?
                   WHERE id = ? AND status = 'sending' AND lease_owner = ?""",
                (self.clock.now(), message_id, owner),
            )

    def release_all(self, owner: str) -> int:
        with self._tx() as c:
            return c.execute(
                """UPDATE messages SET status = CASE WHEN attempts = 0 THEN 'queued' ELSE 'deferred' END,
                       lease_owner = NULL, lease_expires_at = NULL, updated_at = ?
                   WHERE status = 'sending' AND lease_owner = ?""",
                (self.clock.now(), owner),
            ).rowcount

    def hold_due(self, until: float, reason: str, code: int | None, limit: int) -> list[tuple[int, float]]:
        """The relay is left alone until ``until``: up to ``limit`` waiting messages due before then are
        deferred to it (or to the end of their lifetime, if sooner), with ``reason`` as their last reply.

        No attempt is counted. Returns (id, next attempt) of each message changed; call again until it
        returns fewer than ``limit``. A message already waiting past ``until`` is not touched, so each spell
        of the relay's backoff writes each message at most once.
        """
        now = self.clock.now()
        with self._tx() as c:
            rows = c.execute(
                """UPDATE messages SET status = 'deferred', next_attempt_at = min(?, expires_at),
                       last_code = ?, last_reply = ?, updated_at = ?
                   WHERE id IN (SELECT id FROM messages INDEXED BY messages_due
                                 WHERE status IN ('queued', 'deferred') AND next_attempt_at < ?
                                   AND next_attempt_at < expires_at
                                 ORDER BY next_attempt_at, id LIMIT ?)
                   RETURNING id, next_attempt_at""",
                (until, code, reason, now, until, limit),
            ).fetchall()
        return [(int(r[0]), float(r[1])) for r in rows]

    def release_held(self, reason_prefix: str, limit: int) -> list[int]:
        """Undo :meth:`hold_due` (a worker starts fresh, or on another relay): up to ``limit`` messages held
        with a last reply starting ``reason_prefix`` are due now. Returns their ids; call again until fewer."""
        now = self.clock.now()
        with self._tx() as c:
            rows = c.execute(
                """UPDATE messages SET next_attempt_at = ?, updated_at = ?
                   WHERE id IN (SELECT id FROM messages INDEXED BY messages_due
                                 WHERE status IN ('queued', 'deferred') AND next_attempt_at > ?
                                   AND substr(last_reply, 1, ?) = ?
                                 ORDER BY next_attempt_at, id LIMIT ?)
                   RETURNING id""",
                (now, now, now, len(reason_prefix), reason_prefix, limit),
            ).fetchall()
        return sorted(int(r[0]) for r in rows)

    def warn_waiting(
        self,
        after_id: int,
        window: int,
        limit: int,
        delay: float,
        build: Callable[[ClaimedMessage, float | None], NewReport | None],
    ) -> WaitingScan:
        """Delay warnings for mail waiting on a relay that is left alone (no attempt is recorded to warn them).

        Looks at up to ``window`` messages after id ``after_id`` (walking ids: bounded work per call; call
        again after ``last_id`` until ``done``). Each that waits for delivery (deferred, or queued and due), is
        not a report, has not been warned, still has a pending recipient and was queued ``delay`` seconds ago
        or more is given to ``build`` (with when it was last tried, None if never); the report returned is
        queued with the null reverse-path and the message marked warned in this same transaction, so a crash
        can neither lose nor double a warning. At most ``limit`` reports per call.
        """
        now = self.clock.now()
        with self._tx() as c:
            ids = [
                r[0] for r in c.execute("SELECT id FROM messages WHERE id > ? ORDER BY id LIMIT ?", (after_id, window))
            ]
            if not ids:
                return WaitingScan(after_id, True, [], [])
            done = len(ids) < window
            due: list[int] = []
            not_yet: list[tuple[int, float]] = []  # (id, the earliest time it may call for a warning)
            for mid, status, created, next_at, lease in c.execute(
                """SELECT id, status, created_at, next_attempt_at, lease_expires_at FROM messages
                   WHERE id BETWEEN ? AND ? AND status IN ('queued', 'deferred', 'sending')
                     AND kind != 'report' AND sender != '' AND warned_at IS NULL ORDER BY id""",
                (ids[0], ids[-1]),
            ):
                if len(due) == limit:  # the next call starts here
                    ids, done = [i for i in ids if i < mid], False
                    break
                ready = created + delay
                if status == Status.SENDING:  # its attempt (or its lease running out) decides
                    not_yet.append((mid, max(ready, lease or now)))
                elif status == Status.QUEUED and next_at > now:  # not due yet: not waiting
                    not_yet.append((mid, max(ready, next_at)))
                elif now - created < delay:
                    not_yet.append((mid, ready))
                else:
                    due.append(mid)
            lifetime = self._lifetime(c)
            warned: list[tuple[int, int]] = []
            for mid in due:
                pending = tuple(
                    a
                    for (a,) in c.execute(
                        "SELECT address FROM recipients WHERE message_id = ? AND status = 'pending' ORDER BY id", (mid,)
                    )
                )
                if not pending:
                    continue
                r = c.execute(
                    """SELECT message_id, sender, raw, smtputf8, attempts, created_at, expires_at, kind, parent_id,
                              subject, (SELECT max(started_at) FROM attempts WHERE attempts.message_id = messages.id)
                       FROM messages WHERE id = ?""",
                    (mid,),
                ).fetchone()
                msg = ClaimedMessage(
                    mid, r[0], r[1], r[2], bool(r[3]), pending, r[4], r[5], r[6], r[7], r[8], None, r[9]
                )
                draft = build(msg, r[10])
                if draft is not None:
                    warned.append((mid, self._insert_report(c, draft, mid, now, lifetime, True)))
        return WaitingScan(ids[-1], done, warned, not_yet)

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
                       WHERE message_id = ? AND status IN ('failed', 'expired', 'cancelled')""",
                    (now, message_id),
                )
                c.execute("UPDATE messages SET expires_at = ? WHERE id = ?", (now + self._lifetime(c), message_id))
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


def _message_status(pending: tuple[str, ...], failed: bool) -> str:
    if pending:
        return Status.DEFERRED
    return Status.BOUNCED if failed else Status.SENT


def _last_reply(attempt: Attempt) -> tuple[int | None, str | None]:
    if attempt.error:
        failing = [r for r in attempt.results if r.code is None or r.code >= 400]
        return (failing[0].code if failing else None), attempt.error
    for r in attempt.results:
        if r.code is not None and r.code >= 400:
            return r.code, r.reply
    if attempt.results:
        return attempt.results[0].code, attempt.results[0].reply
    return None, None
