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
import base64
import hmac
import logging
import os
import re
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass

from mailgui.delivery.classify import (
    SERVICE_CLOSING,
    Outcome,
    RelayError,
    RelayFault,
    enhanced_status,
    outcome_of,
    reply_line,
)
from mailgui.delivery.replies import ProtocolViolation, Reply
from mailgui.delivery.target import RelayTarget
from mailgui.delivery.wire import Disconnected, SmtpWire

log = logging.getLogger(__name__)

# A fresh connection idle longer than this (one opened by a probe, say) is checked with RSET before it
# carries a message; servers drop idle clients (Postfix after 300 s). A reused one always is: see deliver().
IDLE_CHECK_SECONDS = 5.0

# The DATA step (354, the upload, the final reply) gets relay.timeout plus the time to upload the message at this
# rate, so a large attachment on a slow uplink is not taken for a dead relay. RFC 5321 4.5.3.2 allows minutes for
# the data blocks and 10 for the final reply; a small message still gets about relay.timeout.
SLOW_UPLOAD_BYTES_PER_SECOND = 32 * 1024

# A port that expects TLS from the first byte (465) waits in silence for a client speaking plain SMTP.
SILENT_GREETING_HINT = (
    "; a port that expects TLS from the start (465) is silent like this: if so, set relay.security to tls"
)

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


