"""The public Mail API, modelled on Google App Engine's, so code written for it runs unchanged.

``send()`` validates, writes the message durably to the queue and returns; a worker delivers it later.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any

from mailgui.addresses import check_email_valid, invalid_email_reason, is_email_valid
from mailgui.attachments import Attachment, to_attachments
from mailgui.clock import Clock, SystemClock
from mailgui.errors import (
    BadRequestError,
    Error,
    InvalidAttachmentTypeError,
    InvalidEmailError,
    InvalidHeaderNameError,
    InvalidHeaderValueError,
    InvalidSenderError,
    MissingBodyError,
    MissingRecipientsError,
    MissingSenderError,
    MissingSubjectError,
    PayloadEncodingError,
    UnknownCharsetError,
    UnknownEncodingError,
)
from mailgui.message import (
    EncodedPayload,
    MessageFields,
    OutgoingMessage,
    build_message,
    fields_from_mime,
    to_headers,
)
from mailgui.paths import default_db_path
from mailgui.queue import Queue, QueueBackend

__all__ = [
    "Attachment",
    "BadRequestError",
    "EmailMessage",
    "EncodedPayload",
    "Error",
    "InvalidAttachmentTypeError",
    "InvalidEmailError",
    "InvalidHeaderNameError",
    "InvalidHeaderValueError",
    "InvalidSenderError",
    "MissingBodyError",
    "MissingRecipientsError",
    "MissingSenderError",
    "MissingSubjectError",
    "PayloadEncodingError",
    "UnknownCharsetError",
    "UnknownEncodingError",
    "check_email_valid",
    "invalid_email_reason",
    "is_email_valid",
    "send_mail",
]

_local = threading.local()


def open_queue(path: str | Path | None = None, clock: Clock | None = None) -> QueueBackend:
    """The queue for ``path`` (default: MAILGUI_DB or the user data dir), one connection per thread and process."""
    # Keyed by what the caller gave (or MAILGUI_DB as it is now), so a hit costs no path resolution.
    given = os.fspath(path) if path is not None else os.environ.get("MAILGUI_DB", "")
    if given and not os.path.isabs(given):
        given = os.path.abspath(given)  # a relative path means a different file after a chdir
    cache: dict[tuple[int, str], Queue] = _local.__dict__.setdefault("queues", {})
    key = (os.getpid(), given)
    queue = cache.get(key)
    if queue is None:
        queue = cache[key] = Queue(Path(path) if path is not None else default_db_path())
    if clock is not None:
        queue.clock = clock
    return queue


class EmailMessage:
    """A message to send. Fields can be set at construction, as attributes, or with ``update()``."""

    PROPERTIES = frozenset(
        {"sender", "to", "cc", "bcc", "reply_to", "subject", "body", "html", "attachments", "headers", "amp_html"}
    )

    def __init__(self, mime_message: Message | None = None, **kw: Any):
        if mime_message is not None:
            fields = fields_from_mime(mime_message)
            for name in ("sender", "to", "cc", "bcc", "reply_to", "subject", "body", "html"):
                value = getattr(fields, name)
                if value is not None:
                    setattr(self, name, value)
            if fields.attachments:
                self.attachments = fields.attachments
            if fields.headers:
                self.headers = dict(fields.headers)
        self.update(**kw)

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in self.PROPERTIES and not name.startswith("_"):
            raise AttributeError(
                f"{name!r} is not a field of EmailMessage (fields: {', '.join(sorted(self.PROPERTIES))})"
            )
        if name == "attachments":
            value = to_attachments(value)
        elif name == "headers":
            to_headers(value)  # validate names and values now, as App Engine does
        elif name == "amp_html" and value is not None:
            raise BadRequestError("amp_html: AMP bodies are not supported by mailgui")
        super().__setattr__(name, value)

    def update(self, **kw: Any) -> None:
        for name, value in kw.items():
            setattr(self, name, value)

    def _fields(self) -> MessageFields:
        get = self.__dict__.get
        return MessageFields(
            sender=get("sender"),
            to=get("to"),
            cc=get("cc"),
            bcc=get("bcc"),
            reply_to=get("reply_to"),
            subject=get("subject"),
            body=get("body"),
            html=get("html"),
            attachments=list(get("attachments") or []),
            headers=to_headers(get("headers")),
        )

    def check_initialized(self) -> None:
        """Raise the error for the first required field that is missing or invalid."""
        build_message(self._fields(), now=SystemClock().now())

    def is_initialized(self) -> bool:
        try:
            self.check_initialized()
        except Error:
            return False
        return True

    def to_mime_message(self) -> Message:
        from email import message_from_string
        from email import policy as email_policy
        from email.message import EmailMessage as MimeMessage

        built = build_message(self._fields(), now=SystemClock().now())
        # Parsed from text, not bytes: the stdlib's bytes parser cannot read UTF-8 headers (RFC 6532) and
        # would turn an internationalized address into surrogate escapes. Bodies are 7bit-safe either way.
        return message_from_string(built.raw.decode("utf-8"), _class=MimeMessage, policy=email_policy.SMTPUTF8)

    def bodies(self, content_type: str | None = None) -> Iterator[tuple[str, str | EncodedPayload]]:
        """Yield (content_type, body) pairs, text/html then text/plain, as App Engine does.

        ``content_type`` filters: ``"text/html"``, ``"text/plain"``, or ``"text"`` for both.
        """
        for ctype, name in (("text/html", "html"), ("text/plain", "body")):
            value = self.__dict__.get(name)
            if value is not None and content_type in (None, "", "text", ctype):
                yield ctype, value

    def build(self, clock: Clock | None = None) -> OutgoingMessage:
        return build_message(self._fields(), now=(clock or SystemClock()).now())

    def send(self, *, db: str | Path | None = None, send_at: float | None = None) -> int:
        """Validate and queue the message; returns the queue id once it is durably stored.

        Each call queues a new message (a fresh Message-ID), so an instance can be changed and sent again.
        ``send_at`` (epoch seconds) holds the message in the queue until then.
        """
        queue = open_queue(db)
        outgoing = build_message(self._fields(), now=queue.clock.now())
        return queue.enqueue(outgoing, not_before=send_at)

    def __repr__(self) -> str:
        return f"EmailMessage(sender={self.__dict__.get('sender')!r}, subject={self.__dict__.get('subject')!r})"


def send_mail(sender: str, to: Any, subject: str, body: str, **kw: Any) -> int:
    """Queue one message; see :class:`EmailMessage` for the keyword fields."""
    db = kw.pop("db", None)
    return EmailMessage(sender=sender, to=to, subject=subject, body=body, **kw).send(db=db)
