"""Reading a message that may be malformed in any way: the stdlib parser, and helpers that never raise on what it
gives back (bad charsets, undecodable headers, payloads that are not what their type says)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from email import policy
from email.header import Header, decode_header
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
    raw = _raw_header(msg, name) if isinstance(value, Header) else str(value)
    try:
        words = decode_header(raw)
        text = "".join(_decode(chunk, charset) if isinstance(chunk, bytes) else chunk for chunk, charset in words)
    except (ValueError, LookupError, AssertionError):  # a broken encoded word: keep the raw text
        text = raw
    return re.sub(r"\s*\r?\n\s*", " ", text).strip()


def _raw_header(msg: Message, name: str) -> str:
    """A header sent as raw 8-bit bytes (no RFC 2047 words), which compat32 hides behind "unknown-8bit": its bytes
    read as UTF-8, else Latin-1."""
    for key, value in msg.raw_items():
        if key.lower() == name.lower():
            data = str(value).encode("ascii", "surrogateescape")
            try:
                return data.decode("utf-8")
            except UnicodeDecodeError:
                return data.decode("latin-1")
    return ""


def _decode(data: bytes, charset: str | None) -> str:
    try:
        return data.decode(charset or "ascii", "replace")
    except (LookupError, ValueError):  # an unknown charset name, or one with a NUL in it
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
    text = _strict(data, charset)
    if text is None:  # undeclared or wrongly declared: UTF-8 sent as ISO-2022-JP, say
        text = _strict(data, "utf-8")
    if text is None:
        text = _decode(data, charset) if charset else data.decode("latin-1")
    return text.replace("\r\n", "\n").replace("\r", "\n")[:MAX_TEXT]


def _strict(data: bytes, charset: str | None) -> str | None:
    if not charset:
        return None
    try:
        return data.decode(charset)
    except (LookupError, ValueError):  # unknown name, bytes not in it, or a name with a NUL in it
        return None


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
        if isinstance(payload, str):
            payload = recovered(payload)
        if isinstance(payload, list):
            for sub in payload:
                if isinstance(sub, Message):
                    yield from report_parts(sub)


_DELIMITER = re.compile(r"^--([^\s]{1,70}?)(?<!--)[ \t]*$", re.MULTILINE)


def recovered(body: str) -> list[Message] | None:
    """The parts of a multipart whose boundary parameter was lost (left off, or on a continuation line sent without
    its indentation): the boundary taken from the first delimiter line that comes back at least twice."""
    for m in _DELIMITER.finditer(body[:MAX_TEXT]):
        boundary = m.group(1)
        if body.count(f"\n--{boundary}") + body.startswith(f"--{boundary}") < 2:
            continue
        header = f'Content-Type: multipart/mixed; boundary="{boundary}"\n\n'
        data = (header + body).encode("utf-8", "surrogateescape")
        payload = parse_bytes(data).get_payload()
        parts = [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []
        return parts or None
    return None


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
