"""What a server said, made safe to store: the queue writes every reply, error and hold reason through here.

A reply whose bytes are not UTF-8 (a legacy server answering in Latin-1) reaches us as a str with lone surrogates:
aiosmtplib decodes replies with ``surrogateescape``. SQLite cannot store such a string (binding it raises
UnicodeEncodeError), a report cannot encode it, and Qt silently drops those characters. So before a write, each escaped byte
(U+DC80..U+DCFF) is shown as ``\\xNN``, the byte it stood for (Python's backslashreplace, as the SMTP client's
reply parser shows such bytes); any other lone surrogate as ``\\uNNNN``. Escaped rather than replaced with U+FFFD,
so the attempt log still says which bytes the server sent. Text that is already valid goes through unchanged.
"""

from __future__ import annotations

import dataclasses
import re
from typing import overload

from mailgui.queue.records import Attempt

_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    point = ord(match.group())
    return f"\\x{point - 0xDC00:02x}" if 0xDC80 <= point <= 0xDCFF else f"\\u{point:04x}"


def _safe(text: str | None) -> bool:
    return text is None or text.isascii() or _SURROGATE.search(text) is None


@overload
def escape_surrogates(text: str) -> str: ...
@overload
def escape_surrogates(text: None) -> None: ...
def escape_surrogates(text: str | None) -> str | None:
    """``text`` with every lone surrogate escaped (see the module's note); None stays None."""
    if text is None or _safe(text):
        return text
    return _SURROGATE.sub(_escape, text)


def storable_attempt(attempt: Attempt) -> Attempt:
    """The attempt with its error and every recipient's reply made storable (itself if they already are: the
    common case costs one check a text)."""
    if _safe(attempt.error) and all(_safe(r.reply) for r in attempt.results):
        return attempt
    results = tuple(dataclasses.replace(r, reply=escape_surrogates(r.reply)) for r in attempt.results)
    return dataclasses.replace(attempt, results=results, error=escape_surrogates(attempt.error))
