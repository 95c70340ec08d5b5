"""Turn message fields into a standards-correct MIME message, and back.

Pure: no I/O. The caller passes the time; the queue stores what :func:`build_message` returns.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy as email_policy
from email.errors import HeaderParseError
from email.message import EmailMessage as MimeMessage
from email.message import Message
from email.utils import format_datetime, make_msgid

from mailgui import mime
from mailgui.addresses import Mailbox, check_header_text, check_text, parse_address_list, parse_mailbox
from mailgui.attachments import Attachment, AttachmentPart, attachment_part, to_attachments
from mailgui.errors import (
    BadRequestError,
    Error,
    InvalidHeaderNameError,
    InvalidHeadersError,
    InvalidHeaderValueError,
    MissingBodyError,
    MissingRecipientsError,
    MissingSenderError,
    MissingSubjectError,
    PayloadEncodingError,
)
from mailgui.payload import EncodedPayload

# App Engine's allow-list of extra headers, with the whole Resent-* family of RFC 5322 (section 3.6.6).
ALLOWED_HEADERS = {
    h.lower(): h
    for h in (
        "Auto-Submitted",
        "In-Reply-To",
        "List-Id",
        "List-Unsubscribe",
        "List-Unsubscribe-Post",
        "On-Behalf-Of",
        "References",
        "Resent-Date",
        "Resent-From",
        "Resent-Sender",
        "Resent-To",
        "Resent-Cc",
        "Resent-Bcc",
        "Resent-Message-Id",
    )
}
_HEADER_NAME = re.compile(r"^[!-9;-~]+$")  # RFC 5322 ftext: printable ASCII except ':'


def check_header_name(name: str) -> str:
    """Return the canonical spelling of an allowed extra header, or raise."""
    if not isinstance(name, str) or not _HEADER_NAME.match(name):
        raise InvalidHeaderNameError(f"headers: {name!r} is not a valid header name")
    canonical = ALLOWED_HEADERS.get(name.lower())
    if canonical is None:
        allowed = ", ".join(sorted(ALLOWED_HEADERS.values()))
        raise InvalidHeaderNameError(f"headers: {name!r} is not allowed as an extra header (allowed: {allowed})")
    return canonical


def invalid_headers_reason(headers: object) -> str | None:
    """Why ``headers`` cannot be a message's extra headers, or None; worded as App Engine's.

    The allow-list is compared without regard to case (App Engine's is case-sensitive) and is App Engine's
    with a few more (see ``message.ALLOWED_HEADERS``).
    """
    if headers is None:
        return "Headers dictionary was None."
    if not isinstance(headers, Mapping):
        return f"Invalid type for headers. Should be a dictionary, not {type(headers).__name__}."
    for name, value in headers.items():
        if not isinstance(name, str):
            return "Header names should be strings."
        if not isinstance(value, str):
            return "Header values should be strings."
        if not name.isascii():
            return "Header name should be an ASCII string."
        try:
            check_header_name(name)
        except Error:
            if name.strip().lower() in ALLOWED_HEADERS:
                return f'Header name "{name}" has spaces or characters a header name cannot have.'
            return f'Header "{name.strip()}" is not allowed.'
    return None


def check_headers_valid(headers: object) -> None:
    """Raise InvalidHeadersError (an InvalidEmailError, as App Engine raises, and an InvalidHeaderNameError)."""
    reason = invalid_headers_reason(headers)
    if reason is not None:
        allowed = ", ".join(sorted(ALLOWED_HEADERS.values()))
        hint = f" (allowed: {allowed})" if "is not allowed" in reason else ""
        raise InvalidHeadersError(f"headers: {reason.rstrip('.') if hint else reason}{hint}")


def _kind(value: object) -> str:
    return type(value).__name__


def _text(value: str | bytes | EncodedPayload, field: str) -> str:
    if isinstance(value, EncodedPayload):
        return value.text_for(field)
    if isinstance(value, bytes):  # App Engine passes bytes on as UTF-8
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PayloadEncodingError(f"{field}: bytes given as text must be UTF-8: {exc}") from None
    if not isinstance(value, str):
        raise BadRequestError(
            f"{field}: expected a string, UTF-8 bytes or an EncodedPayload, got {type(value).__name__}"
        )
    return value


def to_headers(value: Mapping[str, str] | Iterable[tuple[str, str]] | None) -> list[tuple[str, str]]:
    if value is None:
        return []
    if isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(value, Iterable) and not isinstance(value, (str, bytes, bytearray)):
        pairs = list(value)
    else:
        raise InvalidHeaderNameError(f"headers: expected a mapping of names to values, got {type(value).__name__}")
    result = []
    for pair in pairs:
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise InvalidHeaderNameError(f"headers: {pair!r} is not a (name, value) pair")
        name, val = pair
        canonical = check_header_name(name)
        if not isinstance(val, str):
            raise InvalidHeaderNameError(f"headers: the value of {canonical} must be a string")
        check_header_text(val, f"headers[{canonical}]")
        result.append((canonical, val))
    return result


@dataclass(frozen=True)
class OutgoingMessage:
    """A validated message ready for the queue: envelope plus the exact bytes to send."""

    sender: Mailbox
    recipients: tuple[tuple[str, str], ...]  # (address, kind) with kind in to/cc/bcc; unique addresses
    subject: str
    message_id: str
    raw: bytes
    smtputf8: bool


@dataclass
class MessageFields:
    sender: str | None = None
    to: str | Sequence[str] | None = None
    cc: str | Sequence[str] | None = None
    bcc: str | Sequence[str] | None = None
    reply_to: str | Sequence[str] | None = None
    subject: str | None = None
    body: str | bytes | EncodedPayload | None = None
    html: str | bytes | EncodedPayload | None = None
    amp_html: str | bytes | EncodedPayload | None = None
    attachments: list[Attachment] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)


def build_message(fields: MessageFields, *, now: float, message_id: str | None = None) -> OutgoingMessage:
    """Validate ``fields`` and build the message; raise a BadRequestError naming the field."""
    if not fields.sender:
        raise MissingSenderError("sender: a sender address is required")
    sender = parse_mailbox(fields.sender, "sender")
    to = parse_address_list(fields.to, "to")
    cc = parse_address_list(fields.cc, "cc")
    bcc = parse_address_list(fields.bcc, "bcc")
    reply_to = parse_address_list(fields.reply_to, "reply_to")
    if not (to or cc or bcc):
        raise MissingRecipientsError("to: at least one recipient (to, cc or bcc) is required")
    if fields.subject is None:
        raise MissingSubjectError("subject: a subject is required")
    subject = _text(fields.subject, "subject") if isinstance(fields.subject, bytes) else fields.subject
    if not isinstance(subject, str):
        raise MissingSubjectError(f"subject: expected a string, got {type(subject).__name__}")
    check_header_text(subject, "subject")
    if fields.body is None and fields.html is None:
        raise MissingBodyError("body: a plain-text or HTML body is required")
    body = None if fields.body is None else _text(fields.body, "body")
    html = None if fields.html is None else _text(fields.html, "html")
    amp_html = None if fields.amp_html is None else _text(fields.amp_html, "amp_html")
    for name, text in (("body", body), ("html", html), ("amp_html", amp_html)):
        if text is not None:
            check_text(text, name)
    attachments = [attachment_part(a) for a in to_attachments(fields.attachments)]
    headers = to_headers(fields.headers)

    everyone = [sender, *to, *cc, *bcc, *reply_to]
    smtputf8 = any(m.smtputf8 for m in everyone)
    if message_id is None:
        message_id = make_msgid(domain=_ascii_domain(sender.address))
    if not isinstance(message_id, str) or not message_id.isascii():
        raise InvalidHeaderValueError(f"message_id: {message_id!r} is not an ASCII Message-ID")
    check_header_text(message_id, "message_id")

    head = [mime.address_list("From", [(sender.name, sender.address)])]
    for name, group in (("To", to), ("Cc", cc), ("Reply-To", reply_to)):
        if group:
            head.append(mime.address_list(name, [(m.name, m.address) for m in group]))
    head.append(mime.unstructured("Subject", subject))
    head.append(f"Date: {format_datetime(datetime.fromtimestamp(now, UTC))}\r\n")
    head.append(f"Message-ID: {message_id}\r\n")
    head.extend(_extra_header(name, value, smtputf8) for name, value in headers)
    head.append("MIME-Version: 1.0\r\n")
    content_head, content = _content(body, html, amp_html, attachments)
    head.append(content_head)

    recipients: list[tuple[str, str]] = []
    seen: set[str] = set()
    for kind, group in (("to", to), ("cc", cc), ("bcc", bcc)):
        for m in group:
            if m.address.lower() not in seen:
                seen.add(m.address.lower())
                recipients.append((m.address, kind))
    return OutgoingMessage(
        sender=sender,
        recipients=tuple(recipients),
        subject=subject,
        message_id=message_id,
        raw="".join(head).encode("utf-8" if smtputf8 else "ascii") + b"\r\n" + content,
        smtputf8=smtputf8,
    )


def _extra_header(name: str, value: str, smtputf8: bool) -> str:
    try:
        return mime.structured(name, value, smtputf8)
    except (HeaderParseError, IndexError, AttributeError) as exc:
        # The stdlib's header parser fails on some malformed addresses with IndexError ("a@" as a Resent-To)
        # or AttributeError (":;\x80", a group where it expects a mailbox) where it means HeaderParseError
        # (the family of python/cpython#76359); either way the value is not a header of that kind.
        raise InvalidHeaderValueError(f"headers[{name}]: {value!r} cannot be read as a {name} header") from exc


def _ascii_domain(address: str) -> str:
    domain = address.rpartition("@")[2]
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return "mailgui.invalid"


def _content(
    body: str | None, html: str | None, amp_html: str | None, attachments: list[AttachmentPart]
) -> tuple[str, bytes]:
    # The order App Engine writes, and the AMP spec asks for: text/plain, text/x-amp-html, text/html last (a
    # reader shows the last alternative it can; most cannot show AMP and fall back to the HTML).
    texts = []
    if body is not None:
        texts.append(mime.text_part("plain", body))
    if amp_html is not None:
        texts.append(mime.text_part("x-amp-html", amp_html))
    if html is not None:
        texts.append(mime.text_part("html", html))
    main = texts[0] if len(texts) == 1 else mime.multipart("alternative", texts)
    if not attachments:
        return main
    parts = [main]
    for att in attachments:
        cid = att.content_id
        if cid and not cid.startswith("<"):
            cid = f"<{cid}>"
        parts.append(mime.attachment_part(att.filename, att.content_type, att.payload, cid))
    return mime.multipart("mixed", parts)


def fields_from_mime(mime: Message) -> MessageFields:
    """Read the fields of an existing message (App Engine's ``EmailMessage(mime_message=...)``)."""
    from email import message_from_bytes

    if not isinstance(mime, MimeMessage):
        mime = message_from_bytes(mime.as_bytes(), _class=MimeMessage, policy=email_policy.default)
    assert isinstance(mime, MimeMessage)
    fields = MessageFields()
    fields.sender = str(mime["From"]) if mime["From"] else None
    fields.to = _header_list(mime, "To")
    fields.cc = _header_list(mime, "Cc")
    fields.bcc = _header_list(mime, "Bcc")
    fields.reply_to = _header_list(mime, "Reply-To")
    fields.subject = str(mime["Subject"]) if mime["Subject"] is not None else None
    plain = mime.get_body(preferencelist=("plain",))
    html = mime.get_body(preferencelist=("html",))
    fields.body = plain.get_content() if plain is not None else None
    fields.html = html.get_content() if html is not None else None
    for part in mime.iter_attachments():
        filename = part.get_filename()
        if filename:
            payload = part.get_payload(decode=True)
            if not isinstance(payload, bytes):
                payload = b""
            cid = part["Content-ID"]
            fields.attachments.append(Attachment(filename, payload, content_id=str(cid) if cid else None))
    for name, value in mime.items():
        if name.lower() in ALLOWED_HEADERS:
            fields.headers.append((ALLOWED_HEADERS[name.lower()], str(value)))
    return fields


def _header_list(mime: MimeMessage, name: str) -> list[str] | None:
    header = mime[name]
    if header is None:
        return None
    return [str(a) for a in header.addresses]
