"""Reserved test addresses: the built-in relay answers them like real servers do, so every path can be seen.

Each address works with any ``+tag`` (``tempfail+2@simulator.mailgui.test``), case-insensitively; the tag gives
a fresh set of counters. The list is data so the compose window's help and the README show the same thing.

Counters are kept in the queue file (table ``relay_sim``), so a restart of the relay does not reset them:

- tempfail, disconnect: counted per (envelope sender, recipient); reset once a message from that sender to that
  recipient has been accepted, so every new message sees the failures again.
- greylist: remembered per (envelope sender, recipient) and never reset, like a real greylist that whitelists a
  sender after its first retry: only the first message from a sender is greylisted.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

RESERVED_DOMAIN = "simulator.mailgui.test"

# tempfail@ answers 451 on this many attempts, then accepts.
TEMPFAIL_ATTEMPTS = 2
# slow@ is accepted after this many seconds (LocalRelay(slow_delay=...) changes it); under relay.timeout (30 s).
SLOW_DELAY = 10.0


class Behaviour(StrEnum):
    SUCCESS = "success"
    BOUNCE = "bounce"
    FULL = "full"
    TEMPFAIL = "tempfail"
    GREYLIST = "greylist"
    SLOW = "slow"
    DISCONNECT = "disconnect"
    LATE = "late"  # accepted, then a bounce comes back by mail
    COMPLAINT = "complaint"  # accepted, then a spam complaint comes back
    OOTO = "ooto"  # accepted, then an out-of-office reply comes back


# Accepted with 250, then a report comes back by mail (mailgui.relay.late_mail).
LATER_BY_MAIL = frozenset({Behaviour.LATE, Behaviour.COMPLAINT, Behaviour.OOTO})


@dataclass(frozen=True)
class ReservedAddress:
    address: str
    behaviour: Behaviour
    reply: str  # what the relay answers, in short
    description: str  # what the user will see happen


RESERVED_ADDRESSES: tuple[ReservedAddress, ...] = (
    ReservedAddress(
        f"success@{RESERVED_DOMAIN}", Behaviour.SUCCESS, "250 2.0.0 Ok", "Accepted at once; the message shows as sent."
    ),
    ReservedAddress(
        f"bounce@{RESERVED_DOMAIN}",
        Behaviour.BOUNCE,
        "550 5.1.1 User unknown (at RCPT)",
        "Refused permanently: the message bounces and a delivery report goes back to the sender.",
    ),
    ReservedAddress(
        f"full@{RESERVED_DOMAIN}",
        Behaviour.FULL,
        "552 5.2.2 Mailbox full (at RCPT)",
        "Refused permanently, mailbox over quota: the message bounces with a report to the sender.",
    ),
    ReservedAddress(
        f"tempfail@{RESERVED_DOMAIN}",
        Behaviour.TEMPFAIL,
        f"451 4.3.0 Temporary failure (at RCPT), {TEMPFAIL_ATTEMPTS} times",
        f"Refused temporarily on the first {TEMPFAIL_ATTEMPTS} attempts of each message, then accepted: "
        "shows retries with backoff.",
    ),
    ReservedAddress(
        f"greylist@{RESERVED_DOMAIN}",
        Behaviour.GREYLIST,
        "450 4.2.0 Greylisted (at RCPT), once per sender",
        "The first message from a sender is refused temporarily once, then accepted; later ones go straight in.",
    ),
    ReservedAddress(
        f"slow@{RESERVED_DOMAIN}",
        Behaviour.SLOW,
        f"250 2.0.0 Ok after {SLOW_DELAY:g} s (at DATA)",
        f"Accepted, but the relay takes {SLOW_DELAY:g} seconds to answer the message data.",
    ),
    ReservedAddress(
        f"disconnect@{RESERVED_DOMAIN}",
        Behaviour.DISCONNECT,
        "connection dropped during DATA, once per message",
        "The relay drops the connection after the message data, before answering, once per message; "
        "the retry is accepted.",
    ),
    ReservedAddress(
        f"late@{RESERVED_DOMAIN}",
        Behaviour.LATE,
        "250 2.0.0 Ok, then a bounce by mail (5.1.1 user unknown)",
        "Accepted and shown as sent; a few seconds later a bounce report arrives by mail and the recipient "
        "shows as bounced, reported later. The address is then suppressed.",
    ),
    ReservedAddress(
        f"complaint@{RESERVED_DOMAIN}",
        Behaviour.COMPLAINT,
        "250 2.0.0 Ok, then a spam complaint by mail",
        "Accepted; a few seconds later a complaint (ARF) arrives: the recipient marked the mail as spam, and the "
        "address is suppressed.",
    ),
    ReservedAddress(
        f"ooto@{RESERVED_DOMAIN}",
        Behaviour.OOTO,
        "250 2.0.0 Ok, then an out-of-office reply",
        "Accepted; a few seconds later an out-of-office reply arrives. It is shown, never counted as a bounce.",
    ),
)

_BY_LOCAL_PART = {a.behaviour.value: a.behaviour for a in RESERVED_ADDRESSES}


def reserved_behaviour(address: str) -> Behaviour | None:
    """The simulated behaviour of an envelope address, or None for an ordinary address."""
    local, at, domain = address.rpartition("@")
    if not at or domain.lower() != RESERVED_DOMAIN:
        return None
    return _BY_LOCAL_PART.get(local.partition("+")[0].lower())


def counter_key(behaviour: Behaviour, sender: str, recipient: str) -> str:
    """The relay_sim key of a counter: one per behaviour, envelope sender ('<>' when null) and recipient."""
    return f"{behaviour.value}:{(sender or '<>').lower()}:{recipient.lower()}"


def rcpt_refusal(behaviour: Behaviour, address: str, count: int) -> str | None:
    """The RCPT reply refusing ``address`` on its ``count``-th try (1-based), or None to accept it.

    Texts follow Postfix's, as real servers word them; per-recipient refusals come at RCPT, as real servers do.
    """
    if behaviour is Behaviour.BOUNCE:
        return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
    if behaviour is Behaviour.FULL:
        return f"552 5.2.2 <{address}>: Recipient address rejected: Mailbox full"
    if behaviour is Behaviour.TEMPFAIL and count <= TEMPFAIL_ATTEMPTS:
        return f"451 4.3.0 <{address}>: Temporary lookup failure"
    if behaviour is Behaviour.GREYLIST and count <= 1:
        return f"450 4.2.0 <{address}>: Recipient address rejected: Greylisted, please try again later"
    return None
