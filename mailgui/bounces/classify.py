"""From what a server said to a reason class.

Servers say the same thing in two ways, an RFC 3463 status code and words, and both lie sometimes: 5.1.1 is sent
for "too many recipients this hour", 5.7.1 for "user unknown", 5.1.10 (null MX) by Microsoft for an unknown
recipient, and many servers send x.0.0 whatever the cause. So:

1. Words that say one specific thing ("user unknown", "mailbox full", "relay access denied") decide. When words
   of several classes are there ("550 5.7.1 unknown user: your IP is listed as spam"), the status code picks
   among them, and without one, the class listed first below. One exception: "user unknown" with a code that
   says the mailbox exists but takes no mail (5.2.1 disabled) is `other`, unless it answered RCPT TO.
2. Otherwise a specific status code decides ("550 5.7.1 ..." is `blocked`).
3. Otherwise vaguer words ("rejected", "denied", "not accepted"), then `other`.

Then where the refusal happened: an "unknown user" answered to the message's data (not to RCPT TO) comes from a
filter that read the message, not from a directory lookup, and is `other` (unless its status is 5.1.1: pipelined
sessions answer RCPT TO after DATA is sent, so a transcript can show DATA before a true unknown user; where the
transcript shows DATA refused for want of recipients, `plain.transcript_command` already says RCPT); a refusal of
MAIL FROM is the sender (or its domain) refused, and one at the greeting the sending host (`blocked`). A domain not found on a temporary (4.x.x) failure, or "Host not found, try again", is
the reporting MTA's own DNS trouble (`other`), not a verdict on the domain.
"""

from __future__ import annotations

import re
from enum import StrEnum

from mailgui.bounces.report import Reason


class Command(StrEnum):
    """The SMTP command a refusal answered, when the report says."""

    CONNECT = "connect"
    MAIL = "mail"
    RCPT = "rcpt"
    DATA = "data"


# Status codes (class stripped: "1.1" for 5.1.1 and 4.1.1) that say enough on their own: RFC 3463 and the enhanced
# status code registry (RFC 5248 and later: 7.23-7.29 SPF/DKIM/DMARC/reverse DNS, 1.10 null MX).
_BY_STATUS: dict[str, Reason] = {
    "1.1": Reason.UNKNOWN_USER,  # bad destination mailbox address
    "1.2": Reason.DOMAIN_NOT_FOUND,  # bad destination system address
    "1.10": Reason.DOMAIN_NOT_FOUND,  # the domain publishes a null MX: it takes no mail
    "1.6": Reason.OTHER,  # mailbox has moved
    "1.7": Reason.BLOCKED,  # bad sender's mailbox address syntax: the sender was refused
    "1.8": Reason.BLOCKED,  # bad sender's system address
    "2.1": Reason.OTHER,  # mailbox disabled
    "2.2": Reason.MAILBOX_FULL,
    "2.3": Reason.TOO_LARGE,  # message length exceeds administrative limit
    "3.4": Reason.TOO_LARGE,  # message too big for system
    "4.3": Reason.OTHER,  # directory server failure
    "4.4": Reason.OTHER,  # unable to route: no MX or address found to send to (qmail's "couldn't find a mail exchanger")
    "4.7": Reason.EXPIRED,  # delivery time expired
    "7.13": Reason.OTHER,  # user account disabled
}

