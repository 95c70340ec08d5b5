"""What each cell of the queue table shows: text, tooltip, icon and colour, for one message summary.

Pure functions of a MessageSummary (and the time, for "in 4 min"), so the model stays about paging.
"""

from __future__ import annotations

from email.utils import parseaddr
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont

from mailgui.gui import status_style, timefmt
from mailgui.gui.widgets.plain import plain_tooltip
from mailgui.queue import MessageSummary

ID_ROLE = int(Qt.ItemDataRole.UserRole) + 1
SUMMARY_ROLE = int(Qt.ItemDataRole.UserRole) + 2

COLUMNS = ("State", "Created", "From", "To", "Subject", "Attempts", "Next attempt", "Last reply")
(COL_STATE, COL_CREATED, COL_FROM, COL_TO, COL_SUBJECT, COL_ATTEMPTS, COL_NEXT, COL_REPLY) = range(len(COLUMNS))

WAITING = frozenset({"queued", "deferred"})
_MUTED = QColor("#757575")


def first_recipient(summary: MessageSummary) -> str:
    """'bob@example.org +2': the first recipient and how many more."""
    if not summary.recipients:
        return ""
    more = len(summary.recipients) - 1
    return summary.recipients[0].address + (f" +{more}" if more else "")


def display_sender(from_header: str) -> str:
    name, address = parseaddr(from_header)
    return name or address or from_header


def cell_text(s: MessageSummary, col: int, now: float) -> str:
    if col == COL_STATE:
        return status_style.message_state(s.status).word
    if col == COL_CREATED:
        return timefmt.stamp(s.created_at, now)
    if col == COL_FROM:
        return display_sender(s.from_header)
    if col == COL_TO:
        return first_recipient(s)
    if col == COL_SUBJECT:
        return s.subject or "(no subject)"
    if col == COL_ATTEMPTS:
        return str(s.attempts)
    if col == COL_NEXT:
        if s.status in WAITING and s.next_attempt_at is not None:
            return "now" if s.next_attempt_at <= now else timefmt.relative(s.next_attempt_at, now)
        return "now" if s.status == "sending" else ""
    if col == COL_REPLY:
        return status_style.reply_text(s.last_code, s.last_reply)
    return ""


def cell_tooltip(s: MessageSummary, col: int) -> str | None:
    if col == COL_STATE:
        style = status_style.message_state(s.status)
        return f"{style.word}: {style.hint}"
    if col == COL_CREATED:
        return timefmt.full_stamp(s.created_at)
    if col == COL_FROM:
        return s.from_header
    if col == COL_TO:
        return "\n".join(f"{r.address} ({r.kind}): {status_style.recipient_state(r.status).word}" for r in s.recipients)
    if col == COL_NEXT and s.status in WAITING and s.next_attempt_at is not None:
        return timefmt.full_stamp(s.next_attempt_at)
    if col == COL_SUBJECT:
        return s.subject or None
    if col == COL_REPLY:
        return status_style.reply_text(s.last_code, s.last_reply) or None
    return None


def cell_data(s: MessageSummary, col: int, role: int) -> Any:
    """Every role but DisplayRole (which the model caches): icon, colour, font, alignment, tooltip."""
    if role == Qt.ItemDataRole.ToolTipRole:
        return plain_tooltip(cell_tooltip(s, col)) or None
    if col == COL_STATE:
        style = status_style.message_state(s.status)
        if role == Qt.ItemDataRole.DecorationRole:
            return style.icon
        if role == Qt.ItemDataRole.ForegroundRole:
            return style.color
        return None
    if role == Qt.ItemDataRole.TextAlignmentRole and col == COL_ATTEMPTS:
        return int(Qt.AlignmentFlag.AlignCenter)
    if role == Qt.ItemDataRole.ForegroundRole:
        if col == COL_SUBJECT and not s.subject:
            return _MUTED
        if col == COL_NEXT and s.status == "deferred":
            return status_style.message_state("deferred").color
    if role == Qt.ItemDataRole.FontRole and col == COL_SUBJECT and not s.subject:
        font = QFont()
        font.setItalic(True)
        return font
    return None
