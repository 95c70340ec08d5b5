"""Mail waiting for a backed-off relay: holds (deferred to the relay's next try, no attempt counted), their
release, and delay warnings for mail held that long. Bounded batches, one short transaction each.
Mixed into :class:`mailgui.queue.Queue`."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from mailgui.clock import Clock
from mailgui.queue.connection import transaction
from mailgui.queue.records import ClaimedMessage, NewReport, Status, WaitingScan
from mailgui.queue.rows import insert_report, message_lifetime
from mailgui.queue.server_text import storable_text


class HoldStore:
    """Mixed into :class:`mailgui.queue.Queue`: the worker's writes while the relay is left alone."""

    conn: sqlite3.Connection
    path: str
    clock: Clock

    def hold_due(self, until: float, reason: str, code: int | None, limit: int) -> list[tuple[int, float]]:
        """The relay is left alone until ``until``: up to ``limit`` waiting messages due before then are
        deferred to it (or to the end of their lifetime, if sooner), with ``reason`` as their last reply.

        No attempt is counted. Returns (id, next attempt) of each message changed; call again until it
        returns fewer than ``limit``. A message already waiting past ``until`` is not touched, so each spell
        of the relay's backoff writes each message at most once.
        """
        now = self.clock.now()
        with transaction(self.conn, self.path) as c:
            rows = c.execute(
                """UPDATE messages SET status = 'deferred', next_attempt_at = min(?, expires_at),
                       last_code = ?, last_reply = ?, updated_at = ?
                   WHERE id IN (SELECT id FROM messages INDEXED BY messages_due
                                 WHERE status IN ('queued', 'deferred') AND next_attempt_at < ?
                                   AND next_attempt_at < expires_at
                                 ORDER BY next_attempt_at, id LIMIT ?)
                   RETURNING id, next_attempt_at""",
                (until, code, storable_text(reason), now, until, limit),  # the reason may quote the relay's reply
            ).fetchall()
        return [(int(r[0]), float(r[1])) for r in rows]

    def release_held(self, reason_prefix: str, limit: int) -> list[int]:
        """Undo :meth:`hold_due` (a worker starts fresh, or on another relay): up to ``limit`` messages held
        with a last reply starting ``reason_prefix`` are due now. Returns their ids; call again until fewer."""
        now = self.clock.now()
        with transaction(self.conn, self.path) as c:
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
        with transaction(self.conn, self.path) as c:
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
            lifetime = message_lifetime(c)
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
                    """SELECT message_id, sender, (SELECT raw FROM bodies WHERE bodies.id = messages.id), smtputf8, attempts, created_at, expires_at, kind, parent_id,
                              subject, (SELECT max(started_at) FROM attempts WHERE attempts.message_id = messages.id)
                       FROM messages WHERE id = ?""",
                    (mid,),
                ).fetchone()
                msg = ClaimedMessage(
                    mid, r[0], r[1], r[2], bool(r[3]), pending, r[4], r[5], r[6], r[7], r[8], None, r[9]
                )
                draft = build(msg, r[10])
                if draft is not None:
                    warned.append((mid, insert_report(c, draft, mid, now, lifetime, True)))
        return WaitingScan(ids[-1], done, warned, not_yet)
