"""What the compose window checks before sending, and which field an error from the Mail API belongs to."""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailgui.queue.drafts import DraftFields

PUBLIC_RECIPIENT_LIMIT = 10  # more To + Cc than this: suggest Bcc
_ATTACHMENT_WORDS = re.compile(r"\b(attach(ed|ing|ment|ments)?|enclosed|see the file)\b", re.IGNORECASE)

# Which field an error belongs to, from the field name every mailgui error starts with.
_ERROR_FIELDS = {
    "sender": "sender",
    "to": "to",
    "cc": "cc",
    "bcc": "bcc",
    "subject": "subject",
    "body": "body",
    "attachments": "attachments",
    "send later": "send_at",
}


def error_field(message: str) -> str | None:
    head = message.split(":", 1)[0].strip().lower()
    if head.startswith("headers"):
        return None
    return _ERROR_FIELDS.get(head)


@dataclass(frozen=True)
class PreSendCheck:
    key: str
    field: str
    text: str
    fix_label: str | None = None  # a button that fixes it instead of sending anyway


def pre_send_checks(fields: DraftFields, public_count: int) -> list[PreSendCheck]:
    """Things worth a second look before sending; each names the field it is about."""
    checks: list[PreSendCheck] = []
    if not fields.subject.strip():
        checks.append(PreSendCheck("empty-subject", "subject", "subject: the subject is empty. Send it anyway?"))
    if not fields.attachments and _ATTACHMENT_WORDS.search(fields.body + " " + (fields.html or "")):
        checks.append(
            PreSendCheck(
                "missing-attachment",
                "attachments",
                "attachments: the body mentions an attachment, but nothing is attached. Send it anyway?",
                "Attach files…",
            )
        )
    if public_count > PUBLIC_RECIPIENT_LIMIT:
        checks.append(
            PreSendCheck(
                "many-public",
                "to",
                f"to/cc: {public_count} recipients will all see each other's addresses. Put them in Bcc instead?",
                "Move them to Bcc",
            )
        )
    return checks
