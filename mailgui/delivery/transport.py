"""SMTP to the relay: sessions that are reused across messages, a strict dialogue, and RFC 2920 pipelining.

mailgui speaks SMTP itself (``wire.SmtpWire``, ``replies.ReplyParser``) instead of through aiosmtplib, for two
reasons measured and written down in docs/DESIGN.md: aiosmtplib keeps plain-text bytes across STARTTLS and lets a
reply nobody asked for stand in for the next command's (so a broken or hostile relay could make mail look sent),
and it cannot pipeline. Every reply is checked against the replies RFC 5321 allows for its command: ``354`` and
only ``354`` to DATA, and the ``250`` after the data is the only proof of delivery. Anything else that is not a
plain refusal (4xx/5xx) is a protocol violation: the connection is dropped and the relay counted as failing for
now (``RelayFault.PROTOCOL``), never a delivery and never a bounce on its word.

A transaction is MAIL, RCPT per recipient, DATA; with PIPELINING one write carries them all (and the RSET that
clears a reused session), and the replies are read back in order. A refused recipient does not abort the others.
``452`` (too many recipients) after some were accepted sends the rest in the next transaction at once, and the
limit is remembered for the relay. Every network step runs under the relay's timeout. Certificate checks are
always on; ``relay.ca_file`` adds a CA to trust.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from mailgui.delivery.classify import (
    SERVICE_CLOSING,
    Outcome,
    RelayError,
    enhanced_status,
    outcome_of,
    reply_line,
)
from mailgui.delivery.replies import Reply
from mailgui.delivery.session import (
    READ_SIZE,
    SILENT_GREETING_HINT,
    RelayLimits,
    SmtpSession,
    relay_error,
    small_reads,
    tls_context,
    violation_error,
)
from mailgui.delivery.wire import Disconnected

__all__ = [
    "READ_SIZE",
    "SILENT_GREETING_HINT",
    "PartlySent",
    "RecipientReply",
    "RelayLimits",
    "SmtpConnection",
    "SmtpSession",
    "StaleConnection",
    "data_bytes",
    "is_too_many_recipients",
    "relay_error",
    "small_reads",
    "tls_context",
    "violation_error",
]

log = logging.getLogger(__name__)

# A fresh connection idle longer than this (one opened by a probe, say) is checked with RSET before it
# carries a message; servers drop idle clients (Postfix after 300 s). A reused one always is: see deliver().
IDLE_CHECK_SECONDS = 5.0

# The DATA step (354, the upload, the final reply) gets relay.timeout plus the time to upload the message at this
# rate, so a large attachment on a slow uplink is not taken for a dead relay. RFC 5321 4.5.3.2 allows minutes for
# the data blocks and 10 for the final reply; a small message still gets about relay.timeout.
SLOW_UPLOAD_BYTES_PER_SECOND = 32 * 1024

TOO_MANY_RECIPIENTS = 452  # RFC 5321 4.5.3.1.10 (and 552 with 5.5.3 from servers of RFC 821's day)

_LINE_ENDINGS = re.compile(rb"\r\n|\r|\n")


@dataclass(frozen=True)
class RecipientReply:
    """What the server said about one recipient, and at which step ('RCPT TO', 'end of DATA', ...)."""

    address: str
    code: int | None
    text: str
    stage: str
    outcome: Outcome

    @property
    def line(self) -> str:
        return reply_line(self.code, self.text)


class StaleConnection(Exception):
    """A reused connection turned out to be closed before this transaction began; nothing was sent."""


class PartlySent(Exception):
    """The session failed after earlier transactions of this message had settled some recipients (the relay takes
    fewer recipients a transaction: 452). Those outcomes are real (a 250 after the data is a delivery) and must be
    recorded, never sent again; ``error`` is why the rest were not (a StaleConnection: try them elsewhere now)."""

    def __init__(self, settled: dict[str, RecipientReply], error: RelayError | StaleConnection):
        super().__init__(str(error))
        self.settled = settled
        self.error = error


def data_bytes(raw: bytes) -> bytes:
    """The message as DATA carries it: CRLF line ends, a leading dot doubled (RFC 5321 4.5.2), the final dot.

    Stored messages are already CRLF, so normally this is two scans and one copy, not a regex per message."""
    crlf = raw.count(b"\r\n")
    if raw.count(b"\n") != crlf or raw.count(b"\r") != crlf:
        raw = _LINE_ENDINGS.sub(b"\r\n", raw)
    if raw.startswith(b"."):
        raw = b"." + raw
    if b"\n." in raw:
        raw = raw.replace(b"\n.", b"\n..")
    if not raw.endswith(b"\r\n"):
        raw += b"\r\n"
    return raw + b".\r\n"


def is_too_many_recipients(reply: Reply) -> bool:
    """452 saying 4.5.3 (or no enhanced status at all), or RFC 821's 552 with 5.5.3. A "452 4.2.2 mailbox full"
    is that recipient's own temporary failure, not the relay's limit."""
    status = enhanced_status(reply.code, reply.text, fallback="")
    if reply.code == TOO_MANY_RECIPIENTS:
        return status in ("4.5.3", "4.0.0")
    return reply.code == 552 and status == "5.5.3"


class SmtpConnection(SmtpSession):
    """One SMTP session with the relay. ``open()`` connects, secures and logs in; ``deliver()`` sends."""

    # -- one message ----------------------------------------------------------------------------------
    async def deliver(self, sender: str, recipients: Sequence[str], raw: bytes, smtputf8: bool) -> list[RecipientReply]:
        """Send ``raw`` to ``recipients``: one reply per recipient, in order.

        Usually one transaction; more when the relay takes fewer recipients at a time (``452``), each sent at
        once on this session. Raises RelayError when the relay fails as a whole (421, dropped, timeout, a
        protocol violation), StaleConnection when a reused connection was already closed before anything was sent.
        """
        replies: dict[str, RecipientReply] = {}
        try:
            return await self._deliver(sender, recipients, raw, smtputf8, replies)
        except (StaleConnection, RelayError) as exc:
            if replies:  # earlier transactions of this message went through: their outcomes stand
                raise PartlySent(replies, exc) from exc
            raise

    async def _deliver(
        self, sender: str, recipients: Sequence[str], raw: bytes, smtputf8: bool, replies: dict[str, RecipientReply]
    ) -> list[RecipientReply]:
        loop = asyncio.get_running_loop()
        try:
            if not self.is_open:
                raise StaleConnection(self.target.name)
            options, encoding = self._mail_options(raw, smtputf8)
            if options is None:  # SMTPUTF8 needed and not offered: no transaction can carry it
                if self.esmtp:  # it listed what it supports, and this is not in the list (Postfix bounces, 5.6.7)
                    text = f"5.6.7 SMTPUTF8 is required, but was not offered by {self.target.name}"
                    return [RecipientReply(a, None, text, "MAIL FROM", Outcome.PERMANENT) for a in recipients]
                # It refused EHLO and spoke HELO: it said nothing of what it supports, so nothing is refused yet.
                text = f"4.6.7 SMTPUTF8 is required, and {self.target.name} answered HELO only (EHLO refused)"
                return [RecipientReply(a, None, text, "EHLO", Outcome.TEMPORARY) for a in recipients]
            data = data_bytes(raw)
            # Each step's reply must come within its time (SmtpWire.read's deadline; no timer while replies wait).
            remaining = list(recipients)
            while remaining:
                limit = self.limits.max_recipients or len(remaining)
                batch, later = remaining[:limit], remaining[limit:]
                # RSET between transactions, as Postfix does before reusing a connection: it clears what a
                # refused or broken transaction left behind, and finds a connection the server has closed
                # before anything of this message is sent (then it is a StaleConnection, retried elsewhere).
                reset = bool(self.transactions) or loop.time() - self.last_used > IDLE_CHECK_SECONDS
                settled, left = await self._transaction(sender, batch, data, options, encoding, reset)
                self.transactions += 1
                self.last_used = loop.time()
                replies.update(settled)
                if left:
                    took = len(batch) - len(left)
                    self.limits.max_recipients = min(self.limits.max_recipients or took, took)
                    log.info("%s takes %d recipients a transaction; the rest go in the next", self.target.name, took)
                remaining = left + later
        except StaleConnection:
            self.abort()
            raise
        except Disconnected as exc:
            self.abort()
            if self.stage == "RSET":  # closed while idle, seen at the first reply: nothing was sent
                raise StaleConnection(self.target.name) from exc
            raise relay_error(exc, self.target, self.stage, self.allowed) from exc
        except RelayError:
            self.abort()
            raise
        except asyncio.CancelledError:
            self.abort()  # the server may be mid-transaction: this connection is done for
            raise
        except Exception as exc:
            self.abort()
            raise relay_error(exc, self.target, self.stage, self.allowed) from exc
        return [replies[a] for a in recipients]

    def _mail_options(self, raw: bytes, smtputf8: bool) -> tuple[bytes | None, str]:
        options = b""
        encoding = "ascii"
        if smtputf8:
            if not self.supports("smtputf8"):
                return None, encoding
            options += b" SMTPUTF8"
            encoding = "utf-8"
        if not raw.isascii() and self.supports("8bitmime"):
            options += b" BODY=8BITMIME"
        return options, encoding

    async def _transaction(
        self, sender: str, recipients: list[str], data: bytes, options: bytes, encoding: str, reset: bool
    ) -> tuple[dict[str, RecipientReply], list[str]]:
        """One transaction: the replies of the recipients it settled, and those left for the next one (452).

        With PIPELINING, RSET (when reusing), MAIL, every RCPT and DATA go in one write and their replies are read
        in order; without it, one command at a time, stopping where the dialogue cannot go on. Addresses were
        validated when queued, so they are sent as they are."""
        wire = self.wire
        assert wire is not None
        pipelined = self.pipelining
        mail = b"MAIL FROM:<" + sender.encode(encoding) + b">" + options + b"\r\n"
        rcpts = [b"RCPT TO:<" + a.encode(encoding) + b">\r\n" for a in recipients]
        if pipelined:
            group = [b"RSET\r\n"] if reset else []
            group += [mail, *rcpts, b"DATA\r\n"]
            wire.send(b"".join(group), len(group))

        if reset:
            self._step("RSET")
            if not pipelined:
                wire.send(b"RSET\r\n")
            reply = await self._read()
            if reply.code != 250:
                if reply.code == SERVICE_CLOSING:  # it timed the idle session out: nothing of this message went
                    raise StaleConnection(self.target.name)
                raise self._refused(reply)

        settled: dict[str, RecipientReply] = {}
        self._step("MAIL FROM")
        if not pipelined:
            wire.send(mail)
        reply = await self._read()
        if not self._accepted(reply, 250):
            outcome = outcome_of(reply.code)
            for address in recipients:
                settled[address] = RecipientReply(address, reply.code, reply.text, "MAIL FROM", outcome)
            if pipelined:  # the RCPTs and DATA were sent: their replies (503 most likely) say nothing more
                for _ in rcpts:
                    self._step("RCPT TO")
                    self._accepted(await self._read(), 250, 251)
                await self._data_refused_or_empty()
            return settled, []

        accepted: list[str] = []
        left: list[str] = []
        for address, rcpt in zip(recipients, rcpts, strict=True):
            self._step("RCPT TO")  # each RCPT has the whole timeout (RFC 5321 4.5.3.2), however many there are
            if left and not pipelined:
                left.append(address)  # the relay said "too many": the rest wait for the next transaction
                continue
            if not pipelined:
                wire.send(rcpt)
            reply = await self._read()
            if self._accepted(reply, 250, 251):
                accepted.append(address)
            elif accepted and is_too_many_recipients(reply):
                left.append(address)
            else:
                settled[address] = RecipientReply(address, reply.code, reply.text, "RCPT TO", outcome_of(reply.code))
        if not accepted:
            if pipelined:
                await self._data_refused_or_empty()
            return settled, left

        self._step("DATA", len(data) / SLOW_UPLOAD_BYTES_PER_SECOND)
        if not pipelined:
            wire.send(b"DATA\r\n")
        reply = await self._read()
        if not self._accepted(reply, 354):  # 4xx/5xx: the relay would not take the message now, or at all
            for address in accepted:
                settled[address] = RecipientReply(address, reply.code, reply.text, "DATA", outcome_of(reply.code))
            return settled, left
        wire.send(data)
        self._step("DATA", len(data) / SLOW_UPLOAD_BYTES_PER_SECOND)  # the upload and the final reply
        reply = await self._read()
        if wire.unsent:  # the final dot is still here: no reply can be about a message the relay has not had
            raise self._violation(f"answered the message data before it was all sent ({wire.unsent} bytes left)")
        delivered = self._accepted(reply, 250)
        outcome = Outcome.DELIVERED if delivered else outcome_of(reply.code)
        for address in accepted:
            settled[address] = RecipientReply(address, reply.code, reply.text, "end of DATA", outcome)
        return settled, left

    async def _data_refused_or_empty(self) -> None:
        """A pipelined DATA went out with no recipient accepted. RFC 2920 3.1: the server refuses it (503/554);
        if it says 354 anyway, the data is a lone dot, and whatever it answers then means nothing."""
        assert self.wire is not None
        self._step("DATA")
        reply = await self._read()
        if reply.code == 354:
            self.wire.send(b".\r\n")
            self._step("DATA")
            self._accepted(await self._read(), 250)
        else:
            self._accepted(reply)
