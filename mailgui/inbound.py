"""Received mail as App Engine's Mail API gives it to an application: InboundEmailMessage, and the
BounceNotification App Engine posts to ``/_ah/bounce``."""

from __future__ import annotations

import email.parser
import email.policy
import re
from collections.abc import Iterator, Mapping
from email.message import EmailMessage as MimeMessage
from email.message import Message
from typing import Any, ClassVar
from urllib.parse import parse_qsl

from mailgui.addresses import check_header_text
from mailgui.email_message import EmailMessage, _EmailMessageBase
from mailgui.errors import BadRequestError, InvalidHeaderValueError, InvalidMessageError
from mailgui.payload import EncodedPayload
from mailgui.queue import Event, QueueViews

_FOLD = re.compile(r"\r?\n(?=[ \t])")  # RFC 5322 folding: a line break before whitespace


class InboundEmailMessage(EmailMessage):
    """A received message, parsed: the fields EmailMessage has, plus ``date``, ``message_id`` (the headers as
    they came) and ``alternate_bodies`` (every text body after the first plain one and the first HTML one).

    Its addresses are taken as they came; mailgui's stricter syntax applies only if it is sent.
    """

    _HEADER_PROPERTIES: ClassVar[dict[str, str]] = {"date": "date", "message_id": "message-id"}
    PROPERTIES: ClassVar[frozenset[str]] = (
        _EmailMessageBase.PROPERTIES | {"alternate_bodies"} | frozenset(_HEADER_PROPERTIES)
    )
    ALLOW_BLANK_EMAIL: ClassVar[bool] = True
    _STRICT_ADDRESSES: ClassVar[bool] = False

    # Declared for type checkers only: unset, they are absent.
    date: Any
    message_id: Any
    alternate_bodies: Any

    @classmethod
    def from_environ(cls, environ: Mapping[str, Any]) -> InboundEmailMessage:
        """The message a WSGI request posted (App Engine posts received mail to ``/_ah/mail/<address>``)."""
        return cls(_request_body(environ))

    def update_from_mime_message(self, mime_message: str | bytes | Message | Any) -> Message:
        mime_message = super().update_from_mime_message(mime_message)
        for prop, header in self._HEADER_PROPERTIES.items():
            value = mime_message[header]
            if value:
                setattr(self, prop, value if isinstance(value, str) else str(value))
        return mime_message

    def _add_body(self, content_type: str, payload: EncodedPayload) -> None:
        """The first plain and the first HTML body in document order are ``body`` and ``html``; every other text
        (and non-text) body goes to ``alternate_bodies``."""
        if (content_type == "text/plain" and "body" not in self.__dict__) or (
            content_type == "text/html" and "html" not in self.__dict__
        ):
            super()._add_body(content_type, payload)
        elif "alternate_bodies" in self.__dict__:
            self.__dict__["alternate_bodies"].append((content_type, payload))
        else:
            self.alternate_bodies = [(content_type, payload)]

    def bodies(self, content_type: str | None = None) -> Iterator[tuple[str, Any]]:
        """Every body: HTML, plain, then ``alternate_bodies``; ``content_type`` filters by full type
        (``"text/xml"``) or main type (``"text"``)."""
        yield from super().bodies(content_type)
        partial = bool(content_type) and "/" not in str(content_type)
        for payload_type, payload in self.__dict__.get("alternate_bodies", ()):
            if content_type:
                match_type = payload_type.split("/")[0] if partial else payload_type
                if match_type != content_type:
                    continue
            yield payload_type, payload

    def _message_id(self) -> str | None:
        return _header_value(self.__dict__.get("message_id"), "message_id")

    def to_mime_message(self) -> MimeMessage:
        """As EmailMessage's, with the Date and Message-ID it came with."""
        mime_message = super().to_mime_message()
        date = _header_value(self.__dict__.get("date"), "date")
        if date is not None:
            mime_message.replace_header("Date", date)
        return mime_message


