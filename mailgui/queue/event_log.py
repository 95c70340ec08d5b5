"""The per-recipient event stream (`mailgui events`), written by the schema's triggers (schema v5): read here.

Every state change of a recipient of a normal message makes one event in the transaction that made the change:
queued, sent (with the relay's reply), deferred (with the reply and the next attempt), bounced (at once or
reported later, with the reason class), complained, suppressed, delayed (a delay warning went out), cancelled.
Ids only grow and are never reused, so a consumer keeps the last id it saw and asks for what came after it.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

EVENT_COLUMNS = "id, at, kind, message_id, header_message_id, recipient, code, text, reason, next_attempt_at"


@dataclass(frozen=True)
class Event:
    id: int
    at: float
    kind: str  # queued | sent | deferred | bounced | complained | suppressed | delayed | cancelled
    message_id: int  # the queue's id
    header_message_id: str  # the message's Message-ID
    recipient: str
    code: int | None
    text: str | None
    reason: str | None
    next_attempt_at: float | None

    def as_json(self) -> dict[str, object]:
        """The event as ``mailgui events --json`` prints it and a webhook receives it (times in ISO 8601, UTC)."""
        return {
            "id": self.id,
            "at": _iso(self.at),
            "event": self.kind,
            "queue_id": self.message_id,
            "message_id": self.header_message_id,
            "recipient": self.recipient,
            "code": self.code,
            "text": self.text,
            "reason": self.reason,
            "next_attempt_at": _iso(self.next_attempt_at),
        }


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


class EventLog:
    conn: sqlite3.Connection

    def events_after(self, after_id: int = 0, limit: int = 1000) -> list[Event]:
        """Events with an id above ``after_id``, oldest first, at most ``limit``."""
        rows = self.conn.execute(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit)
        ).fetchall()
        return [Event(*r) for r in rows]

    def last_event_id(self) -> int:
        return int(self.conn.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0])
