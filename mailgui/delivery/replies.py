"""SMTP replies as data (RFC 5321 4.2): parsed strictly, bounded, and decoded so that any bytes are safe to store.

A reply is one or more lines ``DDD-text`` ... ``DDD text`` (or ``DDD`` alone). The parser is fed raw bytes as they
come and returns the replies they complete. Anything else is a :class:`ProtocolViolation`: a line that is not a
reply line, a continuation with another code, a reply over :data:`MAX_REPLY_BYTES` or :data:`MAX_REPLY_LINES`
(Postfix bounds replies the same way; a server that never ends one would otherwise grow the client without
limit). Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_REPLY_BYTES = 64 * 1024  # one reply, all its lines; the EHLO of a large provider is under 1 KiB
MAX_REPLY_LINES = 512
SEEN_LINES = 64  # single-line replies a parser remembers: a relay says "250 2.1.5 Ok" once a recipient

# A C0 control (but tab), DEL, a C1 control or a direction mark in a reply: shown escaped, never raw (the attempt
# log, the GUI, the log file): none belongs in a reply, and a direction mark can make text read backwards.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    point = ord(match.group())
    return f"\\x{point:02x}" if point < 0x100 else f"\\u{point:04x}"


class ProtocolViolation(Exception):
    """The server broke the SMTP dialogue: the connection is dropped and nothing it said after counts."""


@dataclass(frozen=True, slots=True)
class Reply:
    code: int
    text: str  # the lines' texts joined by "\n", decoded safely (see safe_text)
    lines: tuple[str, ...] = ()  # each line's text, for EHLO's keywords

    @property
    def line(self) -> str:
        """The reply on one line, as logs and errors show it: '550 5.1.1 No such user'."""
        flat = " ".join(part.strip() for part in self.text.split("\n") if part.strip())
        return f"{self.code} {flat}".rstrip()


def safe_text(raw: bytes) -> str:
    """Server bytes as text that is safe to store and show: UTF-8 where it is, ``\\xNN`` for any byte that is not,
    and every control character but tab escaped. Never raises, never yields a lone surrogate."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("utf-8", "backslashreplace")
    if _CONTROL.search(text):
        text = _CONTROL.sub(_escape, text)
    return text


class ReplyParser:
    """Bytes in, complete replies out. Keeps at most one reply's worth of bytes (plus one read) buffered."""

    __slots__ = ("_buffer", "_code", "_lines", "_seen", "_size")

    def __init__(self) -> None:
        self._buffer = b""
        self._code = 0  # the code of the reply in progress (its first line seen), else 0
        self._lines: list[str] = []
        self._size = 0  # bytes of the reply in progress, its complete lines
        # Single-line replies already parsed, by their bytes: a session says the same few lines again and again
        # ("250 2.1.0 Ok", "354 End data with ..."), and a Reply is immutable. The first SEEN_LINES distinct
        # lines are kept, never more (the "queued as <id>" ones are each new, and are not worth keeping).
        self._seen: dict[bytes, Reply] = {}

    @property
    def pending(self) -> bool:
        """Bytes of a reply not yet complete are buffered."""
        return bool(self._buffer or self._lines)

    def feed(self, data: bytes) -> list[Reply]:
        buffer = self._buffer + data if self._buffer else data
        replies: list[Reply] = []
        start = 0
        while True:
            end = buffer.find(b"\n", start)
            if end < 0:
                break
            line = buffer[start:end]
            size = end + 1 - start
            start = end + 1
            if line.endswith(b"\r"):
                line = line[:-1]
            if not self._code and (seen := self._seen.get(line)) is not None:
                replies.append(seen)
                continue
            reply = self._line(line, size)
            if reply is not None:
                replies.append(reply)
                if len(reply.lines) == 1 and len(self._seen) < SEEN_LINES:
                    self._seen[line] = reply
        self._buffer = buffer[start:]
        if self._size + len(self._buffer) > MAX_REPLY_BYTES:
            raise ProtocolViolation(f"a reply longer than {MAX_REPLY_BYTES // 1024} KiB")
        return replies

    def _line(self, line: bytes, size: int) -> Reply | None:
        head = line[:3]
        sep = line[3:4]
        if len(head) < 3 or not head.isdigit() or sep not in (b"", b" ", b"-"):
            raise ProtocolViolation(f"not an SMTP reply line: {safe_text(line[:80])!r}")
        code = int(head)
        if not (200 <= code < 600 and head[1] in b"012345"):
            raise ProtocolViolation(f"a reply code that RFC 5321 does not have: {code}")
        if self._code and code != self._code:
            raise ProtocolViolation(f"a multi-line reply changed its code from {self._code} to {code}")
        self._code = code
        self._size += size
        self._lines.append(safe_text(line[4:]).strip())
        if self._size > MAX_REPLY_BYTES:
            raise ProtocolViolation(f"a reply longer than {MAX_REPLY_BYTES // 1024} KiB")
        if len(self._lines) > MAX_REPLY_LINES:
            raise ProtocolViolation(f"a reply of more than {MAX_REPLY_LINES} lines")
        if sep == b"-":
            return None
        lines = tuple(self._lines)
        self._code, self._lines, self._size = 0, [], 0
        return Reply(code, "\n".join(lines), lines)
