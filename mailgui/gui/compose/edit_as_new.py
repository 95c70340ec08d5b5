"""Edit as new: the fields of a queued message, back in compose-window form."""

from __future__ import annotations

from email import message_from_bytes

from mailgui import mail
from mailgui.queue import MessageDetail
from mailgui.queue.drafts import DraftFields


def fields_of_message(detail: MessageDetail) -> DraftFields:
    """Sender, recipients (Bcc from the envelope: it is not in the headers), subject, bodies, attachments."""
    msg = mail.EmailMessage(mime_message=message_from_bytes(detail.raw))

    def get(name: str) -> object:
        return getattr(msg, name, None)  # unset fields are simply absent on an EmailMessage

    def joined(value: object) -> str:
        if value is None:
            return ""
        return value if isinstance(value, str) else ", ".join(str(v) for v in value)  # type: ignore[attr-defined]

    bcc = [r.address for r in detail.summary.recipients if r.kind == "bcc"]
    html = get("html")
    return DraftFields(
        sender=detail.summary.from_header or detail.summary.sender,
        to=joined(get("to")),
        cc=joined(get("cc")),
        bcc=", ".join(bcc),
        subject=str(get("subject") or ""),
        body=str(get("body") or ""),
        html=None if html is None else str(html),
        attachments=[(a.filename, a.payload) for a in (msg.attachments if hasattr(msg, "attachments") else [])],
    )
