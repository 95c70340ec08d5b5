"""SMTP to the relay with aiosmtplib: connections that are reused across messages, one transaction at a time.

The transaction is driven step by step (MAIL, RCPT per recipient, DATA) rather than with ``sendmail``, so a
refused recipient does not abort the others: every RCPT reply counts for its own recipient. Every network step
runs under the relay's timeout. Certificate checks are always on; ``relay.ca_file`` adds a CA to trust.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass

import aiosmtplib

from mailgui.delivery.classify import (
    SERVICE_CLOSING,
    Outcome,
    RelayError,
    RelayFault,
    outcome_of,
    reply_line,
)
from mailgui.delivery.target import RelayTarget

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


def tls_context(target: RelayTarget) -> ssl.SSLContext:
    """The system's trusted CAs, plus ``ca_file`` if set. Hostname and certificate checks always on."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if target.ca_file:
        try:
            context.load_verify_locations(cafile=target.ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise RelayError(RelayFault.TLS, f"relay.ca_file: cannot load {target.ca_file}: {exc}") from exc
    return context


class SmtpConnection:
    """One SMTP session with the relay. ``open()`` connects, secures and logs in; ``deliver()`` sends."""

    def __init__(self, target: RelayTarget, context: ssl.SSLContext | None = None):
        self.target = target
        if target.security != "none" and context is None:
            context = tls_context(target)  # never aiosmtplib's own default: ours always has relay.ca_file
        self.client = aiosmtplib.SMTP(
            hostname=target.host,
            port=target.port,
            timeout=target.timeout,
            use_tls=target.security == "tls",
            start_tls=False,  # done by hand below, so a relay without STARTTLS is an error, not plain text
            validate_certs=True,
            tls_context=context if target.security != "none" else None,
            local_hostname=target.helo_name,
        )
        self.stage = "connecting"
        self.transactions = 0
        self.last_used = 0.0
        self.opened_at = 0.0  # loop time the session was ready
        self._deadline: asyncio.Timeout | None = None
        self.allowed = target.timeout  # seconds the current step may take

    @property
    def is_open(self) -> bool:
        return self.client.is_connected

    @property
    def encrypted(self) -> bool:
        return self.is_open and self.client.get_transport_info("sslcontext") is not None

    # -- session setup -------------------------------------------------------------------------------
    async def open(self) -> None:
        """Connect, EHLO, STARTTLS (when asked), EHLO again, AUTH (when a user name is set)."""
        try:
            self.stage = "connecting"
            await self.client.connect()
            await self._ehlo()
            if self.target.security == "starttls":
                if not self.client.supports_extension("starttls"):
                    raise RelayError(
                        RelayFault.TLS,
                        f"{self.target.name} does not offer STARTTLS, and relay.security is starttls "
                        "(mailgui never falls back to plain text; set relay.security to tls or none if intended)",
                    )
                self.stage = "STARTTLS"
                await self.client.starttls()
                await self._ehlo()
            if self.target.username:
                await self._login()
        except RelayError:
            self.abort()
            raise
        except asyncio.CancelledError:
            self.abort()
            raise
        except Exception as exc:
            self.abort()
            raise relay_error(exc, self.target, self.stage, self.allowed) from exc
        self.stage = "ready"
        self.last_used = self.opened_at = asyncio.get_running_loop().time()
        small_reads(self.client.transport)

    async def _ehlo(self) -> None:
        self.stage = "EHLO"
        try:
            await self.client.ehlo()
        except aiosmtplib.SMTPHeloError as exc:
            if exc.code == SERVICE_CLOSING or not self.client.is_connected:
                raise
            self.stage = "HELO"  # RFC 5321 4.1.1.1: an old server may know HELO only
            await self.client.helo()

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
        if not self.client.supports_extension("auth"):
            raise RelayError(
                RelayFault.AUTH,
                f"{t.name} does not offer AUTH, but relay.username is set "
                "(clear relay.username if this relay needs no login)",
            )
        try:
            await self.client.login(t.username, t.password)
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise RelayError(
                RelayFault.AUTH,
                f"{t.name} refused the login for {t.username!r}: {reply_line(exc.code, exc.message)} "
                "(check relay.username and the password in Settings)",
                code=exc.code,
                reply=exc.message,
            ) from exc

    # -- one transaction ------------------------------------------------------------------------------
    async def deliver(self, sender: str, recipients: Sequence[str], raw: bytes, smtputf8: bool) -> list[RecipientReply]:
        """Send ``raw`` to ``recipients``: one reply per recipient, in order.

        Raises RelayError when the relay fails as a whole (421, dropped, timeout), StaleConnection when a
        reused connection was already closed before anything was sent.
        """
        loop = asyncio.get_running_loop()
        try:
            if not self.client.is_connected:
                raise StaleConnection(self.target.name)
            # One deadline, moved forward at every step (cheaper than aiosmtplib's wait_for per reply).
            async with asyncio.timeout(None) as deadline:
                self._deadline = deadline
                # RSET between messages, as Postfix does before reusing a connection: it clears whatever a
                # refused or broken transaction left behind, and finds a connection the server has closed
                # before anything of this message is sent (then it is a StaleConnection, retried elsewhere).
                if self.transactions or loop.time() - self.last_used > IDLE_CHECK_SECONDS:
                    self._step("RSET")
                    await self.client.rset(timeout=None)
                replies = await self._transaction(sender, recipients, raw, smtputf8)
        except StaleConnection:
            self.abort()
            raise
        except aiosmtplib.SMTPServerDisconnected as exc:
            self.abort()
            if self.transactions and self.stage in ("RSET", "MAIL FROM"):  # closed while idle: nothing sent
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
        finally:
            self._deadline = None
        self.transactions += 1
        self.last_used = loop.time()
        return replies

    def _step(self, stage: str, extra: float = 0.0) -> None:
        self.stage = stage
        self.allowed = self.target.timeout + extra
        if self._deadline is not None:
            self._deadline.reschedule(asyncio.get_running_loop().time() + self.allowed)

    async def _command(self, verb: bytes, arg: bytes, options: list[bytes]) -> aiosmtplib.SMTPResponse:
        return await self.client.execute_command(verb, arg, *options, timeout=None)

    async def _transaction(
        self, sender: str, recipients: Sequence[str], raw: bytes, smtputf8: bool
    ) -> list[RecipientReply]:
        """MAIL, RCPT per recipient, DATA. Addresses were validated when queued, so they are sent as they are
        (aiosmtplib's mail()/rcpt() would parse each one again with email.utils on every message)."""
        client = self.client
        options: list[bytes] = []
        encoding = "ascii"
        if smtputf8:
            if not client.supports_extension("smtputf8"):
                text = f"5.6.7 SMTPUTF8 is required, but was not offered by {self.target.name}"
                return [RecipientReply(a, None, text, "MAIL FROM", Outcome.PERMANENT) for a in recipients]
            options.append(b"SMTPUTF8")
            encoding = "utf-8"
        if not raw.isascii() and client.supports_extension("8bitmime"):
            options.append(b"BODY=8BITMIME")

        self._step("MAIL FROM")
        response = await self._command(b"MAIL", b"FROM:<" + sender.encode(encoding) + b">", options)
        if response.code != 250:
            self._closing_check(response)
            outcome = outcome_of(response.code)
            if outcome is Outcome.DELIVERED:  # not 250, yet 2xx: nothing to build on; try again later
                outcome = Outcome.TEMPORARY
            return [RecipientReply(a, response.code, response.message, "MAIL FROM", outcome) for a in recipients]

        replies: dict[str, RecipientReply] = {}
        accepted: list[str] = []
        for address in recipients:
            self._step("RCPT TO")  # each RCPT has the whole timeout (RFC 5321 4.5.3.2), however many there are
            response = await self._command(b"RCPT", b"TO:<" + address.encode(encoding) + b">", [])
            if response.code in (250, 251):
                accepted.append(address)
                continue
            self._closing_check(response)
            outcome = outcome_of(response.code)
            if outcome is Outcome.DELIVERED:  # an odd 2xx (252...): the server took the address
                accepted.append(address)
            else:
                replies[address] = RecipientReply(address, response.code, response.message, "RCPT TO", outcome)
        if not accepted:
            return [replies[a] for a in recipients]

        self._step("DATA", len(raw) / SLOW_UPLOAD_BYTES_PER_SECOND)
        try:
            response = await client.data(raw, timeout=None)
        except aiosmtplib.SMTPDataError as exc:
            self._closing_check(aiosmtplib.SMTPResponse(exc.code, exc.message))
            for address in accepted:
                replies[address] = RecipientReply(address, exc.code, exc.message, "DATA", outcome_of(exc.code))
        else:
            for address in accepted:
                replies[address] = RecipientReply(
                    address, response.code, response.message, "end of DATA", Outcome.DELIVERED
                )
        return [replies[a] for a in recipients]

    def _closing_check(self, response: aiosmtplib.SMTPResponse) -> None:
        if response.code == SERVICE_CLOSING:
            raise RelayError(
                RelayFault.CLOSING,
                f"{self.target.name} is not taking mail now: {reply_line(response.code, response.message)} "
                f"(at {self.stage})",
                code=response.code,
                reply=response.message,
            )

    # -- closing --------------------------------------------------------------------------------------
    def abort(self) -> None:
        self.client.close()

    async def close(self) -> None:
        """QUIT politely (briefly), then close."""
        if self.client.is_connected:
            try:
                await self.client.quit(timeout=min(self.target.timeout, 5.0))
            except (aiosmtplib.SMTPException, OSError) as exc:
                log.debug("QUIT to %s failed: %s", self.target.name, exc)
        self.client.close()


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


def relay_error(exc: BaseException, target: RelayTarget, stage: str, allowed: float | None = None) -> RelayError:
    """An aiosmtplib / ssl / socket failure, told in plain words and sorted by what it means."""
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
    if isinstance(exc, aiosmtplib.SMTPConnectTimeoutError):
        if isinstance(cause, aiosmtplib.SMTPTimeoutError):  # connected, but the 220 greeting never came
            hint = "" if target.security == "tls" else SILENT_GREETING_HINT
            return RelayError(
                RelayFault.TIMEOUT, f"{name} did not answer within {target.timeout:g} s (at the greeting){hint}"
            )
        return RelayError(RelayFault.TIMEOUT, f"{name} did not answer within {target.timeout:g} s (connecting)")
    if isinstance(exc, aiosmtplib.SMTPTimeoutError | TimeoutError):
        seconds = f"{round(allowed if allowed is not None else target.timeout, 1):g}"
        return RelayError(RelayFault.TIMEOUT, f"{name} did not answer within {seconds} s (at {stage})")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        line = reply_line(exc.code, exc.message)
        if exc.code == SERVICE_CLOSING:
            return RelayError(
                RelayFault.CLOSING, f"{name} is not taking mail now: {line} (at {stage})", exc.code, exc.message
            )
        if isinstance(exc, aiosmtplib.SMTPConnectResponseError):
            return RelayError(RelayFault.REFUSED, f"{name} refused the session: {line}", exc.code, exc.message)
        return RelayError(RelayFault.PROTOCOL, f"{name} answered {stage} with {line}", exc.code, exc.message)
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected):
        return RelayError(RelayFault.DROPPED, f"{name} closed the connection during {stage}")
    if isinstance(exc, aiosmtplib.SMTPConnectError):
        return RelayError(RelayFault.REFUSED, f"cannot connect to {name}: {_os_reason(cause or exc)}")
    if isinstance(exc, ConnectionError):
        return RelayError(RelayFault.DROPPED, f"{name} closed the connection during {stage}: {exc}")
    if isinstance(exc, OSError):
        return RelayError(RelayFault.REFUSED, f"cannot connect to {name}: {_os_reason(exc)}")
    if isinstance(exc, aiosmtplib.SMTPException):
        return RelayError(RelayFault.PROTOCOL, f"{name} at {stage}: {exc}")
    return RelayError(RelayFault.PROTOCOL, f"{name} at {stage}: {type(exc).__name__}: {exc}")


def _os_reason(exc: BaseException) -> str:
    """'Connection refused', not asyncio's "Connect call failed ('127.0.0.1', 25)"."""
    number = getattr(exc, "errno", None)
    if isinstance(number, int) and number:
        return os.strerror(number)
    if isinstance(exc, socket.gaierror):
        return f"host name not found ({exc.strerror or exc})"
    return str(exc)
