"""Compose drafts, saved beside the queue so they survive a crash or restart."""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from mailgui.clock import Clock
from mailgui.errors import StorageError, UnknownMessageError


@dataclass
class DraftFields:
    """What a compose window holds; everything optional, nothing validated (a draft may be half written)."""

    sender: str = ""
    to: str = ""
    cc: str = ""
    bcc: str = ""
    subject: str = ""
    body: str = ""
    html: str | None = None
    attachments: list[tuple[str, bytes]] = field(default_factory=list)

    def is_empty(self) -> bool:
        return not any((self.to, self.cc, self.bcc, self.subject, self.body, self.html, self.attachments))

    def to_json(self) -> str:
        data: dict[str, Any] = {
            "sender": self.sender,
            "to": self.to,
            "cc": self.cc,
            "bcc": self.bcc,
            "subject": self.subject,
            "body": self.body,
            "html": self.html,
            "attachments": [
                {"filename": name, "data": base64.b64encode(payload).decode("ascii")}
                for name, payload in self.attachments
            ],
        }
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> DraftFields:
        data = json.loads(text)
        html = data.get("html")
        return cls(
            sender=str(data.get("sender") or ""),
            to=str(data.get("to") or ""),
            cc=str(data.get("cc") or ""),
            bcc=str(data.get("bcc") or ""),
            subject=str(data.get("subject") or ""),
            body=str(data.get("body") or ""),
            html=None if html is None else str(html),
            attachments=[(str(a["filename"]), base64.b64decode(a["data"])) for a in data.get("attachments") or []],
        )


@dataclass(frozen=True)
class Draft:
    id: int
    created_at: float
    updated_at: float
    fields: DraftFields


class DraftStore:
    conn: sqlite3.Connection
    clock: Clock
    _tx: Callable[[], AbstractContextManager[sqlite3.Connection]]

    def save_draft(self, fields: DraftFields, draft_id: int | None = None) -> int:
        """Create a draft, or overwrite ``draft_id``; returns the draft's id.

        Saving over a draft that was deleted meanwhile (sent from another window) creates a new one:
        what the user typed is never dropped.
        """
        now = self.clock.now()
        text = fields.to_json()
        with self._tx() as c:
            if draft_id is not None:
                cur = c.execute("UPDATE drafts SET fields = ?, updated_at = ? WHERE id = ?", (text, now, draft_id))
                if cur.rowcount:
                    return draft_id
            cur = c.execute("INSERT INTO drafts(created_at, updated_at, fields) VALUES (?, ?, ?)", (now, now, text))
            return int(cur.lastrowid or 0)

    def get_draft(self, draft_id: int) -> Draft:
        row = self.conn.execute(
            "SELECT id, created_at, updated_at, fields FROM drafts WHERE id = ?", (draft_id,)
        ).fetchone()
        if row is None:
            raise UnknownMessageError(f"draft: no draft {draft_id}")
        return _draft(row)

    def list_drafts(self) -> list[Draft]:
        """Every draft, most recently changed first. Drafts are few (one per unsent compose window)."""
        rows = self.conn.execute(
            "SELECT id, created_at, updated_at, fields FROM drafts ORDER BY updated_at DESC, id DESC"
        ).fetchall()
        return [_draft(r) for r in rows]

    def count_drafts(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM drafts").fetchone()[0])

    def delete_draft(self, draft_id: int) -> bool:
        with self._tx() as c:
            return c.execute("DELETE FROM drafts WHERE id = ?", (draft_id,)).rowcount > 0


def _draft(row: tuple[Any, ...]) -> Draft:
    try:
        fields = DraftFields.from_json(row[3])
    except (ValueError, KeyError, TypeError) as exc:
        raise StorageError(f"draft {row[0]}: stored fields are unreadable: {exc}") from exc
    return Draft(id=row[0], created_at=row[1], updated_at=row[2], fields=fields)
