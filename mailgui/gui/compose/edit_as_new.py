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

    def text(value: object) -> str:
        # Read from a message, bodies are EncodedPayloads (as App Engine reads them); mailgui wrote them decodable.
        if isinstance(value, mail.EncodedPayload):
            try:
                return value.text_for("body")
            except mail.Error:
                return value.payload.decode("utf-8", "replace")
        return str(value or "")

    def data(value: object) -> bytes:
        decoded = value.decode() if isinstance(value, mail.EncodedPayload) else value
        return decoded.encode("utf-8") if isinstance(decoded, str) else bytes(decoded)  # type: ignore[call-overload]

    bcc = [r.address for r in detail.summary.recipients if r.kind == "bcc"]
    html = get("html")
    return DraftFields(
        sender=detail.summary.from_header or detail.summary.sender,
        to=joined(get("to")),
        cc=joined(get("cc")),
        bcc=", ".join(bcc),
        subject=str(get("subject") or ""),
        body=text(get("body")),
        html=None if html is None else text(html),
        attachments=[(a.filename, data(a.payload)) for a in (msg.attachments if hasattr(msg, "attachments") else [])],
    )
