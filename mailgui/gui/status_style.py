"""How a message or recipient state looks: an icon, a colour and a word, so colour never carries meaning alone."""

from __future__ import annotations

import re
from dataclasses import dataclass

from PySide6.QtGui import QColor, QIcon

from mailgui.bounces import Kind, Reason
from mailgui.bounces.classify import classify
from mailgui.gui.resources import icon


@dataclass(frozen=True)
class StateStyle:
    word: str  # what the table shows, e.g. "Deferred"
    colour: str  # text colour, dark enough to read on white
    icon_name: str  # resources/icons/<icon_name>.svg
    hint: str  # one sentence for tooltips

    @property
    def color(self) -> QColor:
        return QColor(self.colour)

    @property
    def icon(self) -> QIcon:
        return icon(self.icon_name)


MESSAGE_STATES: dict[str, StateStyle] = {
    "queued": StateStyle("Queued", "#37474f", "status-queued", "Waiting for its first delivery attempt"),
    "sending": StateStyle("Sending", "#1565c0", "status-sending", "Being delivered right now"),
    "sent": StateStyle("Sent", "#2e7d32", "status-sent", "Every recipient's server accepted it"),
    "deferred": StateStyle("Deferred", "#e65100", "status-deferred", "A temporary failure; it will be retried"),
    "bounced": StateStyle("Bounced", "#c62828", "status-bounced", "At least one recipient failed for good"),
    "cancelled": StateStyle("Cancelled", "#616161", "status-cancelled", "Stopped by you; it will not be sent"),
}

RECIPIENT_STATES: dict[str, StateStyle] = {
    "pending": StateStyle("Pending", "#37474f", "status-queued", "Not delivered yet"),
    "delivered": StateStyle("Delivered", "#2e7d32", "status-sent", "The recipient's server accepted it"),
    "failed": StateStyle("Failed", "#c62828", "status-bounced", "The server refused it for good"),
    "expired": StateStyle("Expired", "#ad1457", "status-expired", "Gave up after retrying for too long"),
    "cancelled": StateStyle("Cancelled", "#616161", "status-cancelled", "Cancelled before delivery"),
    "suppressed": StateStyle(
        "Suppressed",
        "#6a1b9a",
        "status-suppressed",
        "Not sent: the address is on the suppression list (it bounced for good or complained)",
    ),
}

_UNKNOWN = StateStyle("Unknown", "#424242", "warning", "A state this version of mailgui does not know")


def message_state(status: str) -> StateStyle:
    return MESSAGE_STATES.get(status, _UNKNOWN)


def recipient_state(status: str) -> StateStyle:
    return RECIPIENT_STATES.get(status, _UNKNOWN)


# RFC 3463 enhanced status codes people actually meet, in words (subject.detail → reason).
_ENHANCED = {
    "1.0": "Bad address",
    "1.1": "Unknown recipient",
    "1.2": "Unknown domain",
    "1.3": "Bad address syntax",
    "1.6": "Recipient has moved",
    "1.10": "Recipient domain accepts no mail",
    "2.0": "Mailbox problem",
    "2.1": "Mailbox disabled",
    "2.2": "Mailbox full",
    "2.3": "Message too large for the mailbox",
    "3.4": "Message too large",
    "4.0": "Network or routing problem",
    "4.1": "No answer from the server",
    "4.2": "Connection dropped",
    "4.4": "Unable to route",
    "4.7": "Delivery time expired",
    "5.0": "Protocol problem",
    "7.0": "Refused by policy",
    "7.1": "Delivery not authorized",
    "7.26": "Failed sender authentication",
}


def failure_reason(status: str, code: int | None, reply: str | None) -> str:
    """A short human reason for a failed or expired recipient, from the reply's enhanced status code."""
    if status == "expired":
        return "Gave up retrying (expired)"
    text = (reply or "").strip()
    head = text.split(None, 1)[0] if text else ""
    parts = head.split(".")
    if len(parts) == 3 and all(p.isdigit() for p in parts):
        reason = _ENHANCED.get(f"{parts[1]}.{parts[2]}") or _ENHANCED.get(f"{parts[1]}.0")
        if reason:
            return reason
    if code is not None:
        return "Refused by the server" if code >= 500 else "Temporary failure"
    return "Delivery failed"


def reply_text(code: int | None, reply: str | None) -> str:
    """'550 5.1.1 User unknown' from a code and a reply; '' when there is neither."""
    reply = " ".join((reply or "").split())
    if code is None:
        return reply
    return f"{code} {reply}".strip()


# The bounce classes of mailgui.bounces, as people say them.
REASON_WORDS: dict[str, str] = {
    Reason.UNKNOWN_USER: "Unknown user",
    Reason.MAILBOX_FULL: "Mailbox full",
    Reason.DOMAIN_NOT_FOUND: "Domain not found",
    Reason.BLOCKED: "Blocked",
    Reason.TOO_LARGE: "Too large",
    Reason.EXPIRED: "Expired",
    Reason.OTHER: "Other",
}

REPORT_KINDS: dict[str, str] = {
    Kind.BOUNCE: "Bounce",
    Kind.DELAY: "Delay notice",
    Kind.AUTO_REPLY: "Auto-reply",
    Kind.COMPLAINT: "Complaint",
    Kind.OTHER: "Other mail",
}

_ENHANCED_CODE = re.compile(r"[245]\.\d{1,3}\.\d{1,3}")


def bounce_class(status: str, code: int | None, reply: str | None, reason: str | None) -> str:
    """The reason class of a failed recipient: the one a report gave, else read from the relay's reply (a
    refusal during delivery is classified the same way as a report)."""
    if reason:
        return reason
    if status == "expired":
        return Reason.EXPIRED.value
    text = (reply or "").strip()
    head = text.split(None, 1)[0] if text else ""
    enhanced = head if _ENHANCED_CODE.fullmatch(head) else None
    return classify(enhanced, reply_text(code, reply)).value


def reason_words(reason: str) -> str:
    return REASON_WORDS.get(reason, reason.replace("_", " ").capitalize())


def report_kind_words(kind: str) -> str:
    return REPORT_KINDS.get(kind, kind.replace("_", " ").capitalize())
