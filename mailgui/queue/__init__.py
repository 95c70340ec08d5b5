"""The queue: the only code that touches SQLite. Everything else calls :class:`Queue`."""

from mailgui.queue.mailbox import MailboxEntry, ReceivedMessage
from mailgui.queue.records import (
    Attempt,
    AttemptOutcome,
    AttemptRecord,
    Bounce,
    ClaimedMessage,
    MessageDetail,
    MessageSummary,
    Recipient,
    RecipientResult,
    RecipientStatus,
    Status,
)
from mailgui.queue.store import Queue

__all__ = [
    "Attempt",
    "AttemptOutcome",
    "AttemptRecord",
    "Bounce",
    "ClaimedMessage",
    "MailboxEntry",
    "MessageDetail",
    "MessageSummary",
    "Queue",
    "ReceivedMessage",
    "Recipient",
    "RecipientResult",
    "RecipientStatus",
    "Status",
]
