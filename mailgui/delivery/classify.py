"""What an SMTP reply means for a recipient (RFC 5321 section 4.2.1, RFC 3463 enhanced status codes).

2xx: delivered. 4xx: temporary, try again later. 5xx: permanent, give up on that recipient. Failures of the
relay as a whole (refused, timed out, TLS, 421, dropped connection, login refused) are :class:`RelayError`:
temporary for every recipient of the message, and a reason to leave the relay alone for a while.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from mailgui.errors import Error
from mailgui.queue import RecipientStatus

_ENHANCED = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})(?=\s|$)")

SERVICE_CLOSING = 421  # RFC 5321 4.2.2: the server is shutting the channel; the relay is unwell
AUTH_REFUSED = 535  # RFC 4954: authentication credentials invalid


class Outcome(StrEnum):
    DELIVERED = "delivered"
    TEMPORARY = "temporary"
    PERMANENT = "permanent"


def outcome_of(code: int) -> Outcome:
    """2xx delivered, 4xx temporary, everything else permanent.

    Codes outside 2xx-5xx are a broken server; RFC 5321 4.2.1 makes the first digit decide, and a reply we
    cannot read is not one we may call a success, nor one worth retrying forever.
    """
    if 200 <= code < 300:
        return Outcome.DELIVERED
    if 400 <= code < 500:
        return Outcome.TEMPORARY
    return Outcome.PERMANENT


def recipient_status(outcome: Outcome) -> RecipientStatus:
    return {
        Outcome.DELIVERED: RecipientStatus.DELIVERED,
        Outcome.TEMPORARY: RecipientStatus.PENDING,
        Outcome.PERMANENT: RecipientStatus.FAILED,
    }[outcome]


def enhanced_status(code: int | None, text: str, *, fallback: str = "4.0.0") -> str:
    """The RFC 3463 status of a reply: the one the server wrote at the start of its text, if it agrees with
    the reply code's class, else ``<class>.0.0``. ``fallback`` when there was no reply at all."""
    if code is None:
        return fallback
    klass = str(code)[0]
    match = _ENHANCED.match(text.lstrip())
    if match and match.group(1) == klass:
        return match.group(0)
    return f"{klass}.0.0" if klass in "245" else "5.0.0"


def reply_line(code: int | None, text: str) -> str:
    """A reply as one line, the way reports and the queue view show it: '550 5.1.1 No such user'."""
    flat = " ".join(part.strip() for part in text.splitlines() if part.strip())
    if code is None:
        return flat
    return f"{code} {flat}".rstrip()


class RelayFault(StrEnum):
    REFUSED = "refused"  # no connection (refused, unreachable, name not found)
    TIMEOUT = "timeout"
    TLS = "tls"  # handshake or certificate check failed, or TLS not offered
    CLOSING = "closing"  # 421
    DROPPED = "dropped"  # connection lost during a transaction
    AUTH = "auth"  # login refused, or no way to log in safely
    PROTOCOL = "protocol"  # the server said something we cannot work with (e.g. EHLO refused)


@dataclass
class RelayError(Error):
    """The relay itself failed. Temporary for every recipient of the message; the relay is backed off."""

    fault: RelayFault
    detail: str  # in plain words, with the server's reply when there was one
    code: int | None = None  # the server's reply code, if it answered
    reply: str = ""  # the server's reply text, if it answered

    def __post_init__(self) -> None:
        super().__init__(self.detail)

    def __str__(self) -> str:
        return self.detail

    @property
    def status(self) -> str:
        """RFC 3463 status for reports: 4.4.1 no answer, 4.4.2 bad connection, 4.7.0 security, 4.7.8 auth."""
        if self.code is not None:
            return enhanced_status(self.code, self.reply)
        return {
            RelayFault.REFUSED: "4.4.1",
            RelayFault.TIMEOUT: "4.4.1",
            RelayFault.TLS: "4.7.0",
            RelayFault.CLOSING: "4.3.2",
            RelayFault.DROPPED: "4.4.2",
            RelayFault.AUTH: "4.7.8",
            RelayFault.PROTOCOL: "4.5.0",
        }[self.fault]
