"""Writing MIME bytes directly: headers (RFC 5322 folding, RFC 2047 encoded words), text and attachment parts.

Why not ``email.message.EmailMessage`` for everything: building a message with it costs ~0.7 ms (each header
is parsed back into a token tree before it is folded), more than the whole budget of an enqueue. The output
here is plain and checked against the stdlib parser by the property tests in tests/test_message.py and
tests/test_mail.py. Text is encoded as strict UTF-8: message.py refuses lone surrogates before they reach here,
so one that slips past fails loudly instead of going out as invalid UTF-8. Pure: no I/O.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Sequence
from email import policy as email_policy
from urllib.parse import quote

CRLF = "\r\n"
MAX_LINE = 78
_WORD_BYTES = 30  # UTF-8 bytes per encoded word: "=?utf-8?b?" + 40 base64 chars + "?=" = 52 characters
# A display name goes in one encoded word when it can (up to 72 characters, within RFC 2047's 75): the
# stdlib's address parser keeps the space between two encoded words of a display name, which RFC 2047
# says to drop (python/cpython#128110), so a split name would read back with a stray space there.
_NAME_WORD_BYTES = 45
# A value that can go out as it is: printable ASCII words separated by single spaces, no "=?" (which a
# reader would take for an encoded word).
_PLAIN = re.compile(r"[!-~]+(?: [!-~]+)*")
_ATOMS = re.compile(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+(?: [A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+)*")
_QUOTABLE = re.compile(r"[ -~]*")
_SEVEN_BIT = re.compile(r"[\t\x20-\x7e]*")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 2045 token (parameter values that need no quotes)


def encoded_words(text: str, word_bytes: int = _WORD_BYTES) -> list[str]:
    """RFC 2047 'B' encoded words, UTF-8, each short enough for a folded line; never splits a character."""
    words: list[str] = []
    chunk: list[bytes] = []
    size = 0
    for ch in text:
        b = ch.encode("utf-8")
        if size + len(b) > word_bytes:
            words.append(_word(b"".join(chunk)))
            chunk, size = [], 0
        chunk.append(b)
        size += len(b)
    if chunk or not words:
        words.append(_word(b"".join(chunk)))
    return words


def _word(data: bytes) -> str:
    return "=?utf-8?b?" + base64.b64encode(data).decode("ascii") + "?="


def fold(name: str, tokens: Sequence[str]) -> str:
    """``Name: tok tok ...`` folded at the spaces between tokens so lines stay within 78 characters."""
    lines: list[str] = []
    line = name + ":"
    for tok in tokens:
        if len(line) + 1 + len(tok) > MAX_LINE and line != name + ":":
            lines.append(line)
            line = ""
        line += " " + tok
    lines.append(line)
    return CRLF.join(lines) + CRLF


def unstructured(name: str, value: str) -> str:
    """An unstructured header (Subject): as it is when plain ASCII, else encoded words."""
    if not value:
        return f"{name}: {CRLF}"
    if _PLAIN.fullmatch(value) and "=?" not in value and max(map(len, value.split(" "))) <= 900:
        return fold(name, value.split(" "))
    return fold(name, encoded_words(value))


def phrase(name: str) -> list[str]:
    """A display name as header tokens: atoms, a quoted string, or encoded words."""
    if _ATOMS.fullmatch(name) and "=?" not in name and len(name) <= 900:
        return name.split(" ")
    if _QUOTABLE.fullmatch(name) and "=?" not in name and len(name) <= 900:
        return ['"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"']
    return encoded_words(name, _NAME_WORD_BYTES)


def address_list(name: str, mailboxes: Sequence[tuple[str, str]]) -> str:
    """An address header from (display name, address) pairs; addresses are already validated."""
    tokens: list[str] = []
    for i, (display, addr) in enumerate(mailboxes):
        sep = "," if i < len(mailboxes) - 1 else ""
        if display:
            tokens.extend(phrase(display))
            tokens.append(f"<{addr}>{sep}")
        else:
            tokens.append(addr + sep)
    return fold(name, tokens)


def structured(name: str, value: str, utf8: bool) -> str:
    """A header whose syntax depends on its name (Resent-From, List-Id, ...), written by the stdlib.

    Rare (only extra headers), so the stdlib's careful per-type parsing is worth its cost here.
    """
    if _PLAIN.fullmatch(value) and "=?" not in value and len(name) + len(value) < MAX_LINE:
        return f"{name}: {value}{CRLF}"
    policy = email_policy.SMTPUTF8 if utf8 else email_policy.SMTP
    return str(policy.header_factory(name, value).fold(policy=policy))


def text_part(subtype: str, text: str) -> tuple[str, bytes]:
    """Headers and body of a text part: 7bit when it can be, else UTF-8 quoted-printable (never raw 8bit)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", CRLF)
    if _SEVEN_BIT.fullmatch(text.replace(CRLF, "")) and all(len(x) <= 998 for x in text.split(CRLF)):
        cte, data = "7bit", text.encode("ascii")
    else:
        data = binascii.b2a_qp(text.encode("utf-8"), istext=True)
        # b2a_qp ends soft line breaks with LF unless its input happens to contain a CRLF.
        cte, data = "quoted-printable", data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    headers = f'Content-Type: text/{subtype}; charset="utf-8"{CRLF}Content-Transfer-Encoding: {cte}{CRLF}'
    return headers, data


def _param(name: str, value: str) -> str:
    """``; name="value"``, or the RFC 2231 form (``name*0*=utf-8''...``) for non-ASCII or long values."""
    if _QUOTABLE.fullmatch(value) and len(value) <= 60:
        return f';{CRLF} {name}="' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    encoded = quote(value.encode("utf-8"), safe="")
    pieces: list[str] = []
    while encoded:
        cut = min(60, len(encoded))
        while cut < len(encoded) and "%" in encoded[cut - 2 : cut]:  # never split a %XX escape
            cut -= 1
        pieces.append(encoded[:cut])
        encoded = encoded[cut:]
    return "".join(f";{CRLF} {name}*{i}*=" + ("utf-8''" if i == 0 else "") + piece for i, piece in enumerate(pieces))


def attachment_part(filename: str, content_type: str, payload: bytes, content_id: str | None) -> tuple[str, bytes]:
    disposition = "inline" if content_id else "attachment"
    headers = (
        f"Content-Type: {content_type}{_param('name', filename)}{CRLF}"
        f"Content-Transfer-Encoding: base64{CRLF}"
        f"Content-Disposition: {disposition}{_param('filename', filename)}{CRLF}"
    )
    if content_id:
        headers += f"Content-ID: {content_id}{CRLF}"
    return headers, base64.encodebytes(payload).replace(b"\n", b"\r\n")


def multipart(subtype: str, parts: Sequence[tuple[str, bytes]]) -> tuple[str, bytes]:
    """Headers and body of a multipart; the boundary is random and checked against the parts."""
    while True:
        boundary = "=_" + secrets.token_hex(12)
        # Base64 and quoted-printable bodies cannot contain "=_"; only a 7bit body or a header could.
        if not any(boundary.encode() in body or boundary in head for head, body in parts):
            break
    delim = f"--{boundary}{CRLF}".encode()
    chunks: list[bytes] = []
    for head, body in parts:
        chunks += [delim, head.encode("ascii"), CRLF.encode(), body, CRLF.encode()]
    chunks.append(f"--{boundary}--{CRLF}".encode())
    headers = f'Content-Type: multipart/{subtype};{CRLF} boundary="{boundary}"{CRLF}'
    return headers, b"".join(chunks)
