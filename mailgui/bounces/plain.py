"""Bounces that are not RFC 3464 reports: the text qmail, Exim, Exchange, Gmail, Sendmail and the rest write for a
person. They share a shape, which is what this reads rather than each vendor's exact wording: some lines of
explanation naming the failed addresses and what the remote server said, then a copy of the message (or its
headers) after a marker line."""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailgui.bounces.fields import STATUS

# An address as bounces write it: bare, in <>, after "RCPT TO:", in quotes. Local parts as RFC 5321 allows
# (unquoted), domains with at least one dot; a trailing dot is the sentence's, not the domain's.
# Starts only where a local part can start (not inside a run of its characters) and never gives back what it took
# (possessive): a long line with no @ is one pass, not a pass from every character (a 16 KiB line took 0.4 s).
ADDRESS = re.compile(r"(?<![\w.!#$%&'*+/=?^`{|}~-])[\w.!#$%&'*+/=?^`{|}~-]++@[\w-]++(?:\.[\w-]++)+", re.UNICODE)

# Lines after which the returned message starts: the explanation is what is above. Each alternative stays on its
# line ([ \t], not \s) and never gives back a run it took: a report of many blank lines or one long run of dashes
# is read in one pass (with \s* and .* there, 32 KiB of newlines took two minutes: quadratic backtracking).
_CUT = re.compile(
    r"^(?:"
    r"[ \t>]*[-=_*]{2,}+[^\n]{0,300}?(?:original|copy of|returned|headers? of|undelivered|rfc ?822|attached"
    r"|below this line|unsent message|message text|message follows|headers follow|返送|元のメッセージ)"
    r"|[ \t]*(?:below this line is a copy|message headers follow|original message follows"
    r"|the original message (?:follows|is (?:attached|included|below)|headers? (?:is|are|follows?))"
    r"|-+ ?original message|------ this is a copy of|the header of the original|a copy of the original"
    r"|included is a copy|your message reads|the headers of your message|original message header"
    r"|your original message|the message you sent|the text of your message)"
    r"|(?:return-path|received|dkim-signature|x-received|authentication-results|message-id|arc-seal"
    r"|x-google-dkim-signature|delivered-to|mime-version|content-type):"
    r")",
    re.IGNORECASE | re.MULTILINE,
)

# Local parts that name a mail system, not a person: never a failed recipient.
_SYSTEM_LOCAL = re.compile(
    r"^(?:mailer-?daemon|postmaster|post_master|mail-?daemon|daemon|root|nobody|noreply|no-reply|bounces?"
    r"|abuse|hostmaster|mdaemon|mailer)$",
    re.IGNORECASE,
)
# Lines whose addresses are the sender's, not a recipient's.
_SENDER_LINE = re.compile(
    r"^\s*(?:from|sender|reply-to|return-path|mail from|envelope-from|x-sender|x-envelope-from)\s*:|\bmail from\s*:",
    re.IGNORECASE,
)

