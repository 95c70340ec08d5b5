"""An SMTP session with the relay: connect, EHLO (or HELO), STARTTLS, AUTH, every step under its timeout, every reply
checked against what RFC 5321 allows it; and how a failure of the relay is told (``relay_error``).

``transport.SmtpConnection`` builds the transaction on this session. Split from it by job: this module opens and
closes a session and says what went wrong; transport.py sends mail on an open one.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import logging
import os
import socket
import ssl
from dataclasses import dataclass

from mailgui.delivery.classify import (
    SERVICE_CLOSING,
    RelayError,
    RelayFault,
)
from mailgui.delivery.replies import ProtocolViolation, Reply
from mailgui.delivery.target import RelayTarget
from mailgui.delivery.wire import Disconnected, SmtpWire

log = logging.getLogger(__name__)

# A port that expects TLS from the first byte (465) waits in silence for a client speaking plain SMTP.
SILENT_GREETING_HINT = (
    "; a port that expects TLS from the start (465) is silent like this: if so, set relay.security to tls"
)


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


class SmtpSession:
    """One SMTP session with the relay: ``open()`` connects, secures and logs in. See transport.SmtpConnection."""

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
