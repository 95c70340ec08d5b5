"""Reports that come back by mail, matched to what was sent, and the suppression list they feed.

A relay answers ``250`` and the bounce comes minutes or days later, as mail to the envelope sender. A reader (the
IMAP reader, the local mailbox, ``mailgui bounces read``) parses it (``mailgui.bounces``) and hands it here:
:meth:`ReportStore.record_report` keeps it (once: the same bytes twice change nothing twice), finds the message it
is about (a VERP id the caller has verified, else the Message-ID it names), marks each failed recipient that the
relay had taken as failed "reported later", logs that in the message's attempts, settles the message's state, and
suppresses addresses that are dead (a hard bounce, a complaint, or soft bounces piling up). A report that matches
nothing is kept, unmatched, never dropped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from email import message_from_bytes, policy

from mailgui.bounces import Kind, Reason, Report
from mailgui.bounces.verp import verp_id as read_verp_id
from mailgui.clock import Clock
from mailgui.errors import QueueError
from mailgui.queue.connection import transaction
from mailgui.queue.records import NewReport, Suppression
from mailgui.queue.rows import insert_report, message_lifetime
from mailgui.queue.server_text import storable_text

log = logging.getLogger(__name__)

VERP_KEY = "bounces.verp_key"  # in the settings table, not a setting: never listed, never set by hand
HARD = frozenset({Reason.UNKNOWN_USER, Reason.DOMAIN_NOT_FOUND})  # dead for good: suppressed at the first report
SOFT = frozenset({Reason.MAILBOX_FULL, Reason.BLOCKED})  # suppressed once they pile up (see SoftRule)
MAX_STORED_REPORT = 1 << 20  # bytes of a report kept in the queue; the rest is cut (a 20 MB report returns it all)


@dataclass(frozen=True)
class SoftRule:
    """Soft bounces (mailbox full, blocked) suppress an address once ``limit`` came within ``window`` seconds."""

    limit: int = 3
    window: float = 7 * 86400.0


@dataclass(frozen=True)
class ReportedRecipient:
    address: str
    status: str | None  # RFC 3463, "5.1.1"
    reason: str
    diagnostic: str
    applied: bool  # it changed a recipient of the matched message (False: unknown there, or not delivered)


@dataclass(frozen=True)
class LateOriginal:
    """The message a report received later is about, as a report to its sender needs it."""

    id: int  # the queue's, named as ClaimedMessage names it: a report is written from either the same way
    message_id: str
    sender: str
    subject: str
    created_at: float
    expires_at: float
    raw: bytes
    smtputf8: bool


# Writes the sender's own report about recipients a report received later failed (delivery/reporting.py).
ReportWriter = Callable[[LateOriginal, list["ReportedRecipient"], float], NewReport | None]


@dataclass(frozen=True)
class ReceivedReport:
    id: int
    received_at: float
    source: str
    kind: str
    message_id: int | None  # the queue's id of the message it is about; None: unmatched
    original_message_id: str | None
    from_header: str
    subject: str
    recipients: tuple[ReportedRecipient, ...]
    duplicate: bool = False  # record_report: these bytes had been recorded before; nothing changed


def _header(raw: bytes, name: str) -> str:
    try:
        value = message_from_bytes(raw[:65536], policy=policy.default).get(name, "")
        return " ".join(str(value).split())[:500]
    except Exception:  # a header the stdlib cannot read is shown as missing, never a failure to record
        return ""


class ReportStore:
    conn: sqlite3.Connection
    path: str
    clock: Clock

    def _tx(self):  # type: ignore[no-untyped-def]
        return transaction(self.conn, self.path)

    # -- reports ----------------------------------------------------------------------------------------
    def record_report(
        self,
        raw: bytes,
        report: Report,
        source: str,
        *,
        verp_id: int | None = None,
        soft: SoftRule | None = None,
        report_writer: ReportWriter | None = None,
    ) -> ReceivedReport:
        """Keep ``report`` (parsed from ``raw``) and apply it to the message it is about, in one transaction.

        ``verp_id``: the queue id a verified VERP return address names (the caller checks its token). Recording
        the same bytes again returns the first record with ``duplicate=True`` and changes nothing.

        ``report_writer``: when the report was matched by VERP, the relay's own report went to the VERP address,
        not to the sender; this writes mailgui's report to the sender, queued in the same transaction."""
        digest = hashlib.sha256(raw).hexdigest()
        now = self.clock.now()
        soft = soft or SoftRule()
        with self._tx() as c:
            row = c.execute("SELECT id FROM reports WHERE digest = ?", (digest,)).fetchone()
            if row is not None:
                return self._report(c, int(row[0]), duplicate=True)
            if verp_id is None:
                verp_id = self._verp_id(c, raw, source)
            message_id = self._match(c, verp_id, report.original_message_id)
            by_verp = verp_id is not None and message_id == verp_id
            stored = raw if len(raw) <= MAX_STORED_REPORT else raw[:MAX_STORED_REPORT]
            cur = c.execute(
                """INSERT INTO reports(received_at, source, digest, kind, message_id, original_message_id,
                                       from_header, subject, detail, raw)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, '[]', ?)""",
                (
                    now,
                    source,
                    digest,
                    report.kind.value,
                    message_id,
                    storable_text(report.original_message_id),
                    _header(raw, "From"),
                    _header(raw, "Subject"),
                    stored,
                ),
            )
            report_id = int(cur.lastrowid or 0)
            applied: list[ReportedRecipient] = []
            for r in report.recipients:
                changed = False
                if message_id is not None and report.kind == Kind.BOUNCE:
                    changed = self._fail_recipient(
                        c, message_id, report_id, r.address, r.status, r.reason, r.diagnostic, now
                    )
                if message_id is not None and report.kind in (Kind.BOUNCE, Kind.COMPLAINT):
                    self._maybe_suppress(c, report, r.address, r.reason, r.diagnostic, message_id, soft, now)
                applied.append(
                    ReportedRecipient(r.address, r.status, r.reason.value, storable_text(r.diagnostic), changed)
                )
            c.execute(
                "UPDATE reports SET detail = ? WHERE id = ?",
                (json.dumps([a.__dict__ for a in applied]), report_id),
            )
            if message_id is not None and any(a.applied for a in applied):
                self._log_late_attempt(c, message_id, report_id, source, applied, now)
                self._settle_message(c, message_id, now)
                if by_verp and report_writer is not None:
                    self._tell_sender(c, message_id, [a for a in applied if a.applied], report_writer, now)
            return self._report(c, report_id)

    def verp_key(self) -> bytes:
        """The key VERP tokens are made with: made at first use, kept in the queue, never shown."""
        with self._tx() as c:
            return self._verp_key(c)

    @staticmethod
    def _verp_key(c: sqlite3.Connection) -> bytes:
        c.execute(
            "INSERT INTO settings(key, value) VALUES (?, ?) ON CONFLICT DO NOTHING", (VERP_KEY, secrets.token_hex(32))
        )
        return bytes.fromhex(c.execute("SELECT value FROM settings WHERE key = ?", (VERP_KEY,)).fetchone()[0])

    def _verp_id(self, c: sqlite3.Connection, raw: bytes, source: str) -> int | None:
        """The message a VERP address in the report's head names (To, Delivered-To, X-Original-To, an ARF's
        Original-Mail-From...), if VERP is on; a forged one is logged and ignored."""
        row = c.execute("SELECT value FROM settings WHERE key = 'bounces.return_path'").fetchone()
        return_path = row[0] if row else ""
        if not return_path or "@" not in return_path:
            return None
        key = self._verp_key(c)
        local, _, domain = return_path.rpartition("@")
        text = raw[:65536].decode("utf-8", "replace")
        pattern = re.compile(rf"{re.escape(local)}\+[0-9]{{1,18}}-[0-9a-f]+@{re.escape(domain)}", re.IGNORECASE)
        for candidate in pattern.findall(text):
            try:
                found = read_verp_id(candidate, return_path, key)
            except ValueError as exc:
                log.warning("report from %s: a forged VERP address is ignored: %s", source, exc)
                continue
            if found is not None:
                return found
        return None

    @staticmethod
    def _match(c: sqlite3.Connection, verp_id: int | None, original: str | None) -> int | None:
        if verp_id is not None:
            row = c.execute("SELECT id FROM messages WHERE id = ? AND kind = 'normal'", (verp_id,)).fetchone()
            return None if row is None else int(row[0])
        if not original:
            return None
        row = c.execute(
            "SELECT id FROM messages WHERE message_id = ? AND kind = 'normal' ORDER BY id DESC LIMIT 1", (original,)
        ).fetchone()
        return None if row is None else int(row[0])

    @staticmethod
    def _fail_recipient(
        c: sqlite3.Connection,
        message_id: int,
        report_id: int,
        address: str,
        status: str | None,
        reason: Reason,
        diagnostic: str,
        now: float,
    ) -> bool:
        """The relay took it (``delivered``) and it bounced later: ``failed``, with the report as its source."""
        reply = storable_text(" ".join(part for part in (status or "", diagnostic) if part) or "bounced later")
        return (
            c.execute(
                """UPDATE recipients SET status = 'failed', code = NULL, reply = ?, reason = ?, report_id = ?,
                          updated_at = ?
                    WHERE message_id = ? AND address = ? COLLATE NOCASE AND status = 'delivered'""",
                (reply, reason.value, report_id, now, message_id, address),
            ).rowcount
            > 0
        )

    @staticmethod
    def _tell_sender(
        c: sqlite3.Connection, message_id: int, failed: list[ReportedRecipient], writer: ReportWriter, now: float
    ) -> None:
        row = c.execute(
            """SELECT m.id, m.message_id, m.sender, m.subject, m.created_at, m.expires_at, b.raw, m.smtputf8
                 FROM messages AS m JOIN bodies AS b ON b.id = m.id WHERE m.id = ?""",
            (message_id,),
        ).fetchone()
        if row is None or not row[2]:
            return  # a null sender is told nothing (no loops)
        original = LateOriginal(row[0], row[1], row[2], row[3], row[4], row[5], bytes(row[6]), bool(row[7]))
        draft = writer(original, failed, now)
        if draft is not None:
            insert_report(c, draft, message_id, now, message_lifetime(c), False)

    @staticmethod
    def _log_late_attempt(
        c: sqlite3.Connection,
        message_id: int,
        report_id: int,
        source: str,
        applied: list[ReportedRecipient],
        now: float,
    ) -> None:
        detail = [
            {"address": a.address, "status": "failed", "code": None, "reply": f"reported later: {a.diagnostic}"}
            for a in applied
            if a.applied
        ]
        c.execute(
            "INSERT INTO attempts(message_id, started_at, duration, relay, error, detail) VALUES (?, ?, 0, ?, NULL, ?)",
            (message_id, now, f"report #{report_id} received later ({source})", json.dumps(detail)),
        )

    @staticmethod
    def _settle_message(c: sqlite3.Connection, message_id: int, now: float) -> None:
        """A sent message whose recipients all failed now is bounced; one with some delivered stays sent (its
        recipients show which bounced)."""
        counts = dict(
            c.execute(
                "SELECT status, count(*) FROM recipients WHERE message_id = ? GROUP BY status", (message_id,)
            ).fetchall()
        )
        if counts.get("delivered", 0) == 0 and counts.get("pending", 0) == 0:
            row = c.execute(
                "SELECT reply FROM recipients WHERE message_id = ? AND report_id IS NOT NULL ORDER BY updated_at DESC",
                (message_id,),
            ).fetchone()
            c.execute(
                """UPDATE messages SET status = 'bounced', last_code = NULL, last_reply = ?, updated_at = ?
                   WHERE id = ? AND status = 'sent'""",
                (f"reported later: {row[0]}" if row else "reported later", now, message_id),
            )

    def _maybe_suppress(
        self,
        c: sqlite3.Connection,
        report: Report,
        address: str,
        reason: Reason,
        diagnostic: str,
        message_id: int,
        soft: SoftRule,
        now: float,
    ) -> None:
        if report.kind == Kind.COMPLAINT:
            why, source = "the recipient marked a message as spam (complaint)", "complaint"
        elif reason in HARD:
            why, source = f"{reason.value}: {diagnostic}", "bounce"
        elif reason in SOFT:
            seen = c.execute(
                """SELECT count(*) FROM recipients
                    WHERE address = ? COLLATE NOCASE AND reason IN ('mailbox_full', 'blocked') AND updated_at >= ?""",
                (address, now - soft.window),
            ).fetchone()[0]
            if seen < soft.limit:
                return
            why, source = (
                f"{seen} soft bounces within {soft.window / 86400:g} days ({reason.value}: {diagnostic})",
                "bounce",
            )
        else:
            return
        c.execute(
            """INSERT INTO suppressions(address, reason, added_at, message_id, source) VALUES (?, ?, ?, ?, ?)
               ON CONFLICT DO NOTHING""",
            (address, storable_text(why)[:500], now, message_id, source),
        )

    def _report(self, c: sqlite3.Connection, report_id: int, duplicate: bool = False) -> ReceivedReport:
        row = c.execute(
            """SELECT id, received_at, source, kind, message_id, original_message_id, from_header, subject, detail
                 FROM reports WHERE id = ?""",
            (report_id,),
        ).fetchone()
        if row is None:
            raise QueueError(f"report {report_id} does not exist")
        recipients = tuple(ReportedRecipient(**d) for d in json.loads(row[8]))
        return ReceivedReport(
            id=row[0],
            received_at=row[1],
            source=row[2],
            kind=row[3],
            message_id=row[4],
            original_message_id=row[5],
            from_header=row[6],
            subject=row[7],
            recipients=recipients,
            duplicate=duplicate,
        )

    def get_report(self, report_id: int) -> ReceivedReport:
        return self._report(self.conn, report_id)

    def report_raw(self, report_id: int) -> bytes:
        row = self.conn.execute("SELECT raw FROM reports WHERE id = ?", (report_id,)).fetchone()
        if row is None:
            raise QueueError(f"report {report_id} does not exist")
        return bytes(row[0])

    def list_reports(self, *, unmatched: bool = False, limit: int = 100, offset: int = 0) -> list[ReceivedReport]:
        """Reports received, newest first; ``unmatched``: only those about no message of this queue."""
        where = "WHERE message_id IS NULL" if unmatched else ""
        ids = [
            int(r[0])
            for r in self.conn.execute(
                f"SELECT id FROM reports {where} ORDER BY received_at DESC, id DESC LIMIT ? OFFSET ?", (limit, offset)
            )
        ]
        return [self._report(self.conn, i) for i in ids]

    # -- one reader per queue ---------------------------------------------------------------------------
    def take_lease(self, name: str, owner: str, seconds: float) -> bool:
        """Hold the job ``name`` for ``owner`` for ``seconds`` from now, if nobody else holds it (or their hold
        ran out); True if ``owner`` holds it now. Several workers on one queue file read its bounce mailbox once."""
        now = self.clock.now()
        with self._tx() as c:
            return (
                c.execute(
                    """INSERT INTO leases(name, owner, until) VALUES (?, ?, ?)
                       ON CONFLICT(name) DO UPDATE SET owner = excluded.owner, until = excluded.until
                       WHERE leases.owner = excluded.owner OR leases.until <= ?""",
                    (name, owner, now + seconds, now),
                ).rowcount
                > 0
            )

    def drop_lease(self, name: str, owner: str) -> None:
        with self._tx() as c:
            c.execute("DELETE FROM leases WHERE name = ? AND owner = ?", (name, owner))

    # -- the suppression list ---------------------------------------------------------------------------
    def add_suppression(self, address: str, reason: str = "added by hand") -> bool:
        """Suppress ``address`` (compared without case); False if it already was."""
        with self._tx() as c:
            return (
                c.execute(
                    "INSERT INTO suppressions(address, reason, added_at, source) VALUES (?, ?, ?, 'user')"
                    " ON CONFLICT DO NOTHING",
                    (address, reason, self.clock.now()),
                ).rowcount
                > 0
            )

    def remove_suppressions(self, addresses: list[str]) -> int:
        """Lift the suppression of each of ``addresses``; how many were suppressed."""
        with self._tx() as c:
            return sum(c.execute("DELETE FROM suppressions WHERE address = ?", (a,)).rowcount for a in addresses)

    def list_suppressions(self, search: str = "") -> list[Suppression]:
        like = f"%{search.replace('%', '').replace('_', '')}%"
        return [
            Suppression(*r)
            for r in self.conn.execute(
                """SELECT address, reason, added_at, source, message_id FROM suppressions
                    WHERE address LIKE ? ORDER BY added_at DESC, address""",
                (like,),
            )
        ]

    def suppression_of(self, address: str) -> Suppression | None:
        row = self.conn.execute(
            "SELECT address, reason, added_at, source, message_id FROM suppressions WHERE address = ?", (address,)
        ).fetchone()
        return None if row is None else Suppression(*row)