# Lines that give an address to write to, not one that failed.
_CONTACT_LINE = re.compile(
    r"\b(?:contact|write to|send (?:mail|an email) to|e-?mail us|questions?|assistance|help desk|support)\b",
    re.IGNORECASE,
)
# What stands before a failed address on its line: nothing but punctuation, a list marker, a transcript
# prompt or a few words that introduce recipients.
_PLACED = re.compile(
    r"^[\s<>\[(*\-\d.:\"']*$"
    r"|(?:\bto|recipient|address(?:es|\(es\))?|rcpt to|for|failed|mailbox|user|account|destinataire|addressee)"
    r"[\s:;,<\[(\"']*$"
    r"|^\s*(?:<<<|>>>|\d{3}[ -])[^@]*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Found:
    address: str
    status: str | None
    diagnostic: str


def explanation(text: str) -> str:
    """The part of a bounce's text above the copy of the returned message."""
    m = _CUT.search(text)
    return text[: m.start()] if m else text


def clean_address(raw: str) -> str:
    address = raw.strip(".'\"`")
    if address.lower().startswith("mailto:"):
        address = address[7:]
    return address


def candidates(text: str, exclude: set[str]) -> list[tuple[str, int]]:
    """Addresses in the explanation that may be failed recipients, with the index of the line they are on.

    Where some stand where bounces put failed addresses (alone on a line, at its start, after "to" or
    "recipient"), only those: an address in a sentence ("please contact <help@...>") is not one.
    """
    seen: set[str] = set()
    placed: list[tuple[str, int]] = []
    loose: list[tuple[str, int]] = []
    for number, line in enumerate(text.splitlines()):
        if _SENDER_LINE.search(line) or _CONTACT_LINE.search(line):
            continue
        for m in ADDRESS.finditer(line):
            address = clean_address(m.group(0))
            local, _, domain = address.rpartition("@")
            key = address.lower()
            if not local or "." not in domain or key in exclude or key in seen or _SYSTEM_LOCAL.match(local):
                continue
            seen.add(key)
            before = line[: m.start()]
            if _PLACED.search(before):
                placed.append((address, number))
            else:
                loose.append((address, number))
    return sorted(placed or loose, key=lambda item: item[1])


def best_status(text: str) -> str | None:
    """The most specific RFC 3463 code in the text: a 5.1.1 says more than the 5.0.0 beside it."""
    codes = [f"{m.group(1)}.{int(m.group(2))}.{int(m.group(3))}" for m in STATUS.finditer(text)]
    specific = [c for c in codes if not c.endswith(".0.0")]
    chosen = specific or codes
    return chosen[0] if chosen else None


def scan(text: str, exclude: set[str]) -> list[Found]:
    """The failed recipients an explanation names, each with the text about it: from its line to the next line
    that names another of them."""
    lines = text.splitlines()
    found = candidates(text, exclude)
    keys = {address.lower() for address, _ in found}
    naming = [
        (number, {clean_address(m.group(0)).lower() for m in ADDRESS.finditer(line)} & keys)
        for number, line in enumerate(lines)
    ]
    out = []
    for address, start in found:
        key = address.lower()
        end = next((n for n, named in naming if n > start and named and key not in named), len(lines))
        diagnostic = " ".join(" ".join(lines[start:end]).split())
        if len(ADDRESS.sub("", diagnostic).split()) < 3:
            # The address alone on its line, the reason in the paragraph around it or at the end.
            diagnostic = " ".join(" ".join(lines).split())
        out.append(Found(address, best_status(diagnostic), diagnostic[:1000]))
    return out


_WARNING = re.compile(
    r"warning message only|this is a warning|(?:has been|was) delayed|will be retried|will (?:continue|keep) (?:trying|to try)"
    r"|delivery incomplete|not yet been delivered|still trying|no need to resend",
    re.IGNORECASE,
)
_FINAL = re.compile(r"permanent|fatal|given up|giving up|failed permanently|not going to try again", re.IGNORECASE)


def only_delayed(text: str) -> bool:
    """A warning that delivery is late and still being tried, with nothing said to have failed for good."""
    return bool(_WARNING.search(text)) and not _FINAL.search(text)


def stands_alone(text: str, address: str) -> bool:
    """Whether `address` is alone on a line (bare, in <>, with a colon): how bounces list failed addresses."""
    # [ \t], not \s: a pattern that may cross lines tries every blank line after every line start (quadratic).
    pattern = re.compile(rf"^[ \t]*<?{re.escape(address)}>?:?[ \t\r]*$", re.IGNORECASE | re.MULTILINE)
    return bool(pattern.search(text))


# A reply that DATA got because no recipient was taken: a consequence of the refusal, not the refusal; and the
# replies before it in the same pipelined session (RFC 2920) answered the RCPT TO commands sent with DATA.
_NO_RECIPIENTS = re.compile(r"no (?:valid )?recipients|need rcpt", re.IGNORECASE)
_REFUSAL = re.compile(r"^<<< ?([45])\d\d\b")


def transcript_command(text: str, address: str, alone: bool = False) -> str | None:
    """In a session transcript (`... while talking to host:` / `>>> RCPT TO:<...>` / `<<< 550 ...`), the command
    the first reply naming `address` answered ("CONNECT" for the greeting, before any command). When no reply
    names it and the report is about that recipient `alone`, the command the last refusal answered (the last
    permanent one, if any: earlier sessions may have failed only for a while)."""
    replies: list[tuple[str | None, str]] = []  # (command answered, reply line lower case)
    last: str | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.lower().lstrip(". ").startswith("while talking to"):
            last = "CONNECT"  # a new session: a reply before any command is the server's greeting
        elif stripped.startswith(">>>"):
            words = stripped[3:].strip().split(" ")
            last = words[0].upper().rstrip(":") if words[0] else None
        elif stripped.startswith("<<<"):
            replies.append((last, stripped.lower()))
    for i, (cmd, reply) in enumerate(replies):
        if cmd == "DATA" and any(_NO_RECIPIENTS.search(r) for c, r in replies[i + 1 :] if c == "DATA"):
            replies[i] = ("RCPT", reply)
    needle = address.lower()
    for cmd, reply in replies:
        if needle in reply:
            return cmd
    if alone:
        refusals = [
            (cmd, m.group(1)) for cmd, r in replies if (m := _REFUSAL.match(r)) and not _NO_RECIPIENTS.search(r)
        ]
        permanent = [cmd for cmd, code in refusals if code == "5"]
        return permanent[-1] if permanent else (refusals[-1][0] if refusals else None)
    return None
