"""Reading a message that may be malformed in any way: the stdlib parser, and helpers that never raise on what it
gives back (bad charsets, undecodable headers, payloads that are not what their type says)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from email import policy
from email.header import decode_header
from email.message import Message
from email.parser import BytesParser

# What a report's text is scanned for is bounded, so a 20 MB report (an attachment sent back whole) costs no more
# than its first part. Diagnostic text sits at the start of a report; nothing in the corpus comes near this.
MAX_TEXT = 256 * 1024


def parse_bytes(data: bytes) -> Message:
    # compat32: the modern policies parse header values into objects and may raise on malformed ones; a bounce is
    # often malformed, and we only need the raw values.
    return BytesParser(policy=policy.compat32).parsebytes(data)


def header(msg: Message, name: str) -> str:
    """A header's value as text, RFC 2047 words decoded, folding removed; "" when absent or unreadable."""
    value = msg.get(name)
    if value is None:
        return ""
    raw = str(value)
    try:
        words = decode_header(raw)
        text = "".join(_decode(chunk, charset) if isinstance(chunk, bytes) else chunk for chunk, charset in words)
    except (ValueError, LookupError, AssertionError):  # a broken encoded word: keep the raw text
        text = raw
    return re.sub(r"\s*\r?\n\s*", " ", text).strip()


def _decode(data: bytes, charset: str | None) -> str:
    try:
        return data.decode(charset or "ascii", "replace")
    except LookupError:  # an unknown charset name
        return data.decode("utf-8", "replace")


def part_text(part: Message) -> str:
    """The decoded text of a leaf part (transfer encoding and charset undone), at most MAX_TEXT characters."""
    payload = part.get_payload()
    if isinstance(payload, list):  # an attached message or header blocks: their serialised form
        return "\n\n".join(_blocks_text(item) for item in payload if isinstance(item, Message))[:MAX_TEXT]
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return str(payload)[:MAX_TEXT]
    data = data[: MAX_TEXT * 4]
    try:
        charset = part.get_content_charset()
    except (ValueError, LookupError):
        charset = None
    text = _decode(data, charset or "utf-8")
    if charset is None and "\ufffd" in text:  # undeclared 8-bit text is as often Latin-1 as UTF-8
        text = data.decode("latin-1")
    return text.replace("\r\n", "\n").replace("\r", "\n")[:MAX_TEXT]


def _blocks_text(block: Message) -> str:
    lines = [f"{name}: {value}" for name, value in block.items()]
    body = block.get_payload()
    if isinstance(body, str) and body.strip():
        lines += ["", body]
    return "\n".join(lines)


def content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except (ValueError, LookupError, IndexError):
        return "text/plain"


def param(part: Message, name: str) -> str:
    try:
        value = part.get_param(name)
    except (ValueError, LookupError, IndexError):
        return ""
    if isinstance(value, tuple):  # RFC 2231 (charset, language, text)
        value = value[2]
    return str(value or "")


def report_parts(msg: Message) -> Iterator[Message]:
    """The parts of a report, depth first, without going into the messages it attaches (a bounce of a bounce, or
    a forwarded report, must not be read as this message's own report)."""
    yield msg
    if content_type(msg).startswith("multipart/"):
        payload = msg.get_payload()
        if isinstance(payload, list):
            for sub in payload:
                if isinstance(sub, Message):
                    yield from report_parts(sub)


def attached_messages(msg: Message) -> Iterator[Message]:
    """The messages a report attaches (message/rfc822 and the like), not looking inside them."""
    for part in report_parts(msg):
        ctype = content_type(part)
        if ctype in ("message/rfc822", "message/global", "message/partial"):
            payload = part.get_payload()
            if isinstance(payload, list):
                for sub in payload:
                    if isinstance(sub, Message):
                        yield sub