# Words that say one thing. Lower case regular expressions over text whose white space runs are single spaces.
_STRONG: list[tuple[Reason, tuple[str, ...]]] = [
    (
        Reason.TOO_LARGE,
        (
            r"message (?:is )?too (?:large|big)",
            r"message size (?:exceeds|limit)",
            r"exceeds? (?:the )?(?:maximum|max|fixed maximum) (?:message )?size",
            r"size (?:exceeds|limit exceeded)",
            r"message length exceeds",
            r"mail size limit",
            r"too large for",
            r"message exceeded the size",
        ),
    ),
    (
        Reason.MAILBOX_FULL,
        (
            r"mail ?box (?:is )?full",
            r"mail ?box (?:size limit )?(?:has )?exceeded",
            r"over (?:the |his |her )?(?:storage )?quota",
            r"quota (?:exceeded|exceed|full|violation)",
            r"exceeded (?:the |his/her |its |their |his |her )?(?:storage|quota|mailbox)",
            r"(?:disk|storage|mail) quota",
            r"(?:inbox|mailfolder|mailbox|account) (?:is )?full",
            r"full mailbox",
            r"out of storage",
            r"insufficient (?:disk )?space",
            r"user has exceeded",
            r"not enough (?:disk )?space",
            r"mailbox size limit",
            r"too many messages in (?:this|the) mailbox",
        ),
    ),
    (
        Reason.EXPIRED,
        (
            r"retry time(?:out)? exceeded",
            r"too long in (?:the )?queue|in the queue too long",
            r"delivery time expired",
            r"message expired",
            r"has expired",
            r"message timed out",
            r"could not be delivered within",
            r"could not deliver for the last",
            r"(?:maximal|maximum) queue lifetime",
            r"retry time not reached for any host after a long failure period",
            r"(?:all hosts|host) (?:have|has) been failing for a long time",
            r"was not delivered.{0,40}(?:days|hours)",
            r"(?:have|has) been (?:delayed|undeliverable) for",
            r"time limit (?:exceeded|has been exceeded)",
            r"did not accept our requests to connect",
            r"timeout waiting for",
        ),
    ),
    (
        Reason.OTHER,
        (
            # not relaying (a configuration problem between the servers)
            r"relay(?:ing)? (?:access )?(?:denied|not permitted|prohibited|not allowed)",
            r"(?:unable|not permitted|not allowed) to relay",
            r"we do not relay",
            r"\bno relaying\b",
            # a mailbox that exists but is disabled, suspended or locked
            r"(?:account|mailbox|recipient|user|address)\b.{0,40}\b(?:disabled|suspended|inactive|deactivated"
            r"|locked|frozen|is blocked|est bloque)",
            r"disabled (?:recipient|mailbox|account)",
            # too much, too fast
            r"too many (?:connections|recipients|messages|sessions|concurrent)",
            r"(?:connection|sending) (?:frequency|rate) (?:limit|exceeded)",
            r"rate limit",
            # moved
            r"(?:has|have) moved|no longer (?:with|at|available at)",
            # the remote system's own trouble, or a broken connection
            r"(?:upstream|internal|system) error",
            r"lost connection",
            r"connection (?:refused|reset|timed out)",
            r"no route to host",
            r"temporary (?:failure|problem|local problem)",
            r"mail (?:loop|for .* loops back)",
            r"too many hops",
            r"not accepting (?:network )?messages",
            # no encrypted channel could be set up: the two servers' TLS settings, not the message or recipient
            r"(?:does not|doesn't) (?:support|offer) (?:tls|starttls)|tls (?:negotiation|handshake) failed",
        ),
    ),
    (
        Reason.DOMAIN_NOT_FOUND,
        (
            r"host (?:or domain name )?(?:not found|unknown)",
            r"unknown host",
            r"domain (?:name )?(?:not found|does not exist|doesn't exist|not exist|unknown|is not valid"
            r"|is not reachable|not reachable)",
            r"no such domain",
            r"unknown domain",
            r"name or service not known",
            r"nxdomain",
            r"address resolution of .* failed",
            r"no mx (?:record|host)",
            r"unrouteable (?:mail )?domain",
            r"unroutable address|unrouteable address",
            r"domain couldn't be found",
            r"not a valid domain",
            r"dns type 'mx' lookup",
            r"(?<![@\w.-])[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,} does not exist",  # a domain name, not an address
        ),
    ),
    (
        Reason.BLOCKED,
        (
            r"spam",
            r"\bjunk\b",
            r"\bblock(?:ed|list|listed)\b",
            r"black ?list",
            r"\brbl\b|\bdnsbl\b|\bdnsrbl\b",
            r"spamhaus|spamcop|barracuda|sorbs|senderscore|cloudmark",
            r"reputation",
            r"\bdmarc\b|\bspf\b|\bdkim\b",
            r"authentication (?:failed|failure|required|results)",
            r"not authenticated|unauthenticated",
            r"reverse (?:dns|lookup)|\bptr\b|\brdns\b|ip name lookup failed|mismatches client ip",
            r"may not be mail exchanger",
            r"virus|malware|infected",
            r"content (?:rejected|filter)",
            r"rfc ?5322|rfc ?2822|rfc ?822 compliant|not compliant|does not comply|header error|protocol violation",
            r"purported responsible address",
            r"sender (?:address )?(?:rejected|denied|refused|verify failed|is not allowed)",
            r"sender domain",
            r"\b(?:from|sender)(?: address| domain)?:? (?:address |domain )?is (?:invalid|not valid)",
            r"(?:client|sender) host rejected",
            r"refused to talk to me",
            r"(?:ip|address|host|you|domain|server) (?:is |are |was |has been )?(?:black)?listed",
            r"listed (?:at|on|by)\b|listed in (?:the )?(?:rbl|dnsbl|spam|black|block|[\w.-]+\.(?:org|net|com))",
            r"network not allowed",
            r"messages from .* temporarily deferred",
            r"permission to post|groups\.google\.com/support",  # Google Groups, which writes in the sender's tongue
            r"suspicious",
            r"policy violation|violat\w* (?:our|the) policy",
        ),
    ),
    (
        Reason.UNKNOWN_USER,
        (
            r"user unknown",
            r"unknown user",
            r"no such (?:user|mailbox|recipient|person|account|address)",
            r"(?:recipient|user|mailbox|address|account|addressee)s? (?:is |was )?(?:not found|unknown|does ?n[o']t exist"
            r"|not exist|not listed|wasn.t found)",
            r"unknown (?:recipient|address|local[- ]part|mailbox|account)",
            r"invalid (?:recipient|mailbox|user|address)",
            r"(?:mailbox|address|recipient|user|account) (?:\S+ )?(?:does not|doesn't) exist",
            r"not a valid (?:mailbox|user|recipient|address)",
            r"no mailbox here",
            r"(?:mailbox|recipient|user) not available",
            r"is not a (?:known|valid) user",
            r"not our customer",
            r"doesn't have an? .{0,40}account",
            r"bad destination mailbox",
            r"unknown or illegal alias",
            r"undeliverable address",
            r"user .{0,60} (?:not|isn't) (?:found|known|valid|listed)",
            r"not listed in (?:domino directory|public name & address book)",
            r"recipientnotfound",
            r"email account that you tried to reach does not exist",
        ),
    ),
]

