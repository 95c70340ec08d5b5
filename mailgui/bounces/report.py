"""What a parsed message is: the report that `parse_report` returns, and its stable JSON shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Kind(StrEnum):
    """What a message is, as far as bounces go."""

    BOUNCE = "bounce"  # one or more recipients failed for good
    DELAY = "delay"  # an `Action: delayed` report: still being tried, not a failure
    AUTO_REPLY = "auto_reply"  # RFC 3834 vacation / out of office: never a bounce
    COMPLAINT = "complaint"  # an ARF (RFC 5965) feedback report: the recipient marked the mail as spam
    OTHER = "other"  # not a report: left alone


class Reason(StrEnum):
    """Why a recipient failed, in classes a user understands."""

    UNKNOWN_USER = "unknown_user"
    MAILBOX_FULL = "mailbox_full"
    DOMAIN_NOT_FOUND = "domain_not_found"
    BLOCKED = "blocked"  # spam, policy, reputation, authentication (DMARC/SPF/DKIM)
    TOO_LARGE = "too_large"
    EXPIRED = "expired"
    OTHER = "other"


@dataclass(frozen=True)
class Recipient:
    """One recipient a report is about: failed (bounce), delayed (delay) or complained (complaint)."""

    address: str
    status: str | None  # RFC 3463 status code ("5.1.1") found in the report, or None
    reason: Reason
    diagnostic: str  # what the remote server (or the reporting MTA) said, one line
    remote_mta: str | None = None


@dataclass(frozen=True)
class Report:
    kind: Kind
    recipients: tuple[Recipient, ...] = ()
    original_message_id: str | None = None  # Message-ID of the message the report is about, with its <>
    feedback_type: str | None = field(default=None)  # complaints: ARF Feedback-Type ("abuse", ...)


def report_json(file: str, report: Report) -> dict[str, object]:
    """The shape `mailgui bounces parse --json` prints, one object per file: scripts rely on it, keep it stable."""
    return {
        "file": file,
        "kind": report.kind.value,
        "recipients": [
            {"address": r.address, "status": r.status, "reason": r.reason.value, "diagnostic": r.diagnostic}
            for r in report.recipients
        ],
        "original_message_id": report.original_message_id,
    }


_OWN_REPORT = b"\nX-Mailgui-Queue-ID:"


def is_own_report(raw: bytes) -> bool:
    """A delivery report mailgui itself wrote (its delivery-status part names the queue id): it is for the sender
    to read, so a mailbox reader leaves it alone rather than record it as a report received."""
    return _OWN_REPORT in raw[: 1 << 20].replace(b"\r\n", b"\n")
