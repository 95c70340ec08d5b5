"""The compose window's fields queued through the Mail API: the very call scripts make."""

from __future__ import annotations

from mailgui import mail
from mailgui.attachments import to_attachments
from mailgui.clock import Clock
from mailgui.gui.compose.address_field import split_entries
from mailgui.queue import Queue
from mailgui.queue.drafts import DraftFields


def queue_fields(queue: Queue, clock: Clock, fields: DraftFields, send_at: float | None = None) -> int:
    """Queue the message into ``queue`` (on its clock); returns its queue id. Raises the Mail API's errors."""
    message = mail.EmailMessage(sender=fields.sender, subject=fields.subject, body=fields.body)
    for name in ("to", "cc", "bcc"):
        entries = split_entries(getattr(fields, name))
        if entries:
            setattr(message, name, entries)
    if fields.html is not None and fields.html.strip():
        message.html = fields.html
    if fields.attachments:
        message.attachments = to_attachments(fields.attachments)
    mail.open_queue(queue.path, clock=clock)
    return message.send(db=queue.path, send_at=send_at)