# Words that lean one way but are said of many things: used only when nothing above spoke.
_WEAK: list[tuple[Reason, tuple[str, ...]]] = [
    (Reason.EXPIRED, (r"giving up", r"given up")),
    (
        Reason.UNKNOWN_USER,
        (
            r"does not exist",
            r"mailbox unavailable",
            r"address rejected",
            r"recipient rejected",
            r"check (?:if|that|whether) (?:the )?(?:e-?mail )?address is (?:correct|valid|right)",
        ),
    ),
    (Reason.BLOCKED, (r"policy", r"prohibited|forbidden", r"access denied", r"message rejected", r"\brejected\b")),
]


def _compile(table: list[tuple[Reason, tuple[str, ...]]]) -> list[tuple[Reason, re.Pattern[str]]]:
    return [(reason, re.compile("|".join(f"(?:{p})" for p in phrases))) for reason, phrases in table]


_STRONG_RE = _compile(_STRONG)
_WEAK_RE = _compile(_WEAK)

_COMMANDS = [
    (
        Command.DATA,
        re.compile(
            r"in reply to (?:end of )?data|after (?:end of )?data|>>> data|our (?:final )?data\b"
            r"|smtp command:? data|data command|after the data"
        ),
    ),
    (
        Command.RCPT,
        re.compile(r"in reply to rcpt|after rcpt|>>> rcpt|our rcpt|rcpt to command|smtp command:? rcpt|\[rcpt_to\]"),
    ),
    (Command.MAIL, re.compile(r"in reply to mail from|after mail from|>>> mail from|our mail from|mail from command")),
    (
        Command.CONNECT,
        re.compile(
            r"after initial connection|in reply to (?:the )?(?:initial|greeting)|"
            r"refused to talk to me|while connected"
        ),
    ),
]


