"""The queue as the delivery worker uses it: leased claims and attempt records (with the reports they call for).
Mixed into :class:`mailgui.queue.Queue`; holds for a backed-off relay are in holds.py."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Collection, Sequence

from mailgui.clock import Clock
from mailgui.errors import LeaseLostError, UnknownMessageError
from mailgui.queue.connection import transaction
from mailgui.queue.held_batch import attempt_detail, last_reply, message_status, record_held, settle
from mailgui.queue.records import (
    FAILING,
    Attempt,
    AttemptOutcome,
    ClaimedMessage,
    NewReport,
    Recipient,
    RecipientStatus,
    Recorded,
    Status,
    Suppression,
)
from mailgui.queue.rows import insert_report, message_lifetime
from mailgui.queue.server_text import storable_attempt


class WorkerStore:
    """Mixed into :class:`mailgui.queue.Queue`: what the delivery worker writes."""

    conn: sqlite3.Connection
    path: str
    clock: Clock

    def _tx(self):  # type: ignore[no-untyped-def]
        return transaction(self.conn, self.path)

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
        # Only a message whose bytes are there (a damaged file could lack them): leased without them, it would
        # be leased again at every expiry and never sent.
        whole = "AND EXISTS (SELECT 1 FROM bodies WHERE bodies.id = messages.id)"
        # Three statements, the last one row a message (sqlite3 lets go of the GIL at every row it steps, and
        # the event loop pays for each hand-over): the ids, the lease, then everything the senders need.
        ids = c.execute(
            f"""SELECT json_group_array(id) FROM (
                   SELECT id FROM (
                       SELECT * FROM (
                           SELECT id, next_attempt_at AS due FROM messages INDEXED BY messages_due
                            WHERE status IN ('queued', 'deferred') AND next_attempt_at <= ? {expired} {whole}
                            ORDER BY next_attempt_at, id LIMIT ?)
                       UNION ALL
                       SELECT * FROM (
                           SELECT id, lease_expires_at AS due FROM messages INDEXED BY messages_lease
                            WHERE status = 'sending' AND lease_expires_at <= ? {expired} {whole}
                            ORDER BY lease_expires_at, id LIMIT ?)
                   ) ORDER BY due, id LIMIT ?)""",
            # Each side walks its partial index in due order and stops at ``limit``: without the inner
            # LIMITs (and with SQLite picking messages_status), a million queued messages were all read
            # and sorted on every claim (1.2 s each, in the GUI's event loop).
            (now, *cutoff, limit, now, *cutoff, limit, limit),
        ).fetchone()[0]
        if ids == "[]":
            return []
        c.execute(
            """UPDATE messages SET status = 'sending', lease_owner = ?, lease_expires_at = ?, updated_at = ?
               WHERE id IN (SELECT value FROM json_each(?))""",
            (owner, now + lease_seconds, now, ids),
        )
        rows = c.execute(
            """SELECT m.id, m.message_id, m.sender, b.raw, m.smtputf8, m.attempts, m.created_at, m.expires_at,
                      m.kind, m.parent_id, m.warned_at, m.subject,
                      (SELECT json_group_array(address) FROM (
                           SELECT address FROM recipients WHERE message_id = m.id AND status = 'pending' ORDER BY id)),
                      EXISTS (SELECT 1 FROM recipients WHERE message_id = m.id AND status IN ('failed', 'expired', 'suppressed')),
                      (SELECT json_group_array(json_array(r.address, s.reason, s.added_at, s.source, s.message_id))
                         FROM recipients AS r JOIN suppressions AS s ON s.address = r.address
                        WHERE r.message_id = m.id AND r.status = 'pending')
                 FROM messages AS m JOIN bodies AS b ON b.id = m.id
                WHERE m.id IN (SELECT value FROM json_each(?)) ORDER BY m.id""",
            (ids,),
        ).fetchall()
        return [
            ClaimedMessage(
                id=r[0],
                message_id=r[1],
                sender=r[2],
                raw=r[3],
                smtputf8=bool(r[4]),
                recipients=tuple(json.loads(r[12])),
                attempts=r[5],
                created_at=r[6],
                expires_at=r[7],
                kind=r[8],
                parent_id=r[9],
                warned_at=r[10],
                subject=r[11],
                failed_before=bool(r[13]),
                suppressed=tuple(Suppression(*s) for s in json.loads(r[14])) if r[14] != "[]" else (),
            )
            for r in rows
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

    def extend_leases(self, message_ids: Sequence[int], owner: str, lease_seconds: float) -> set[int]:
        """Renew ``owner``'s leases on these messages, in one transaction; returns the ids it still held (a lease
        that ran out and was taken by another worker, or whose message was settled, is not renewed)."""
        with self._tx() as c:
            rows = c.execute(
                """UPDATE messages SET lease_expires_at = ?
                    WHERE id IN (SELECT value FROM json_each(?)) AND status = 'sending' AND lease_owner = ?
                   RETURNING id""",
                (self.clock.now() + lease_seconds, json.dumps(list(message_ids)), owner),
            ).fetchall()
        return {r[0] for r in rows}

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
        attempt = storable_attempt(attempt)  # a server's words never make the write raise
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
        # A server's words (replies, errors) as storable text: a reply that is not UTF-8 never makes the write raise.
        items = [(message, storable_attempt(attempt), retry_at) for message, attempt, retry_at in items]
        with self._tx() as c:
            lifetime = message_lifetime(c) if items else 0.0
            held = record_held(c, owner, items, now)
            for index, (message, attempt, retry_at) in enumerate(items):
                outcome = held.get(index)
                if outcome is None:
                    try:
                        outcome = self._record_attempt(c, message, owner, attempt, retry_at, now)
                    except (LeaseLostError, UnknownMessageError) as exc:
                        out.append((exc, None))
                        continue
                draft = report(index, outcome) if report is not None else None
                report_id = None
                if draft is not None:
                    message_id = message if isinstance(message, int) else message.id
                    report_id = insert_report(c, draft, message_id, now, lifetime, draft.warned)
                out.append((outcome, report_id))
            claimed = self._claim_due(c, owner, claim, lease_seconds, now, False) if claim > 0 else []
        return out, claimed

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
        newly_failed = self._settle_recipients(c, message_id, attempt, retry_at, now)
        # One read for both: who is still pending, and whether anyone failed (this attempt or an earlier one).
        left = c.execute(
            "SELECT address, status FROM recipients WHERE message_id = ?"
            " AND status IN ('pending', 'failed', 'expired', 'suppressed')"
            " ORDER BY id",
            (message_id,),
        ).fetchall()
        pending = tuple(a for a, st in left if st == RecipientStatus.PENDING)
        status = message_status(pending, len(left) > len(pending))
        last = last_reply(attempt)
        c.execute(
            """UPDATE messages SET status = ?, attempts = attempts + 1, next_attempt_at = ?,
                   lease_owner = NULL, lease_expires_at = NULL, last_code = ?, last_reply = ?, updated_at = ?
               WHERE id = ?""",
            (status, retry_at if pending else now, last[0], last[1], now, message_id),
        )
        self._log_attempt(c, message_id, attempt)  # after the message's row: its event reads the next attempt
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
        status, pending = settle(msg, attempt, retry_at)
        last = last_reply(attempt)
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
                attempt_detail(attempt),
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
            if changed and status in FAILING:
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

    def release_all(self, owner: str, *, keep: Collection[int] = ()) -> int:
        """Give back every lease ``owner`` holds but those on ``keep`` (sent, outcome not recorded: given back, they
        would be sent again at once; they come back when their leases run out). Returns how many were given back."""
        with self._tx() as c:
            return c.execute(
                """UPDATE messages SET status = CASE WHEN attempts = 0 THEN 'queued' ELSE 'deferred' END,
                       lease_owner = NULL, lease_expires_at = NULL, updated_at = ?
                   WHERE status = 'sending' AND lease_owner = ? AND id NOT IN (SELECT value FROM json_each(?))""",
                (self.clock.now(), owner, json.dumps(sorted(keep))),
            ).rowcount