def tls_context(target: RelayTarget) -> ssl.SSLContext:
    """The system's trusted CAs, plus ``ca_file`` if set. Hostname and certificate checks always on."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if target.ca_file:
        try:
            context.load_verify_locations(cafile=target.ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise RelayError(RelayFault.TLS, f"relay.ca_file: cannot load {target.ca_file}: {exc}") from exc
    return context


@dataclass
class RelayLimits:
    """What a relay taught us about itself, shared by the sessions of one pool."""

    max_recipients: int | None = None  # RCPTs per transaction before it answered 452 (too many recipients)


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


class SmtpConnection:
    """One SMTP session with the relay. ``open()`` connects, secures and logs in; ``deliver()`` sends."""

    def __init__(self, target: RelayTarget, context: ssl.SSLContext | None = None, limits: RelayLimits | None = None):
        self.target = target
        if target.security != "none" and context is None:
            context = tls_context(target)  # never a library's default: ours always has relay.ca_file
        self.tls_context = context if target.security != "none" else None
        self.limits = limits or RelayLimits()
        self.wire: SmtpWire | None = None
        self.extensions: dict[str, str] = {}  # EHLO keywords (lower case) and their parameters
        self.esmtp = False  # it answered EHLO (so its extensions are known), not only HELO
        self.stage = "connecting"
        self.transactions = 0
        self.last_used = 0.0
        self.opened_at = 0.0  # loop time the session was ready
        self._deadline: asyncio.Timeout | None = None  # while opening (connect, TLS handshakes), steps move it
        self._until = 0.0  # loop time by which the current step's reply must have come
        self.allowed = target.timeout  # seconds the current step may take

    @property
    def is_open(self) -> bool:
        return self.wire is not None and self.wire.is_open

    @property
    def encrypted(self) -> bool:
        transport = self.wire.transport if self.wire is not None else None
        return self.is_open and transport is not None and transport.get_extra_info("sslcontext") is not None

    @property
    def pipelining(self) -> bool:
        return "pipelining" in self.extensions

    def supports(self, extension: str) -> bool:
        return extension.lower() in self.extensions

    # -- session setup -------------------------------------------------------------------------------
    async def open(self) -> None:
        """Connect, EHLO, STARTTLS (when asked), EHLO again, AUTH (when a user name is set)."""
        t = self.target
        try:
            async with asyncio.timeout(None) as deadline:
                self._deadline = deadline
                self._step("connecting")
                implicit = t.security == "tls"
                _, wire = await asyncio.get_running_loop().create_connection(
                    SmtpWire,
                    t.host,
                    t.port,
                    ssl=self.tls_context if implicit else None,
                    server_hostname=t.host if implicit else None,
                    ssl_handshake_timeout=t.timeout if implicit else None,
                )
                self.wire = wire
                self._step("greeting")
                wire.expect_greeting()
                greeting = await self._read()
                if greeting.code != 220:
                    if greeting.code == SERVICE_CLOSING:
                        raise self._closing(greeting)
                    raise RelayError(
                        RelayFault.REFUSED,
                        f"{t.name} refused the session: {greeting.line}",
                        greeting.code,
                        greeting.text,
                    )
                await self._ehlo()
                if t.security == "starttls":
                    await self._starttls()
                if t.username:
                    await self._login()
        except RelayError:
            self.abort()
            raise
        except asyncio.CancelledError:
            self.abort()
            raise
        except Exception as exc:
            self.abort()
            raise relay_error(exc, t, self.stage, self.allowed) from exc
        finally:
            self._deadline = None
        self.stage = "ready"
        self.last_used = self.opened_at = asyncio.get_running_loop().time()
        small_reads(self.wire.transport if self.wire else None)

    async def _ehlo(self) -> None:
        self._step("EHLO")
        helo = self.target.helo_name.encode("ascii", "replace")
        reply = await self._command(b"EHLO " + helo)
        if reply.code == 250:
            self.extensions = {}
            self.esmtp = True
            for line in reply.lines[1:]:
                keyword, _, params = line.partition(" ")
                self.extensions[keyword.lower()] = params.strip()
            return
        if reply.code == SERVICE_CLOSING:
            raise self._closing(reply)
        if reply.code < 400:
            raise self._violation(f"answered EHLO with {reply.line}")
        self._step("HELO")  # RFC 5321 4.1.1.1: an old server may know HELO only
        reply = await self._command(b"HELO " + helo)
        if reply.code != 250:
            raise self._refused(reply)
        self.extensions = {}
        self.esmtp = False

    async def _starttls(self) -> None:
        t = self.target
        if not self.supports("starttls"):
            raise RelayError(
                RelayFault.TLS,
                f"{t.name} does not offer STARTTLS, and relay.security is starttls "
                "(mailgui never falls back to plain text; set relay.security to tls or none if intended)",
            )
        self._step("STARTTLS")
        reply = await self._command(b"STARTTLS")
        if reply.code != 220:
            raise self._refused(reply)
        assert self.wire is not None and self.tls_context is not None
        await self.wire.start_tls(self.tls_context, t.host, t.timeout)
        await self._ehlo()  # RFC 3207 4.2: forget what was said before TLS

    async def _login(self) -> None:
        t = self.target
        self.stage = "AUTH"
        if not self.encrypted and not t.is_loopback:
            raise RelayError(
                RelayFault.AUTH,
                f"refusing to send the password for {t.username!r} to {t.name} without TLS; "
                "set relay.security to starttls or tls",
            )
        if t.password is None:
            raise RelayError(
                RelayFault.AUTH,
                f"relay.password: no password is stored for {t.username!r} on {t.name} "
                "(set it in Settings, or with `mailgui config set relay.password --stdin`)",
            )
        if not self.supports("auth"):
            raise RelayError(
                RelayFault.AUTH,
                f"{t.name} does not offer AUTH, but relay.username is set "
                "(clear relay.username if this relay needs no login)",
            )
        self._step("AUTH")
        offered = self.extensions["auth"].upper().split()
        user, password = t.username.encode(), t.password.encode()
        if "CRAM-MD5" in offered:  # the password itself never goes over the wire
            reply = await self._command(b"AUTH CRAM-MD5")
            if reply.code == 334:
                try:
                    challenge = base64.b64decode(reply.text.strip(), validate=True)
                except ValueError:
                    raise self._violation("sent a CRAM-MD5 challenge that is not base64") from None
                digest = hmac.new(password, challenge, "md5").hexdigest().encode()
                reply = await self._command(base64.b64encode(user + b" " + digest))
        elif "PLAIN" in offered:
            reply = await self._command(b"AUTH PLAIN " + base64.b64encode(b"\0" + user + b"\0" + password))
        elif "LOGIN" in offered:
            reply = await self._command(b"AUTH LOGIN")
            if reply.code == 334:
                reply = await self._command(base64.b64encode(user))
            if reply.code == 334:
                reply = await self._command(base64.b64encode(password))
        else:
            raise RelayError(
                RelayFault.AUTH,
                f"{t.name} offers no login method mailgui knows (CRAM-MD5, PLAIN, LOGIN): "
                f"it offers {' '.join(offered) or 'none'}",
            )
        if reply.code == 235:
            return
        if reply.code == SERVICE_CLOSING:
            raise self._closing(reply)
        if reply.code < 400:
            raise self._violation(f"answered AUTH with {reply.line}")
        raise RelayError(
            RelayFault.AUTH,
            f"{t.name} refused the login for {t.username!r}: {reply.line} "
            "(check relay.username and the password in Settings)",
            code=reply.code,
            reply=reply.text,
        )

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

    def _accepted(self, reply: Reply, *success: int) -> bool:
        """True for a success reply of the current step; False for a refusal (4xx, 5xx). 421 means the relay is
        closing (RelayError); any other reply is one this command cannot have (a protocol violation)."""
        if reply.code in success:
            return True
        if reply.code == SERVICE_CLOSING:
            raise self._closing(reply)
        if reply.code >= 400:
            return False
        raise self._violation(f"answered {self.stage} with {reply.line}")

    # -- errors ---------------------------------------------------------------------------------------
    def _closing(self, reply: Reply) -> RelayError:
        return RelayError(
            RelayFault.CLOSING,
            f"{self.target.name} is not taking mail now: {reply.line} (at {self.stage})",
            code=reply.code,
            reply=reply.text,
        )

    def _refused(self, reply: Reply) -> RelayError:
        """A setup step (HELO, STARTTLS, RSET) refused: the session cannot go on."""
        if reply.code == SERVICE_CLOSING:
            return self._closing(reply)
        if reply.code < 400:
            return self._violation(f"answered {self.stage} with {reply.line}")
        fault = RelayFault.TLS if self.stage == "STARTTLS" else RelayFault.PROTOCOL
        return RelayError(fault, f"{self.target.name} answered {self.stage} with {reply.line}", reply.code, reply.text)

    def _violation(self, what: str) -> RelayError:
        if self.wire is not None:
            self.wire.abort()
        return violation_error(self.target, self.stage, what)

    # -- the wire -------------------------------------------------------------------------------------
    def _step(self, stage: str, extra: float = 0.0) -> None:
        self.stage = stage
        self.allowed = self.target.timeout + extra
        self._until = asyncio.get_running_loop().time() + self.allowed
        if self._deadline is not None:  # opening: the connect and the TLS handshakes run under it too
            self._deadline.reschedule(self._until)

    async def _read(self) -> Reply:
        assert self.wire is not None
        return await self.wire.read(self._until)

    async def _command(self, line: bytes) -> Reply:
        assert self.wire is not None
        self.wire.send(line + b"\r\n")
        return await self.wire.read(self._until)

    # -- closing --------------------------------------------------------------------------------------
    def abort(self) -> None:
        if self.wire is not None:
            self.wire.abort()

    async def close(self) -> None:
        """QUIT politely (briefly), then close."""
        wire = self.wire
        if wire is not None and wire.is_open and wire.idle:
            try:
                async with asyncio.timeout(min(self.target.timeout, 5.0)):
                    wire.send(b"QUIT\r\n")
                    await wire.read()
            except (TimeoutError, ProtocolViolation, Disconnected, OSError) as exc:
                log.debug("QUIT to %s failed: %s", self.target.name, exc)
        self.abort()


READ_SIZE = 16 * 1024  # bytes a socket read asks for: SMTP replies are a few lines


def small_reads(transport: asyncio.BaseTransport | None) -> None:
    """Have a plain socket transport ask for READ_SIZE bytes a read instead of asyncio's 256 KiB.

    asyncio allocates a buffer of that size for every read, then shrinks it to what came. 256 KiB is above
    glibc's mmap threshold, so each SMTP reply cost an mmap, an mremap and a munmap, and a munmap in a process
    with threads (the queue thread) may interrupt the other cores to flush their TLBs. 16 KiB comes from the
    heap. ``max_size`` is an attribute of asyncio's selector transports (since 3.4); a TLS transport has none
    and reads into a buffer it keeps, so it is left as it is."""
    if transport is not None and isinstance(getattr(transport, "max_size", None), int):
        transport.max_size = READ_SIZE  # type: ignore[attr-defined]


def violation_error(target: RelayTarget, stage: str, what: str) -> RelayError:
    return RelayError(
        RelayFault.PROTOCOL,
        f"{target.name} broke the SMTP dialogue at {stage}: {what}; the connection was dropped, "
        "and nothing it said in it counts",
    )


def relay_error(exc: BaseException, target: RelayTarget, stage: str, allowed: float | None = None) -> RelayError:
    """A protocol / ssl / socket failure, told in plain words and sorted by what it means."""
    name = target.name
    cause = exc.__cause__
    if isinstance(exc, ssl.SSLError) or isinstance(cause, ssl.SSLError):
        err = exc if isinstance(exc, ssl.SSLError) else cause
        if isinstance(err, ssl.SSLCertVerificationError):
            reason = f"certificate verify failed: {err.verify_message or err.reason}"
            hint = " (set relay.ca_file to trust a private CA)"
        else:
            reason, hint = str(getattr(err, "reason", None) or err), ""
        return RelayError(RelayFault.TLS, f"TLS with {name} failed during {stage}: {reason}{hint}")
    if isinstance(exc, TimeoutError):
        if stage == "connecting":
            return RelayError(RelayFault.TIMEOUT, f"{name} did not answer within {target.timeout:g} s (connecting)")
        if stage == "greeting":  # connected, but the 220 greeting never came
            hint = "" if target.security == "tls" else SILENT_GREETING_HINT
            return RelayError(
                RelayFault.TIMEOUT, f"{name} did not answer within {target.timeout:g} s (at the greeting){hint}"
            )
        seconds = f"{round(allowed if allowed is not None else target.timeout, 1):g}"
        return RelayError(RelayFault.TIMEOUT, f"{name} did not answer within {seconds} s (at {stage})")
    if isinstance(exc, ProtocolViolation):
        return violation_error(target, stage, str(exc))
    if isinstance(exc, Disconnected):
        return RelayError(RelayFault.DROPPED, f"{name} closed the connection during {stage}")
    if isinstance(exc, ConnectionError) and stage != "connecting":
        return RelayError(RelayFault.DROPPED, f"{name} closed the connection during {stage}: {exc}")
    if isinstance(exc, OSError):
        return RelayError(RelayFault.REFUSED, f"cannot connect to {name}: {_os_reason(exc)}")
    return RelayError(RelayFault.PROTOCOL, f"{name} at {stage}: {type(exc).__name__}: {exc}")


def _os_reason(exc: BaseException) -> str:
    """'Connection refused', not asyncio's "Connect call failed ('127.0.0.1', 25)"."""
    number = getattr(exc, "errno", None)
    if isinstance(number, int) and number:
        return os.strerror(number)
    if isinstance(exc, socket.gaierror):
        return f"host name not found ({exc.strerror or exc})"
    return str(exc)
