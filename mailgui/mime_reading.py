"""Reading a received MIME message the way App Engine's Mail API does: headers decoded from RFC 2047, and each
leaf part a body or an attachment kept as an EncodedPayload.

Lenient where a received message may be anything: an unknown charset in an encoded word is read with
replacement characters, never an exception. Pure: no I/O but reading a file object it is given.
"""

from __future__ import annotations

import codecs
import email
import email.header
import email.utils
from collections.abc import Iterator
from email.errors import MessageError
from email.message import Message
from typing import Any

from mailgui.errors import InvalidMessageError
from mailgui.payload import EncodedPayload


def parse_mime_message(mime_message: str | bytes | Message | Any) -> Message:
    """A stdlib message from a message, its text, its bytes, or a file (text or binary) holding it."""
    if isinstance(mime_message, Message):
        return mime_message
    if isinstance(mime_message, (bytearray, memoryview)):
        mime_message = bytes(mime_message)
    if not isinstance(mime_message, (str, bytes)):
        read = getattr(mime_message, "read", None)
        if not callable(read):
            raise InvalidMessageError(
                f"mime_message: expected a message, its text or bytes, or a file, got {type(mime_message).__name__}"
            )
        try:
            mime_message = read()
        except (OSError, ValueError) as exc:  # ValueError: a closed file
            raise InvalidMessageError(f"mime_message: the file could not be read: {exc}") from exc
        if not isinstance(mime_message, (str, bytes)):
            raise InvalidMessageError(f"mime_message: the file gave {type(mime_message).__name__}, not text or bytes")
    if isinstance(mime_message, bytes):
        return email.message_from_bytes(mime_message)
    return email.message_from_string(mime_message)


def decode_header_text(header: Any, separator: str = " ") -> Any:
    """A header's text with RFC 2047 encoded words decoded (App Engine's ``_decode_and_join_header``); None or
    '' as they are."""
    if not header:
        return header
    try:
        pieces = email.header.decode_header(header)
    except (MessageError, ValueError, TypeError, AttributeError):  # not a header the stdlib can split
        return str(header)
    out = []
    for text, charset in pieces:
        if isinstance(text, bytes):
            out.append(_decode_bytes(text, charset or "us-ascii"))
        else:
            out.append(text)
    return separator.join(out)


def _decode_bytes(data: bytes, charset: str) -> str:
    try:
        codecs.lookup(charset)
        return data.decode(charset, "replace")
    except (LookupError, ValueError, TypeError):  # unknown, or not a text encoding: read as UTF-8
        return data.decode("utf-8", "replace")


def _raw_payload(mime_message: Message) -> Any:
    try:
        return mime_message.get_payload()
    except (UnicodeError, TypeError, LookupError):
        # get_payload() re-encodes a text payload that holds surrogate escapes, and fails when it also holds other
        # non-ASCII text (python/cpython#94606, fixed in 3.13) or names its charset in RFC 2231 form (a tuple).
        # The payload as parsed is what is wanted here anyway.
        return mime_message._payload  # type: ignore[attr-defined]


def _payload_bytes(payload: str) -> bytes:
    try:
        # Bytes the parser could not decode are kept as surrogate escapes: this gives them back as they came.
        return payload.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that is no escaped byte (given in a str): not text at all
        return payload.encode("utf-8", "replace")


def decode_address_list_field(values: list[Any] | None) -> str | list[str] | None:
    """One decoded string for one header, a list of them for several, None for none (as App Engine)."""
    # A blank header is no address (App Engine drops one blank To, and fails on two).
    values = [v for v in values or [] if str(v).strip()]
    if not values:
        return None
    if len(values) == 1:
        return decode_header_text(values[0])
    return [decode_header_text(v) for v in values]


def payload_parts(mime_message: Message) -> Iterator[tuple[str, str | None, EncodedPayload, str | None]]:
    """Each leaf part with a payload, in document order: ``(content_type, filename, payload, content_id)``.

    A part is an attachment if it names a file (Content-Disposition filename, else Content-Type name), as App
    Engine reads it; its payload is the encoded bytes with the part's charset and Content-Transfer-Encoding.
    """
    payload = _raw_payload(mime_message)
    # An empty part is read too (App Engine skips it): an empty attachment or body is still one.
    if mime_message.is_multipart():
        for part in payload:
            if isinstance(part, Message):
                yield from payload_parts(part)
        return
    if not isinstance(payload, str):
        return
    filename: Any = mime_message.get_param("filename", header="content-disposition")
    if filename:
        filename = email.utils.collapse_rfc2231_value(filename)
    if not filename:
        filename = mime_message.get_param("name")
        if filename:
            filename = email.utils.collapse_rfc2231_value(filename)
    charset = mime_message.get_content_charset() or mime_message.get_charset()
    encoding = mime_message["content-transfer-encoding"]
    encoded = EncodedPayload(
        _payload_bytes(payload),
        str(charset) if charset else None,
        None if encoding is None else str(encoding),
    )
    content_id = mime_message["content-id"]
    yield mime_message.get_content_type(), filename or None, encoded, None if content_id is None else str(content_id)
