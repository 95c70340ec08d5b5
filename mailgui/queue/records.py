"""Plain records the queue hands out and takes in. No SQL here."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from mailgui.errors import LeaseLostError, UnknownMessageError


class Status(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DEFERRED = "deferred"
    BOUNCED = "bounced"
    CANCELLED = "cancelled"


class RecipientStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    SUPPRESSED = "suppressed"  # not sent: the address is on the suppression list


# A recipient in one of these will never be delivered, and the sender hears about it.
FAILING = frozenset({RecipientStatus.FAILED, RecipientStatus.EXPIRED, RecipientStatus.SUPPRESSED})


FINAL_STATUSES = frozenset({Status.SENT, Status.BOUNCED, Status.CANCELLED})


@dataclass(frozen=True)
class Recipient:
    address: str
    kind: str
    status: str
    code: int | None = None
    reply: str | None = None
    updated_at: float | None = None
    reason: str | None = None  # bounce class (unknown_user, mailbox_full, ...) when a report said why
    report_id: int | None = None  # the report received later that failed it (a late bounce)


@dataclass(frozen=True)
class MessageSummary:
    id: int
    message_id: str
    status: str
    sender: str
    from_header: str
    subject: str
    created_at: float
    attempts: int
    next_attempt_at: float | None
    expires_at: float
    last_code: int | None
    last_reply: str | None
    kind: str
    parent_id: int | None
    recipients: tuple[Recipient, ...] = ()


@dataclass(frozen=True)
class AttemptRecord:
    id: int
    started_at: float
    duration: float
    relay: str
    error: str | None
    results: tuple[Recipient, ...]


@dataclass(frozen=True)
class MessageDetail:
    summary: MessageSummary
    raw: bytes
    attempts: tuple[AttemptRecord, ...]
    report_ids: tuple[int, ...]  # delivery reports sent about this message


@dataclass(frozen=True)
class ClaimedMessage:
    """A message leased to one worker, with only its still-pending recipients."""

    id: int
    message_id: str
    sender: str
    raw: bytes
    smtputf8: bool
    recipients: tuple[str, ...]
    attempts: int
    created_at: float
    expires_at: float
    kind: str
    parent_id: int | None
    warned_at: float | None
    subject: str = ""
    failed_before: bool = False  # a recipient failed or expired in an earlier attempt
    # Pending recipients whose address is suppressed, each with why and since when: not sent, marked suppressed.
    suppressed: tuple[Suppression, ...] = ()


@dataclass(frozen=True)
class Suppression:
    """An address mail is no longer sent to."""

    address: str
    reason: str  # in words: "unknown_user: 550 5.1.1 no such user", "complaint", what the user typed
    added_at: float
    source: str = "user"  # user | bounce | complaint
    message_id: int | None = None  # the message whose report caused it

    def note(self) -> str:
        """What a recipient that was not sent to says."""
        return f"not sent: {self.address} is suppressed ({self.reason})"


@dataclass(frozen=True)
class RecipientResult:
    """One recipient's outcome in an attempt. status is delivered, failed or pending (retry)."""

    address: str
    status: str
    code: int | None
    reply: str


@dataclass(frozen=True)
class Attempt:
    started_at: float
    duration: float
    relay: str
    results: tuple[RecipientResult, ...]
    error: str | None = None


@dataclass(frozen=True)
class AttemptOutcome:
    status: str
    newly_failed: tuple[Recipient, ...]  # failed or expired in this attempt
    pending: tuple[str, ...]


@dataclass(frozen=True)
class NewReport:
    """A delivery report to queue in the same transaction as the attempt that calls for it."""

    message_id: str
    recipient: str  # the original sender
    subject: str
    raw: bytes
    smtputf8: bool = False
    warned: bool = False  # a delay warning: mark the original as warned


@dataclass(frozen=True)
class Bounce:
    message_id: int
    address: str
    status: str
    code: int | None
    reply: str | None
    at: float | None
    sender: str
    subject: str
    reason: str | None = None  # bounce class from a report (unknown_user, ...); None: not classified in the queue
    report_id: int | None = None  # the report received later that failed it; None: refused during delivery


@dataclass(frozen=True)
class WaitingScan:
    """What one call of :meth:`WorkerSide.warn_waiting` did."""

    last_id: int  # the last id looked at: the next call starts after it
    done: bool  # no message after it
    warned: list[tuple[int, int]]  # (message id, report id) of each warning queued
    not_yet: list[tuple[int, float]]  # (id, earliest time it may call for a warning) of the others still waiting


# What recording one attempt of a batch came to: its outcome (or why it could not be recorded: the lease was lost,
# the message is gone), and the id of the report it queued, if any.
Recorded = tuple[AttemptOutcome | LeaseLostError | UnknownMessageError, int | None]
