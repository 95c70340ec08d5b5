"""RFC 3464 delivery-status fields: header-like blocks, read from a message/delivery-status part or from text that
carries the same fields (some MTAs send them as text/plain, or base64-encoded)."""

from __future__ import annotations

import re
from dataclasses import dataclass

Block = dict[str, str]  # field name, lower case -> value (first occurrence wins), unfolded

_FIELD = re.compile(r"^([A-Za-z][A-Za-z0-9-]*)[ \t]*:[ \t]*(.*)$")
STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.]*\d)")
RECIPIENT_FIELDS = ("final-recipient", "original-recipient", "x-actual-recipient")


def parse_blocks(text: str) -> list[Block]:
    """Header-like blocks separated by blank lines, continuation lines unfolded."""
    blocks: list[Block] = []
    current: Block = {}
    last: str | None = None
    for line in text.splitlines():
        if not line.strip():
            if current:
                blocks.append(current)
            current, last = {}, None
            continue
        if line[0] in " \t" and last is not None:
            current[last] = (current[last] + " " + line.strip()).strip()
            continue
        m = _FIELD.match(line)
        if m is None:
            last = None
            continue
        name = m.group(1).lower()
        last = name if name not in current else None
        if last is not None:
            current[name] = m.group(2).strip()
    if current:
        blocks.append(current)
    return blocks


@dataclass(frozen=True)
class DsnRecipient:
    address: str
    action: str  # lower case: failed, delayed, delivered, relayed, expanded, or what the MTA wrote
    status: str | None
    diagnostic: str
    remote_mta: str | None


def typed_value(value: str) -> str:
    """`rfc822; <bob@example.com>` -> `bob@example.com`; `smtp; 550 ...` -> `550 ...`."""
    _, sep, rest = value.partition(";")
    text = rest if sep and re.fullmatch(r"\s*[A-Za-z][\w./-]*\s*", _) else value
    return text.strip()


def bare_address(value: str) -> str:
    text = typed_value(value).strip().strip("<>\"' ").strip()
    m = re.search(r"<([^<>\s]+@[^<>\s]+)>", text)
    if m:
        return m.group(1)
    return text.split()[0] if text.split() else ""


def status_code(value: str) -> str | None:
    m = STATUS.search(value)
    return f"{m.group(1)}.{int(m.group(2))}.{int(m.group(3))}" if m else None


def recipients(blocks: list[Block]) -> list[DsnRecipient]:
    found = []
    for block in blocks:
        address = ""
        for name in ("final-recipient", "original-recipient", "x-actual-recipient"):
            if name in block:
                address = bare_address(block[name])
                if _is_address(address):
                    break
        if not _is_address(address):
            continue  # "rfc822; @mx.example.org": a route, not a mailbox; the text may name the recipient
        diagnostic = " ".join(typed_value(block.get("diagnostic-code", "")).split())
        status = status_code(block.get("status", "")) or status_code(diagnostic)
        remote = typed_value(block.get("remote-mta", "")) or None
        found.append(DsnRecipient(address, block.get("action", "").strip().lower(), status, diagnostic, remote))
    return found


def _is_address(value: str) -> bool:
    local, at, domain = value.rpartition("@")
    return bool(at and local and domain)


# "5.1.0 - Unknown address error 550-'5.7.1 <...>... Access denied' (delivery attempts: 0)": Amazon SES's own
# reading of the reply first, then the remote server's reply in quotes.
_QUOTED_REPLY = re.compile(r"^[245]\.\d{1,3}\.\d{1,3} - [^']*?\b([245]\d\d)[- ]'(.+)'")


def quoted_reply(status: str | None, diagnostic: str) -> tuple[str | None, str]:
    """The status and text to class a recipient by: where the reporting MTA glosses the remote server's reply and
    quotes it, the reply itself (and its status code, when the report's own is the generic x.0.0)."""
    m = _QUOTED_REPLY.match(diagnostic)
    if m is None:
        return status, diagnostic
    said = f"{m.group(1)} {m.group(2)}"
    own = status_code(said)
    if own is not None and (status is None or status.endswith(".0.0")):
        status = own
    return status, said
