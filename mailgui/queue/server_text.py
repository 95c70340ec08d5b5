"""What a server said, made safe to store: the queue writes every reply, error and hold reason through here.

A reply whose bytes are not UTF-8 (a legacy server answering in Latin-1) may reach us as a str with lone
surrogates (text decoded with ``surrogateescape``, by a reader of ours or a caller's). SQLite cannot store such a
string (binding it raises UnicodeEncodeError), a report cannot encode it, and Qt silently drops those characters. So before a write, each escaped byte
(U+DC80..U+DCFF) is shown as ``\\xNN``, the byte it stood for (Python's backslashreplace, as the SMTP client's
reply parser shows such bytes); any other lone surrogate as ``\\uNNNN``. Escaped rather than replaced with U+FFFD,
so the attempt log still says which bytes the server sent. Text that is already valid goes through unchanged.

A server's text is also kept short: the SMTP client accepts a reply of up to 64 KiB (a long multi-line reply is
legal), but a relay that answers each of 10,000 recipients with 64 KiB must not grow the queue by 640 MB an
attempt. The first ``MAX_CHARS`` characters are kept (the status code and the reason are always at the start)
and the rest is counted, so nobody mistakes the cut for what the server said.
"""

from __future__ import annotations

import dataclasses
import re
from typing import overload

from mailgui.queue.records import Attempt

_SURROGATE = re.compile("[\ud800-\udfff]")
MAX_CHARS = 2048  # of one reply, error or reason, as stored


def _escape(match: re.Match[str]) -> str:
    point = ord(match.group())
    return f"\\x{point - 0xDC00:02x}" if 0xDC80 <= point <= 0xDCFF else f"\\u{point:04x}"


def _safe(text: str | None) -> bool:
    return text is None or (len(text) <= MAX_CHARS and (text.isascii() or _SURROGATE.search(text) is None))


@overload
def escape_surrogates(text: str) -> str: ...
@overload
def escape_surrogates(text: None) -> None: ...
def escape_surrogates(text: str | None) -> str | None:
    """``text`` with every lone surrogate escaped (see the module's note); None stays None."""
    if text is None or text.isascii() or _SURROGATE.search(text) is None:
        return text
    return _SURROGATE.sub(_escape, text)


@overload
def storable_text(text: str) -> str: ...
@overload
def storable_text(text: None) -> None: ...
def storable_text(text: str | None) -> str | None:
    """``text`` escaped (see the module's note) and cut to ``MAX_CHARS`` characters, saying how many were left
    out; None stays None."""
    if _safe(text):
        return text
    assert text is not None
    text = escape_surrogates(text)
    if len(text) <= MAX_CHARS:
        return text
    return f"{text[:MAX_CHARS]} … [{len(text) - MAX_CHARS:,} more characters not kept]"


def storable_attempt(attempt: Attempt) -> Attempt:
    """The attempt with its error and every recipient's reply made storable (itself if they already are: the
    common case costs one check a text)."""
    if _safe(attempt.error) and all(_safe(r.reply) for r in attempt.results):
        return attempt
    results = tuple(dataclasses.replace(r, reply=storable_text(r.reply)) for r in attempt.results)
    return dataclasses.replace(attempt, results=results, error=storable_text(attempt.error))