def _header_value(value: object, field: str) -> str | None:
    """A header value as it came, unfolded (a long Date or Message-ID may be folded), or refused naming the field."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidHeaderValueError(f"{field}: expected a string, got {type(value).__name__}")
    unfolded = _FOLD.sub("", value).strip()
    check_header_text(unfolded, field)
    return unfolded


def _request_body(environ: Mapping[str, Any]) -> bytes:
    try:
        size = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        size = 0
    stream = environ.get("wsgi.input")
    if stream is None:
        raise InvalidMessageError("environ: no 'wsgi.input' to read the request body from")
    data = stream.read(size) if size > 0 else b""
    return data if isinstance(data, bytes) else str(data).encode("utf-8")


class BounceNotification:
    """A bounce, as App Engine posts it to ``/_ah/bounce``: ``original`` and ``notification`` (dicts with to, cc,
    bcc, from, subject and text) and ``original_raw_message`` (an InboundEmailMessage)."""

    _FIELDS = ("to", "cc", "bcc", "from", "subject", "text")

    def __init__(self, post_vars: Mapping[str, Any]):
        self._original = {f: post_vars.get("original-" + f, "") for f in self._FIELDS}
        self._notification = {f: post_vars.get("notification-" + f, "") for f in self._FIELDS}
        raw_message = post_vars.get("raw-message", "")
        if isinstance(raw_message, list):  # a form's values as lists (Flask's request.form.lists())
            if len(raw_message) > 1:
                raise ValueError('Multiple values found for "raw-message" in post_vars. Expected single value.')
            raw_message = raw_message[0] if raw_message else ""
        self._original_raw_message = InboundEmailMessage(raw_message)

    @classmethod
    def from_event(cls, event: Event, queue: QueueViews) -> BounceNotification:
        """The notification for a ``bounced`` event of mailgui's stream (``mailgui events``), as App Engine would
        post it for that recipient, so an App Engine bounce handler can be fed by mailgui."""
        if event.kind != "bounced":
            raise BadRequestError(f"event: #{event.id} is a {event.kind!r} event, not 'bounced'")
        detail = queue.get_message(event.message_id)
        summary = detail.summary
        why = " ".join(x for x in (str(event.code) if event.code is not None else "", event.text or "") if x)
        return cls(
            {
                "original-from": summary.from_header,
                "original-to": event.recipient,
                "original-subject": summary.subject,
                "notification-from": "MAILER-DAEMON",
                "notification-to": summary.sender,
                "notification-subject": f"Undeliverable: {summary.subject}",
                "notification-text": f"{event.recipient}: {why or 'bounced'}"
                + (f" ({event.reason})" if event.reason else ""),
                "raw-message": detail.raw.decode("utf-8", "replace"),
            }
        )

    @classmethod
    def from_environ(cls, environ: Mapping[str, Any]) -> BounceNotification:
        """The notification a WSGI request posted (a form: multipart/form-data or URL-encoded)."""
        return cls(form_fields(environ.get("CONTENT_TYPE", ""), _request_body(environ)))

    @property
    def original(self) -> dict[str, Any]:
        return self._original

    @property
    def notification(self) -> dict[str, Any]:
        return self._notification

    @property
    def original_raw_message(self) -> InboundEmailMessage:
        return self._original_raw_message


def form_fields(content_type: str, body: bytes) -> dict[str, str]:
    """The fields of a posted form (the last value of a repeated one), each decoded as its part says: its charset
    (UTF-8 if none) and Content-Transfer-Encoding (base64 or quoted-printable), as App Engine reads them."""
    if content_type.lower().startswith("multipart/form-data"):
        head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1", "replace")
        form = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(head + body)
        fields: dict[str, str] = {}
        for part in form.get_payload() if form.is_multipart() else []:
            if not isinstance(part, Message):
                continue
            name = part.get_param("name", header="content-disposition")
            if not isinstance(name, str):
                continue
            data = part.get_payload(decode=True)
            data = data if isinstance(data, bytes) else b""
            fields[name] = _decode_bytes(data, part.get_content_charset() or "utf-8")
        return fields
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def _decode_bytes(data: bytes, charset: str) -> str:
    try:
        return data.decode(charset, "replace")
    except LookupError:
        return data.decode("utf-8", "replace")
