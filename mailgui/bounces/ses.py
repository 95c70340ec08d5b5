"""Amazon SES notifications sent by mail (through SNS): a JSON document in a plain text body, not a MIME report.

https://docs.aws.amazon.com/ses/latest/dg/notification-contents.html
"""

from __future__ import annotations

import json
import re

from mailgui.bounces.classify import classify
from mailgui.bounces.fields import status_code, typed_value
from mailgui.bounces.report import Kind, Reason, Recipient, Report

# Lines longer than SMTP allows are broken by SNS with "!" and a folded line; undo that before reading the JSON.
_SMTP_BREAK = re.compile(r"!\r?\n ")


def read_ses(text: str) -> Report | None:
    """The report an SES notification carries, or None when the text is not one."""
    start = text.find('{"notificationType"')
    if start < 0:
        return None
    try:
        doc, _ = json.JSONDecoder().raw_decode(_SMTP_BREAK.sub("", text[start:]))
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    kind = str(doc.get("notificationType", ""))
    mail = _dict(doc.get("mail"))
    message_id = _message_id(mail)
    if kind == "Bounce":
        bounce = _dict(doc.get("bounce"))
        remote = typed_value(str(bounce.get("reportingMTA") or "")) or None
        recipients = []
        for item in _list(bounce.get("bouncedRecipients")):
            entry = _dict(item)
            address = str(entry.get("emailAddress") or "")
            if "@" not in address:
                continue
            diagnostic = typed_value(str(entry.get("diagnosticCode") or ""))
            status = status_code(str(entry.get("status") or "")) or status_code(diagnostic)
            context = f"{bounce.get('bounceType', '')} {bounce.get('bounceSubType', '')}"
            recipients.append(Recipient(address, status, classify(status, diagnostic, context), diagnostic, remote))
        return Report(Kind.BOUNCE if recipients else Kind.OTHER, tuple(recipients), message_id)
    if kind == "Complaint":
        complaint = _dict(doc.get("complaint"))
        feedback = str(complaint.get("complaintFeedbackType") or "abuse")
        recipients = [
            Recipient(str(_dict(item).get("emailAddress")), None, Reason.OTHER, f"complaint: {feedback}")
            for item in _list(complaint.get("complainedRecipients"))
            if "@" in str(_dict(item).get("emailAddress") or "")
        ]
        return Report(Kind.COMPLAINT, tuple(recipients), message_id, feedback)
    return Report(Kind.OTHER, (), message_id)


def _dict(value: object) -> dict[str, object]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def _message_id(mail: dict[str, object]) -> str | None:
    for item in _list(mail.get("headers")):
        entry = _dict(item)
        if str(entry.get("name", "")).lower() == "message-id":
            value = str(entry.get("value") or "").strip()
            return value or None
    return None