def flat(text: str) -> str:
    return " ".join(text.lower().split())


def by_status(status: str | None) -> Reason | None:
    """The class a status code gives on its own, or None when it is generic or absent."""
    if not status:
        return None
    _, _, rest = status.partition(".")
    if rest in _BY_STATUS:
        return _BY_STATUS[rest]
    if rest.startswith("7.") and rest != "7.0":  # 7.0, "other or undefined security status", says no more than 0.0
        return Reason.BLOCKED  # x.7.y: security or policy status
    return None


def _matches(table: list[tuple[Reason, re.Pattern[str]]], text: str) -> list[Reason]:
    """The classes whose words are in the text, the one said first first (a server's reply comes before what
    the reporting MTA adds about its own later tries)."""
    found = [(m.start(), i, reason) for i, (reason, pattern) in enumerate(table) if (m := pattern.search(text))]
    return [reason for _, _, reason in sorted(found)]


def command(text: str) -> Command | None:
    """The SMTP command the refusal answered, when the text says (the first one named)."""
    lowered = flat(text)
    found = [(m.start(), cmd) for cmd, pattern in _COMMANDS if (m := pattern.search(lowered))]
    return min(found)[1] if found else None


def classify(status: str | None, diagnostic: str, context: str = "", cmd: Command | None = None) -> Reason:
    """The reason for one failed recipient.

    `diagnostic` is what was said about this recipient; `context` the rest of the report's human-readable text,
    read only when the diagnostic and the status say nothing; `cmd` the command the refusal answered, if known.
    """
    reason = _reason(status, flat(diagnostic), flat(context), cmd)
    if reason is Reason.UNKNOWN_USER and cmd is Command.DATA and by_status(status) is not Reason.UNKNOWN_USER:
        return Reason.OTHER  # refused after the data: a filter's verdict on the message, not a missing mailbox
    if reason is Reason.OTHER and cmd is Command.CONNECT and not _matches(_STRONG_RE, flat(diagnostic)):
        return Reason.BLOCKED  # refused at the greeting, before a sender or recipient was named: the sending host
    if reason in (Reason.UNKNOWN_USER, Reason.DOMAIN_NOT_FOUND, Reason.OTHER) and cmd is Command.MAIL:
        return Reason.BLOCKED  # the sender (or its domain) was refused, before any recipient was named
    if reason is Reason.DOMAIN_NOT_FOUND and (
        (status or "").startswith("4") or "not found, try again" in flat(diagnostic)
    ):
        return Reason.OTHER  # a temporary DNS failure at the reporting MTA (the resolver's TRY_AGAIN)
    return reason


def _reason(status: str | None, diagnostic: str, context: str, cmd: Command | None = None) -> Reason:
    from_status = by_status(status)
    strong = _matches(_STRONG_RE, diagnostic)
    if strong:
        if from_status in strong:
            return from_status
        if strong[0] is Reason.UNKNOWN_USER and from_status is Reason.OTHER and cmd is not Command.RCPT:
            # "550 5.2.1 ... User Unknown": the code says the mailbox is there but takes nothing (disabled, moved).
            # Only an answer to RCPT TO, the directory lookup itself, makes the words the verdict.
            return from_status
        return strong[0]
    if from_status is not None:
        return from_status
    strong = _matches(_STRONG_RE, context)
    if strong:
        return strong[0]
    for text in (diagnostic, context):
        weak = _matches(_WEAK_RE, text)
        if weak:
            return weak[0]
    return Reason.OTHER
