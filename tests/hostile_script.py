"""What the hostile test relay (tests/hostile_relay.py) is told to do, and what it records.

A script is asked at each step of the dialogue (the greeting, every command received, the end of the data) and
returns a list of ops, or ``None`` for the relay's normal answer. Ops, done in order; what they write goes out in
one write until a ``GAP``:

- ``DEFAULT``: the normal reply; ``Reply(b)``: a reply of the script's (either is *the command's reply*: the
  relay's own state follows the code its first line starts with: an open transaction, an accepted recipient, data
  mode after 354, a delivery after a 2xx to the end of the data, TLS after 220 to STARTTLS).
- ``Extra(b)``: bytes that answer nothing (unsolicited lines, junk); ``DUPLICATE``: the normal reply once more.
- ``GAP``: write what is pending, then let the loop run before the rest (a reply split across writes);
  ``Chop(at)``: the normal reply, cut at the offsets ``at`` into writes with a GAP between.
- ``LATER``: the command's normal reply is written after the next command's (replies out of order).
- ``CLOSE``, ``ABORT`` (reset), ``HANG`` (silent until the client goes): the end of the session, after what is
  pending is written. With no reply op at all, the command goes unanswered and the relay reads on.
- ``Flood(chunk, limit)``: write ``chunk`` again and again, one a turn of the event loop (so about as fast as a
  client in the same loop reads; kernel buffers would otherwise hide how much it took), up to ``limit`` bytes,
  then hang. ``CutData(n)`` (at DATA): after the 354, hang up once ``n`` bytes of the message came.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum

STEPS = ("GREETING", "EHLO", "HELO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA", "EOD", "RSET", "QUIT", "NOOP")
CRLF = b"\r\n"


class Op(Enum):
    DEFAULT = "default"
    DUPLICATE = "duplicate"
    GAP = "gap"
    LATER = "later"
    CLOSE = "close"
    ABORT = "abort"
    HANG = "hang"


DEFAULT, DUPLICATE, GAP, LATER = Op.DEFAULT, Op.DUPLICATE, Op.GAP, Op.LATER
CLOSE, ABORT, HANG = Op.CLOSE, Op.ABORT, Op.HANG


@dataclass(frozen=True)
class Reply:
    """Bytes of the command's own reply (its state follows their first code)."""

    data: bytes


@dataclass(frozen=True)
class Extra:
    """Bytes that answer no command."""

    data: bytes


@dataclass(frozen=True)
class Chop:
    """The normal reply, written in pieces cut at these offsets (those past its end are ignored)."""

    at: tuple[int, ...]


@dataclass(frozen=True)
class Flood:
    chunk: bytes
    limit: int


@dataclass(frozen=True)
class CutData:
    after: int


Action = Sequence[Op | Reply | Extra | Chop | Flood | CutData]


def reply(*lines: str | bytes) -> tuple[Reply]:
    """One reply, each line ended with CRLF: ``reply("250-a", "250 b")``."""
    raw = b"".join((line.encode() if isinstance(line, str) else line) + CRLF for line in lines)
    return (Reply(raw),)


def split(raw: bytes, *at: int) -> tuple[Reply | Op, ...]:
    """``raw`` as the command's reply, written in pieces cut at the offsets ``at``."""
    cuts = [0, *sorted(at), len(raw)]
    ops: list[Reply | Op] = []
    for start, end in itertools.pairwise(cuts):
        if ops:
            ops.append(GAP)
        ops.append(Reply(raw[start:end]))
    return tuple(ops)


@dataclass(frozen=True)
class Step:
    """What the script is asked about. ``nth``: this step's count on its connection; ``total``: on the server;
    ``rcpt``: a RCPT's place in its transaction (1-based), else 0."""

    verb: str
    arg: bytes
    connection: int
    nth: int
    total: int
    rcpt: int
    tls: bool


@dataclass
class _Rule:
    verb: str
    ops: Action
    when: Callable[[Step], bool] | None
    times: int | None


class Script:
    """Rules tried in the order given; the first that matches (with uses left) acts; no match: the default."""

    def __init__(self) -> None:
        self.rules: list[_Rule] = []

    def on(
        self,
        verb: str,
        *ops: Op | Reply | Extra | Chop | Flood | CutData,
        when: Callable[[Step], bool] | None = None,
        times: int | None = None,
    ) -> Script:
        if verb not in STEPS:
            raise ValueError(f"verb: {verb!r} is not one of {', '.join(STEPS)}")
        self.rules.append(_Rule(verb, ops, when, times))
        return self

    def __call__(self, step: Step) -> Action | None:
        for rule in self.rules:
            if rule.verb != step.verb or (rule.times is not None and rule.times <= 0):
                continue
            if rule.when is not None and not rule.when(step):
                continue
            if rule.times is not None:
                rule.times -= 1
            return rule.ops
        return None


@dataclass
class Transaction:
    """One MAIL the server took, and what became of it."""

    connection: int
    mail_from: str | None  # None: DATA was taken with no MAIL accepted (a script said 354 anyway)
    accepted: list[str] = field(default_factory=list)  # RCPTs answered 250/251
    refused: list[str] = field(default_factory=list)
    said_354: bool = False
    data: bytes | None = None  # the message, dot-unstuffed, only if it came whole (up to CRLF.CRLF)
    end_code: int | None = None  # the code it answered the end of the data with

    @property
    def delivered(self) -> bool:
        return (
            self.mail_from is not None
            and self.said_354
            and self.data is not None
            and self.end_code == 250  # the only reply that ends the data (RFC 5321 4.3.2): no other 2xx proves it
        )

    @property
    def marker(self) -> str | None:
        """The message's Message-ID, as the queue shows it."""
        if self.data is None:
            return None
        m = re.search(rb"^Message-ID:[ \t]*(<[^>\r\n]*>)", self.data, re.MULTILINE | re.IGNORECASE)
        return m.group(1).decode("ascii", "replace") if m else None


@dataclass
class ConnectionRecord:
    number: int
    transcript: list[tuple[str, bytes]] = field(default_factory=list)  # ("C", line), ("S", write), ("*", event)
    commands: list[tuple[str, int]] = field(default_factory=list)  # (verb, index of the read that completed it)
    reads: int = 0
    sent: int = 0  # bytes written to the client
    tls: bool = False
    discarded_at_tls: bytes = b""  # plain text the client sent after STARTTLS, thrown away at the handshake
    # (verb, the RCPT's address or "", the code of the server's own reply or None): what it answered, as opposed
    # to the lines it added (Extra, DUPLICATE) that answer nothing
    answers: list[tuple[str, str, int | None]] = field(default_factory=list)
    transactions: list[Transaction] = field(default_factory=list)
    closed_by_client: bool = False

    def verbs(self) -> list[str]:
        return [verb for verb, _ in self.commands]

    def groups(self) -> list[list[str]]:
        """The commands, grouped by the read that brought them (several per group: they were pipelined)."""
        out: dict[int, list[str]] = {}
        for verb, index in self.commands:
            out.setdefault(index, []).append(verb)
        return [out[i] for i in sorted(out)]


_CODE = re.compile(rb"([0-9]{3})(?:[ \-\r]|$)")


def first_code(raw: bytes) -> int | None:
    m = _CODE.match(raw)
    return int(m.group(1)) if m else None
