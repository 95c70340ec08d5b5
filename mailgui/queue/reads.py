"""Read queries for lists and details: keyset paging, filter by status, search, counts."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from mailgui.errors import UnknownMessageError
from mailgui.queue.records import AttemptRecord, Bounce, MessageDetail, MessageSummary, Recipient

_SUMMARY_COLUMNS = (
    "m.id, m.message_id, m.status, m.sender, m.from_header, m.subject, m.created_at, m.attempts, "
    "m.next_attempt_at, m.expires_at, m.last_code, m.last_reply, m.kind, m.parent_id"
)


def id_range(
    column: str, after_id: int | None, before_id: int | None, clauses: list[str], params: list[object]
) -> None:
    """Add the keyset bounds ``column > after_id`` and ``column < before_id`` (each only when given)."""
    if after_id is not None:
        clauses.append(f"{column} > ?")
        params.append(after_id)
    if before_id is not None:
        clauses.append(f"{column} < ?")
        params.append(before_id)


def _where(
    statuses: Sequence[str] | None,
    search: str | None,
    after_id: int | None = None,
    before_id: int | None = None,
) -> tuple[str, list[object]]:
    clauses: list[str] = []
    params: list[object] = []
    id_range("m.id", after_id, before_id, clauses, params)
    if statuses:
        clauses.append(f"m.status IN ({','.join('?' * len(statuses))})")
        params.extend(statuses)
    if search:
        like = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        clauses.append(
            "(m.subject LIKE ? ESCAPE '\\' OR m.sender LIKE ? ESCAPE '\\' OR EXISTS ("
            "SELECT 1 FROM recipients r WHERE r.message_id = m.id AND r.address LIKE ? ESCAPE '\\'))"
        )
        params.extend([like, like, like])
    return (" AND ".join(clauses) or "1"), params


def _statuses(status: str | Iterable[str] | None) -> list[str] | None:
    if status is None:
        return None
    return [status] if isinstance(status, str) else list(status)


class QueueReads:
    conn: sqlite3.Connection

    def data_version(self) -> int:
        """Changes when another connection commits: a cheap way to notice other processes' writes."""
        return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    def counts_by_status(self) -> dict[str, int]:
        return dict(self.conn.execute("SELECT status, count(*) FROM messages GROUP BY status").fetchall())

    def count_messages(
        self,
        status: str | Iterable[str] | None = None,
        search: str | None = None,
        *,
        after_id: int | None = None,
        before_id: int | None = None,
    ) -> int:
        """How many messages match; with ``after_id`` only those newer than it (which is the row of message
        ``after_id`` in a newest-first list), with ``before_id`` only older ones. A range on the id: cheap
        when the range is short."""
        where, params = _where(_statuses(status), search, after_id, before_id)
        return int(self.conn.execute(f"SELECT count(*) FROM messages m WHERE {where}", params).fetchone()[0])

    def list_messages(
        self,
        status: str | Iterable[str] | None = None,
        search: str | None = None,
        *,
        limit: int = 100,
        before_id: int | None = None,
        after_id: int | None = None,
        newest_first: bool = True,
        offset: int = 0,
    ) -> list[MessageSummary]:
        """A page of messages. Keyset paging: pass the last id seen as ``before_id`` (newest first) or
        ``after_id`` (oldest first). ``offset`` is for jumping to an arbitrary row."""
        where, params = _where(_statuses(status), search, after_id, before_id)
        order = "DESC" if newest_first else "ASC"
        rows = self.conn.execute(
            f"SELECT {_SUMMARY_COLUMNS} FROM messages m WHERE {where} ORDER BY m.id {order} LIMIT ? OFFSET ?",
            [*params, limit, offset],
        ).fetchall()
        return self._summaries(rows)

    def message_ids(
        self,
        status: str | Iterable[str] | None = None,
        search: str | None = None,
        *,
        after_id: int | None = None,
        before_id: int | None = None,
    ) -> list[int]:
        """The ids of every matching message, newest first. A search must scan the table anyway; finding all
        its matches once (off the GUI thread) lets a view read any page of them by id afterwards."""
        where, params = _where(_statuses(status), search, after_id, before_id)
        return [
            r[0] for r in self.conn.execute(f"SELECT m.id FROM messages m WHERE {where} ORDER BY m.id DESC", params)
        ]

    def get_summaries(self, ids: Sequence[int]) -> list[MessageSummary]:
        """Fresh rows for the given ids (in id order), in one query: for refreshing the rows on screen."""
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = self.conn.execute(
            f"SELECT {_SUMMARY_COLUMNS} FROM messages m WHERE m.id IN ({marks}) ORDER BY m.id", list(ids)
        ).fetchall()
        return self._summaries(rows)

    def _summaries(self, rows: list[tuple[Any, ...]]) -> list[MessageSummary]:
        if not rows:
            return []
        ids = [r[0] for r in rows]
        recipients: dict[int, list[Recipient]] = {i: [] for i in ids}
        marks = ",".join("?" * len(ids))
        for mid, addr, kind, status, code, reply, updated, reason, report_id in self.conn.execute(
            "SELECT message_id, address, kind, status, code, reply, updated_at, reason, report_id FROM recipients"
            f" WHERE message_id IN ({marks}) ORDER BY id",
            ids,
        ):
            recipients[mid].append(Recipient(addr, kind, status, code, reply, updated, reason, report_id))
        return [
            MessageSummary(
                id=r[0],
                message_id=r[1],
                status=r[2],
                sender=r[3],
                from_header=r[4],
                subject=r[5],
                created_at=r[6],
                attempts=r[7],
                next_attempt_at=r[8],
                expires_at=r[9],
                last_code=r[10],
                last_reply=r[11],
                kind=r[12],
                parent_id=r[13],
                recipients=tuple(recipients[r[0]]),
            )
            for r in rows
        ]

    def get_message(self, message_id: int) -> MessageDetail:
        rows = self.conn.execute(f"SELECT {_SUMMARY_COLUMNS} FROM messages m WHERE m.id = ?", (message_id,)).fetchall()
        if not rows:
            raise UnknownMessageError(f"id: no message {message_id} in the queue")
        summary = self._summaries(rows)[0]
        body = self.conn.execute("SELECT raw FROM bodies WHERE id = ?", (message_id,)).fetchone()
        raw = body[0] if body is not None else b""  # a damaged file may lack the bytes; the rest still shows
        attempts = tuple(
            AttemptRecord(
                id=a[0],
                started_at=a[1],
                duration=a[2],
                relay=a[3],
                error=a[4],
                results=tuple(
                    Recipient(d["address"], "", d["status"], d["code"], d["reply"]) for d in json.loads(a[5])
                ),
            )
            for a in self.conn.execute(
                "SELECT id, started_at, duration, relay, error, detail FROM attempts WHERE message_id = ? ORDER BY id",
                (message_id,),
            )
        )
        reports = tuple(
            r[0] for r in self.conn.execute("SELECT id FROM messages WHERE parent_id = ? ORDER BY id", (message_id,))
        )
        return MessageDetail(summary=summary, raw=bytes(raw), attempts=attempts, report_ids=reports)

    def list_bounces(self, *, limit: int = 100, offset: int = 0) -> list[Bounce]:
        """Failed recipients of ordinary messages, newest first: refused during delivery, expired, or reported
        later (``report_id`` names the report)."""
        rows = self.conn.execute(
            """SELECT r.message_id, r.address, r.status, r.code, r.reply, r.updated_at, m.sender, m.subject,
                      r.reason, r.report_id
               FROM recipients r JOIN messages m ON m.id = r.message_id
               WHERE r.status IN ('failed', 'expired') AND m.kind = 'normal'
               ORDER BY r.updated_at DESC, r.id DESC LIMIT ? OFFSET ?""",
            (limit, offset),
        ).fetchall()
        return [Bounce(*r) for r in rows]

    def count_deferred_since(self, since: float) -> int:
        """Normal messages deferred now whose latest attempt ended after ``since`` (new deferrals since then)."""
        return int(
            self.conn.execute(
                """SELECT count(*) FROM messages m WHERE m.status = 'deferred' AND m.kind = 'normal'
                   AND EXISTS (SELECT 1 FROM attempts a WHERE a.message_id = m.id AND a.started_at + a.duration > ?)""",
                (since,),
            ).fetchone()[0]
        )

    def count_bounces(self) -> int:
        return int(
            self.conn.execute(
                """SELECT count(*) FROM recipients r JOIN messages m ON m.id = r.message_id
                   WHERE r.status IN ('failed', 'expired') AND m.kind = 'normal'"""
            ).fetchone()[0]
        )

    def count_reports(self, *, unmatched: bool = False, kind: str | None = None) -> int:
        """Reports received by mail; ``unmatched``: only those about no message of this queue; ``kind``: only
        bounces, complaints, ... (``mailgui.bounces.Kind``)."""
        clauses = ["message_id IS NULL"] if unmatched else []
        params: list[object] = []
        if kind is not None:
            clauses.append("kind = ?")
            params.append(kind)
        where = " AND ".join(clauses) or "1"
        return int(self.conn.execute(f"SELECT count(*) FROM reports WHERE {where}", params).fetchone()[0])
