"""The queue: the only code that touches SQLite.

Everything else calls it through the Protocols in :mod:`mailgui.queue.interface` (the side it uses:
:class:`EnqueueSide`, :class:`WorkerSide`, :class:`QueueViews`, ...). :class:`Queue` is the SQLite backend
that implements them all; only the code that opens a queue names it."""

from mailgui.queue.drafts import Draft, DraftFields
from mailgui.queue.event_log import Event
from mailgui.queue.interface import (
    Drafts,
    EnqueueSide,
    EventStream,
    LateReports,
    LocalMailbox,
    QueueBackend,
    QueueViews,
    SettingsAndSenders,
    UserActions,
    WorkerSide,
)
from mailgui.queue.late_reports import ReceivedReport, ReportedRecipient, SoftRule
from mailgui.queue.mailbox import MailboxEntry, ReceivedMessage
from mailgui.queue.records import (
    Attempt,
    AttemptOutcome,
    AttemptRecord,
    Bounce,
    ClaimedMessage,
    MessageDetail,
    MessageSummary,
    NewReport,
    Recipient,
    RecipientResult,
    RecipientStatus,
    Recorded,
    Status,
    Suppression,
    WaitingScan,
)
from mailgui.queue.store import Queue

__all__ = [
    "Attempt",
    "AttemptOutcome",
    "AttemptRecord",
    "Bounce",
    "ClaimedMessage",
    "Draft",
    "DraftFields",
    "Drafts",
    "EnqueueSide",
    "Event",
    "EventStream",
    "LateReports",
    "LocalMailbox",
    "MailboxEntry",
    "MessageDetail",
    "MessageSummary",
    "NewReport",
    "Queue",
    "QueueBackend",
    "QueueViews",
    "ReceivedMessage",
    "ReceivedReport",
    "Recipient",
    "RecipientResult",
    "RecipientStatus",
    "Recorded",
    "ReportedRecipient",
    "SettingsAndSenders",
    "SoftRule",
    "Status",
    "Suppression",
    "UserActions",
    "WaitingScan",
    "WorkerSide",
]
