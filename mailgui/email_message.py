"""EmailMessage and AdminEmailMessage: App Engine's message classes, field for field.

Fields are stored as assigned and read back unchanged; an unset field is absent (``hasattr`` is False), as in App
Engine. What App Engine checks when a field is assigned is checked then, with its error classes (addresses,
headers, empty values, the shape of attachments); the rest when the message is checked, built or sent.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from email.message import EmailMessage as MimeMessage
from email.message import Message
from pathlib import Path
from typing import Any, ClassVar

from mailgui.addresses import app_engine_email_reason, as_address, parse_address_list, parse_mailbox, split_addresses
from mailgui.attachments import to_attachments
from mailgui.clock import Clock, SystemClock
from mailgui.errors import (
    EmptyValueError,
    Error,
    InvalidEmailError,
    MissingRecipientsError,
    MissingSenderError,
)
from mailgui.message import MessageFields, OutgoingMessage, build_message, check_headers_valid, to_headers
from mailgui.mime_reading import decode_address_list_field, decode_header_text, parse_mime_message, payload_parts
from mailgui.paths import default_db_path
from mailgui.payload import EncodedPayload
from mailgui.queue import Queue, QueueBackend

log = logging.getLogger(__name__)
_local = threading.local()

ADMINS_SETTING = "admins"


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


def _check_app_engine_address(value: object, field: str) -> None:
    reason = app_engine_email_reason(value, field)
    if reason is not None:
        raise InvalidEmailError(reason)


def _is_empty(value: object) -> bool:
    try:
        return not value
    except Exception:  # an object whose truth cannot be told (bool() raised) is not empty
        return False


class _EmailMessageBase:
    """What EmailMessage, AdminEmailMessage and InboundEmailMessage share (App Engine's ``_EmailMessageBase``)."""

    PROPERTIES: ClassVar[frozenset[str]] = frozenset(
        {"sender", "reply_to", "subject", "body", "html", "amp_html", "attachments", "to", "cc", "bcc"}
    )
    ALLOWED_EMPTY_PROPERTIES: ClassVar[frozenset[str]] = frozenset({"subject", "body", "amp_html"})
    # An inbound message takes the addresses it was sent with: only App Engine's own checks apply to them
    # when they are set; mailgui's syntax check waits until it is sent.
    _STRICT_ADDRESSES: ClassVar[bool] = True

    # The fields, declared for type checkers only: an unset field has no value at all (hasattr is False).
    sender: Any
    to: Any
    cc: Any
    bcc: Any
    reply_to: Any
    subject: Any
    body: Any
    html: Any
    amp_html: Any
    attachments: Any
    headers: Any

    def __init__(self, mime_message: str | bytes | Message | Any | None = None, **kw: Any):
        if mime_message is not None and not (isinstance(mime_message, (str, bytes)) and not mime_message):
            parsed = parse_mime_message(mime_message)
            self.update_from_mime_message(parsed)
            self._original = parsed
        self.initialize(**kw)

    @property
    def original(self) -> Message:
        """The MIME message the fields were read from (AttributeError if there was none, as in App Engine)."""
        try:
            return self.__dict__["_original"]
        except KeyError:
            raise AttributeError(f"'{type(self).__name__}' was not made from a MIME message: no original") from None

    def initialize(self, **kw: Any) -> None:
        for name, value in kw.items():
            setattr(self, name, value)

    def update(self, **kw: Any) -> None:
        """Set several fields at once (mailgui's name for :meth:`initialize`)."""
        self.initialize(**kw)

    def __setattr__(self, attr: str, value: Any) -> None:
        if attr.startswith("_"):
            super().__setattr__(attr, value)
            return
        if attr in ("sender", "reply_to"):
            self._check_address(attr, value)
        if attr not in self.ALLOWED_EMPTY_PROPERTIES and _is_empty(value):
            raise EmptyValueError(f"{attr}: May not set empty value for '{attr}'")
        if attr not in self.PROPERTIES:
            fields = ", ".join(sorted(self.PROPERTIES))
            raise AttributeError(f"'{type(self).__name__}' has no attribute '{attr}' (fields: {fields})")
        if attr == "attachments":
            if isinstance(value, Iterator):
                value = list(value)  # a one-shot iterator would be empty when the message is built
            to_attachments(value)  # the shape and types, as App Engine checks them here
        super().__setattr__(attr, value)

    def _check_address(self, attr: str, value: Any) -> None:
        _check_app_engine_address(value, attr)
        if self._STRICT_ADDRESSES and attr == "sender":
            parse_mailbox(value, attr)
        elif self._STRICT_ADDRESSES:
            parse_address_list(as_address(value), attr)  # type: ignore[arg-type]

    # -- checking and building --------------------------------------------------------------------------------

    def _recipients(self) -> MessageFields:
        get = self.__dict__.get
        return MessageFields(to=get("to"), cc=get("cc"), bcc=get("bcc"))

    def _fields(self) -> MessageFields:
        get = self.__dict__.get
        fields = self._recipients()
        fields.sender = get("sender")
        fields.reply_to = get("reply_to")
        fields.subject = get("subject")
        fields.body = get("body")
        fields.html = get("html")
        fields.amp_html = get("amp_html")
        fields.attachments = to_attachments(get("attachments")) if "attachments" in self.__dict__ else []
        fields.headers = to_headers(get("headers"))
        return fields

    def _message_id(self) -> str | None:
        return None

    def _build(self, now: float, recipients: MessageFields | None = None) -> OutgoingMessage:
        if "sender" not in self.__dict__:
            raise MissingSenderError("sender: a sender address is required")
        fields = self._fields()
        if recipients is not None:
            fields.to, fields.cc, fields.bcc = recipients.to, recipients.cc, recipients.bcc
        return build_message(fields, now=now, message_id=self._message_id())

    def check_initialized(self) -> None:
        """Raise the error for the first required field that is missing or invalid, as sending would."""
        self._build(SystemClock().now(), self._check_recipients_for_check())

    def _check_recipients_for_check(self) -> MessageFields | None:
        return None

    def is_initialized(self) -> bool:
        try:
            self.check_initialized()
        except Error:
            return False
        return True

    def to_mime_message(self) -> MimeMessage:
        """The message as it would be queued, as a stdlib message (with Bcc left out: mailgui never writes it)."""
        from email import message_from_string
        from email import policy as email_policy

        built = self._build(SystemClock().now(), self._check_recipients_for_check())
        # Read with LF line ends, as App Engine's message holds its text, and with headers read as text (App
        # Engine's are Header objects whose str() is the text). Parsed from text, not bytes: the stdlib's bytes
        # parser cannot read UTF-8 headers (RFC 6532).
        text = built.raw.decode("utf-8").replace("\r\n", "\n")
        mime_message = message_from_string(text, _class=MimeMessage, policy=email_policy.SMTPUTF8)
        assert isinstance(mime_message, MimeMessage)
        return mime_message

    def build(self, clock: Clock | None = None) -> OutgoingMessage:
        return self._build((clock or SystemClock()).now(), self._check_recipients_for_check())

    def send(self, make_sync_call: object = None, *, db: str | Path | None = None, send_at: float | None = None) -> int:
        """Validate and queue the message; returns its queue id once it is durably stored.

        ``make_sync_call`` is App Engine's API-proxy hook; it is accepted and not used (there is no API proxy:
        the message goes to the queue). Each call queues a new message with a fresh Message-ID. ``send_at``
        (epoch seconds) holds the message in the queue until then.
        """
        queue = open_queue(db)
        outgoing = self._build(queue.clock.now(), self._send_recipients(queue))
        return queue.enqueue(outgoing, not_before=send_at)

    def _send_recipients(self, queue: QueueBackend) -> MessageFields | None:
        return None

    # -- reading a MIME message ----------------------------------------------------------------------------------

    def update_from_mime_message(self, mime_message: str | bytes | Message | Any) -> Message:
        """Copy the sender, Reply-To, subject, bodies and attachments found in ``mime_message``; fields it does
        not have are left as they are. Bodies and attachments are EncodedPayloads, as App Engine reads them."""
        mime_message = parse_mime_message(mime_message)
        sender = decode_header_text(mime_message["from"])
        if sender:
            self.sender = sender
        reply_to = decode_header_text(mime_message["reply-to"])
        if reply_to:
            self.reply_to = reply_to
        subject = decode_header_text(mime_message["subject"], separator="")
        if subject:
            self.subject = subject
        for content_type, filename, payload, content_id in payload_parts(mime_message):
            if filename:
                self._add_attachment(filename, payload, content_id)
            else:
                self._add_body(content_type, payload)
        return mime_message

    def _add_attachment(self, filename: str, payload: EncodedPayload, content_id: str | None) -> None:
        from mailgui.attachments import Attachment

        attachment = Attachment(filename, payload, content_id=content_id)
        attachments = self.__dict__.get("attachments")
        if attachments is None:
            self.attachments = [attachment]
        else:
            if isinstance(attachments[0], str):  # one (filename, payload) pair, as App Engine allows
                attachments = [attachments]
            self.attachments = [*attachments, attachment]

    def _add_body(self, content_type: str, payload: EncodedPayload) -> None:
        if content_type == "text/plain":
            self.body = payload
        elif content_type == "text/html":
            self.html = payload

    def bodies(self, content_type: str | None = None) -> Iterator[tuple[str, Any]]:
        """Yield ``(content_type, body)``: the HTML body, then the plain one. ``content_type`` filters: a full
        type (``"text/html"``) or ``"text"`` for both."""
        if (not content_type or content_type in ("text", "text/html")) and "html" in self.__dict__:
            yield "text/html", self.__dict__["html"]
        if (not content_type or content_type in ("text", "text/plain")) and "body" in self.__dict__:
            yield "text/plain", self.__dict__["body"]

    # -- App Engine's CamelCase names ------------------------------------------------------------------------------

    def Initialize(self, **kw: Any) -> None:
        self.initialize(**kw)

    def CheckInitialized(self) -> None:
        self.check_initialized()

    def IsInitialized(self) -> bool:
        return self.is_initialized()

    def ToMIMEMessage(self) -> MimeMessage:
        return self.to_mime_message()

    def Send(self, *args: Any, **kw: Any) -> int:
        return self.send(*args, **kw)

    def __repr__(self) -> str:
        get = self.__dict__.get
        return f"{type(self).__name__}(sender={get('sender')!r}, subject={get('subject')!r})"


class EmailMessage(_EmailMessageBase):
    """A message to send. Fields can be set at construction, as attributes, or with ``initialize()``/``update()``;
    ``EmailMessage(mime_message)`` reads them from a message (text, bytes, a file or an ``email`` message)."""

    PROPERTIES: ClassVar[frozenset[str]] = _EmailMessageBase.PROPERTIES | {"headers"}
    ALLOW_BLANK_EMAIL: ClassVar[bool] = False

    def __setattr__(self, attr: str, value: Any) -> None:
        if attr in ("to", "cc", "bcc"):
            if isinstance(value, str) and value == "" and self.ALLOW_BLANK_EMAIL:
                return  # an inbound message's blank To is no recipient (App Engine drops it)
            self._check_recipients(attr, value)
        elif attr == "headers":
            check_headers_valid(value)
            to_headers(value)  # and each value (no line break), as mailgui does
        super().__setattr__(attr, value)

    def _check_recipients(self, attr: str, value: Any) -> None:
        value = as_address(value)
        if isinstance(value, str):
            _check_app_engine_address(value, attr)
        elif isinstance(value, Iterable) and not isinstance(value, (bytes, bytearray, Mapping)):
            items = list(value)
            if not items:
                raise InvalidEmailError(f"Empty address list for {attr}.")
            for address in items:
                _check_app_engine_address(address, attr)
            value = items
        else:
            raise InvalidEmailError(
                f"Invalid email address type for {attr}: expected an address or a list of addresses, "
                f"got {type(value).__name__}."
            )
        if self._STRICT_ADDRESSES:
            parse_address_list(value, attr)

    def _check_recipients_for_check(self) -> MessageFields | None:
        if not any(name in self.__dict__ for name in ("to", "cc", "bcc")):
            raise MissingRecipientsError("to: at least one recipient (to, cc or bcc) is required")
        return None

    def _send_recipients(self, queue: QueueBackend) -> MessageFields | None:
        return self._check_recipients_for_check()

    def update_from_mime_message(self, mime_message: str | bytes | Message | Any) -> Message:
        """As the base, and To, Cc and Bcc (one string for one header, a list for several)."""
        mime_message = super().update_from_mime_message(mime_message)
        for name in ("to", "cc", "bcc"):
            value = decode_address_list_field(mime_message.get_all(name))
            if value:
                setattr(self, name, value)
        return mime_message


class AdminEmailMessage(_EmailMessageBase):
    """A message to the administrators: the addresses of the ``admins`` setting (``mailgui config set admins``
    or Settings). Its own to, cc and bcc are unused, as in App Engine (setting one logs a warning)."""

    _UNUSED_PROPERTIES: ClassVar[frozenset[str]] = frozenset({"to", "cc", "bcc"})

    def __setattr__(self, attr: str, value: Any) -> None:
        if attr in self._UNUSED_PROPERTIES:
            log.warning("'%s' is not a valid property to set for AdminEmailMessage.  It is unused.", attr)
        super().__setattr__(attr, value)

    def _check_recipients_for_check(self) -> MessageFields | None:
        # Who the administrators are is known when it is sent (a setting of the queue it goes to); until then
        # the message is checked and shown with its sender standing in, and no To header.
        return MessageFields(to=self.__dict__.get("sender"))

    def to_mime_message(self) -> MimeMessage:
        mime_message = super().to_mime_message()
        del mime_message["To"]
        return mime_message

    def _send_recipients(self, queue: QueueBackend) -> MessageFields | None:
        admins = split_addresses(queue.get_setting(ADMINS_SETTING) or "")
        if not admins:
            raise MissingRecipientsError(
                "admins: no administrators are set; add them with `mailgui config set admins "
                "'ann@example.com, bob@example.org'` or in Settings"
            )
        return MessageFields(to=admins)
