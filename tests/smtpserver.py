"""A real SMTP server for tests: aiosmtpd in the test's own event loop, on a free 127.0.0.1 port.

It records every connection (with the commands it saw) and every message it took, and can be told, at any
moment, how to behave::

    async with SMTPTestServer() as server:          # accepts everything
        server.refuse("bob@example.org", "550 5.1.1 <bob@example.org>: Recipient address rejected: User unknown")
        server.refuse("carol@example.org", "451 4.3.0 Try again later", times=1)   # then accepts
        server.greeting = "421 4.3.2 Service not available"   # every new connection: this, then closed
        server.drop_data = 1          # the next DATA: message read, then the connection drops (no reply)
        server.cut_data = 1           # the next DATA: 354, then the connection drops after ``cut_after``
                                      # bytes of the message (mid-DATA); ``cut_at`` records where
        server.delay = 0.05           # wait this long before answering each end of DATA ("slow")
        server.hold()                 # hold every end-of-DATA reply until server.release()
        server.stall = "MAIL"         # never answer MAIL (or the greeting, EHLO, STARTTLS, TLS: 220 to STARTTLS
                                      # then no handshake, AUTH, RCPT, RSET); the connection stays open, silent
        server.stall_for = 0.1        # ... answer each such step after this long instead of never
        server.close_after = 10       # close each connection after it carried 10 messages
        await server.go_down()        # the port is closed (connection refused) ...
        await server.come_back()      # ... and open again, same port
        server.received[0].data       # the message bytes exactly as received (after dot-unstuffing)

TLS and AUTH are fixed when the server is made: ``SMTPTestServer(tls=make_tls(tmp_path), starttls=True)``
(STARTTLS required before MAIL), ``implicit_tls=True`` (TLS from the first byte, like port 465), and
``pipelining=True`` (PIPELINING advertised), ``users={"ann": "secret"}`` (AUTH PLAIN/LOGIN required before MAIL; over TLS only unless
``auth_require_tls=False``; ``server.logins`` records every (user, password) tried).

Fixtures, available to every test (``tests/conftest.py`` loads this module as a plugin): ``smtp_server`` (a
started server that accepts everything) and ``smtp_tls`` (TLS files in the test's tmp_path).
"""

from __future__ import annotations

import asyncio
import ssl
import warnings
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword, Session, syntax

HOST = "127.0.0.1"


@dataclass(frozen=True)
class TLSFiles:
    """A test CA and a server certificate for 127.0.0.1 and localhost, made with trustme."""

    ca_file: Path  # give this to the client (relay.ca_file)
    server_context: ssl.SSLContext
    ca: trustme.CA


def make_tls(directory: Path) -> TLSFiles:
    ca = trustme.CA()
    cert = ca.issue_cert(HOST, "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    ca_file = directory / "test-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return TLSFiles(ca_file, context, ca)


@dataclass
class Connection:
    """One TCP connection the server took. ``commands``: SMTP verbs in order (EHLO, MAIL, RCPT, DATA, ...)."""

    number: int
    commands: list[str] = field(default_factory=list)
    messages: int = 0  # messages accepted on this connection
    tls: bool = False  # TLS was in place by the time of MAIL
    login: str | None = None  # the user that logged in, if any
    refused_greeting: bool = False


@dataclass(frozen=True)
class Received:
    """A message the server accepted (answered 250 at the end of DATA)."""

    mail_from: str  # '' for the null reverse-path
    rcpt_tos: tuple[str, ...]
    data: bytes
    mail_options: tuple[str, ...]
    connection: int


class _Greeter(asyncio.Protocol):
    """Answers a fixed greeting (e.g. 421) and hangs up: a server that is there but not taking mail."""

    def __init__(self, line: str):
        self.line = line

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(self.line.encode() + b"\r\n")
        transport.close()


class _QuietSession(Session):
    """aiosmtpd 1.4 sets the deprecated ``login_data`` itself on every AUTH and logs a warning about it."""

    @property  # type: ignore[override]
    def login_data(self) -> Any:
        return self._login_data

    @login_data.setter
    def login_data(self, value: Any) -> None:
        self._login_data = value


class _Session(SMTP):
    def __init__(self, handler: Any, record: Connection, **kwargs: Any):
        super().__init__(handler, **kwargs)
        self.record = record

    def _create_session(self) -> Session:
        return _QuietSession(self.loop)

    async def _handle_client(self) -> None:
        await self.event_handler.s._stall("greeting")
        await super()._handle_client()

    @syntax("STARTTLS", when="tls_context")
    async def smtp_STARTTLS(self, arg: str) -> None:
        s: SMTPTestServer = self.event_handler.s
        await s._stall("STARTTLS")
        if s.stall == "TLS" and not arg and self.tls_context:
            await self.push("220 Ready to start TLS")
            s.stalled.append("TLS")
            await asyncio.get_running_loop().create_future()  # the handshake is never answered (stall_for or not)
        await super().smtp_STARTTLS(arg)

    @syntax("AUTH <mechanism>")
    async def smtp_AUTH(self, arg: str) -> None:
        await self.event_handler.s._stall("AUTH")
        await super().smtp_AUTH(arg)

    async def smtp_DATA(self, arg: str) -> None:
        """With ``cut_data`` set: answer 354, read part of the message, then hang up (no final reply)."""
        s: SMTPTestServer = self.event_handler.s
        if s.cut_data <= 0 or arg or self.envelope is None or not self.envelope.rcpt_tos:
            await super().smtp_DATA(arg)
            return
        s.cut_data -= 1
        self.record.commands.append("DATA")
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        got = 0
        while got < s.cut_after:
            line = await self._reader.readuntil(b"\r\n")
            if line == b".\r\n":
                break  # the whole message came first: not mid-DATA (cut_at then says so)
            got += len(line)
        s.cut_at.append(got)
        s.dropped += 1
        assert self.transport is not None
        self.transport.abort()
        await asyncio.get_running_loop().create_future()  # cancelled by connection_lost; never reads on

    @property
    def task(self) -> asyncio.Task[None] | None:
        task: asyncio.Task[None] | None = getattr(self, "_handler_coroutine", None)
        return task


class _Handler:
    def __init__(self, server: SMTPTestServer):
        self.s = server

    async def handle_EHLO(self, server: _Session, session: Any, envelope: Any, hostname: str, responses: list[str]):  # type: ignore[no-untyped-def]
        server.record.commands.append("EHLO")
        await self.s._stall("EHLO")
        session.host_name = hostname
        if self.s.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_HELO(self, server: _Session, session: Any, envelope: Any, hostname: str) -> str:
        server.record.commands.append("HELO")
        session.host_name = hostname
        return f"250 {server.hostname}"

    async def handle_NOOP(self, server: _Session, session: Any, envelope: Any, arg: str) -> str:
        server.record.commands.append("NOOP")
        return "250 2.0.0 OK"

    async def handle_RSET(self, server: _Session, session: Any, envelope: Any) -> str:
        server.record.commands.append("RSET")
        await self.s._stall("RSET")
        return "250 2.0.0 OK"

    async def handle_QUIT(self, server: _Session, session: Any, envelope: Any) -> str:
        server.record.commands.append("QUIT")
        return "221 2.0.0 Bye"

    async def handle_MAIL(self, server: _Session, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        server.record.commands.append("MAIL")
        server.record.tls = session.ssl is not None
        await self.s._stall("MAIL")
        reply = self.s._scripted("MAIL", address)
        if reply:
            return self.s._answer(server, reply)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 Ok"

    async def handle_RCPT(self, server: _Session, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        server.record.commands.append("RCPT")
        await self.s._stall("RCPT")
        reply = self.s._scripted("RCPT", address)
        if reply:
            return self.s._answer(server, reply)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: _Session, session: Any, envelope: Any) -> str:
        server.record.commands.append("DATA")
        s = self.s
        if s.drop_data > 0:
            s.drop_data -= 1
            s.dropped += 1
            assert server.transport is not None
            server.transport.abort()
            await asyncio.get_running_loop().create_future()  # cancelled by connection_lost
        if s.delay:
            await asyncio.sleep(s.delay)
        if not s._held.is_set():
            s.holding += 1
            s._got_message()
            try:
                await s._held.wait()
            finally:
                s.holding -= 1
        reply = s._scripted("DATA", "")
        if reply:
            return s._answer(server, reply)
        mail_from = "" if envelope.mail_from in (None, "<>") else envelope.mail_from
        s.received.append(
            Received(
                mail_from,
                tuple(envelope.rcpt_tos),
                bytes(envelope.original_content),
                tuple(envelope.mail_options),
                server.record.number,
            )
        )
        server.record.messages += 1
        s._got_message()
        if s.close_after is not None and server.record.messages >= s.close_after:
            assert server.transport is not None
            asyncio.get_running_loop().call_soon(server.transport.close)  # after this reply is written
        return f"250 2.0.0 Ok: queued as {len(s.received)}"

    async def handle_exception(self, error: Exception) -> str:
        # A client giving up mid-handshake (a refused certificate) is part of what tests do; not an error here.
        self.s.errors.append(error)
        return f"421 4.3.0 {type(error).__name__}"


class SMTPTestServer:
    """See the module docstring. ``await start()`` (or ``async with``) binds and returns the port."""

    def __init__(
        self,
        *,
        tls: TLSFiles | None = None,
        starttls: bool = False,
        implicit_tls: bool = False,
        users: dict[str, str] | None = None,
        auth_require_tls: bool = True,
        smtputf8: bool = True,
        hostname: str = "mx.test.example",
        timeout: float = 60.0,
        pipelining: bool = False,
    ):
        if (starttls or implicit_tls) and tls is None:
            raise ValueError("tls: starttls and implicit_tls need TLS files (make_tls)")
        self.tls = tls
        self.starttls = starttls
        self.implicit_tls = implicit_tls
        self.users = dict(users or {})
        self.auth_require_tls = auth_require_tls
        self.smtputf8 = smtputf8
        self.hostname = hostname
        self.timeout = timeout
        self.pipelining = pipelining  # advertise PIPELINING (RFC 2920); aiosmtpd reads pipelined commands in order
        self.port = 0
        # behaviour, changeable at any time
        self.greeting: str | None = None
        self.drop_data = 0
        self.cut_data = 0
        self.cut_after = 256  # bytes of message data read before a cut_data drop
        self.delay = 0.0
        self.close_after: int | None = None
        self.stall: str | None = None
        self.stall_for: float | None = None
        # what happened
        self.connections: list[Connection] = []
        self.received: list[Received] = []
        self.dropped = 0
        self.cut_at: list[int] = []  # bytes of message data read before each cut_data drop
        self.errors: list[Exception] = []  # session exceptions (e.g. a TLS handshake the client broke off)
        self.stalled: list[str] = []  # each step whose answer was held back (see stall)
        self.logins: list[tuple[str, str]] = []  # every AUTH tried, right or wrong: (user, password)
        self._scripts: dict[tuple[str, str], deque[tuple[str, int | None]]] = {}
        self._server: asyncio.Server | None = None
        self._sessions: set[_Session] = set()
        self._held = asyncio.Event()
        self._held.set()
        self._waiters: list[tuple[Callable[[], bool], asyncio.Future[None]]] = []
        self.holding = 0  # end-of-DATA replies held right now

    # -- behaviour ------------------------------------------------------------------------------------
    def refuse(self, address: str, reply: str, *, times: int | None = None) -> None:
        """Answer RCPT TO:<address> with ``reply`` ('550 5.1.1 ...'), always or the next ``times`` times."""
        self._script("RCPT", address, reply, times)

    def answer_mail(self, reply: str, *, times: int | None = None) -> None:
        """Answer MAIL FROM (any sender) with ``reply``."""
        self._script("MAIL", "", reply, times)

    def answer_data(self, reply: str, *, times: int | None = None) -> None:
        """Answer the end of DATA with ``reply`` instead of taking the message."""
        self._script("DATA", "", reply, times)

    def accept(self) -> None:
        """Forget every scripted answer, greeting, stall and drop: take everything from now on."""
        self._scripts.clear()
        self.greeting = None
        self.drop_data = 0
        self.cut_data = 0
        self.delay = 0.0
        self.stall = self.stall_for = None
        self.release()

    def hold(self) -> None:
        """Hold every end-of-DATA reply (the message stays in flight) until :meth:`release`."""
        self._held.clear()

    def release(self) -> None:
        self._held.set()

    async def _stall(self, step: str) -> None:
        if self.stall != step:
            return
        self.stalled.append(step)
        if self.stall_for is None:
            await asyncio.get_running_loop().create_future()  # cancelled by connection_lost
        else:
            await asyncio.sleep(self.stall_for)

    def _script(self, command: str, address: str, reply: str, times: int | None) -> None:
        self._scripts.setdefault((command, address.lower()), deque()).append((reply, times))

    def _scripted(self, command: str, address: str) -> str | None:
        for key in ((command, address.lower()), (command, "")):
            script = self._scripts.get(key)
            if not script:
                continue
            reply, times = script[0]
            if times is not None:
                if times <= 1:
                    script.popleft()
                else:
                    script[0] = (reply, times - 1)
            return reply
        return None

    def _answer(self, session: _Session, reply: str) -> str:
        if reply.startswith("421"):
            assert session.transport is not None
            asyncio.get_running_loop().call_soon(session.transport.close)  # RFC 5321: 421 closes the channel
        return reply

    # -- what happened --------------------------------------------------------------------------------
    @property
    def connection_attempts(self) -> int:
        return len(self.connections)

    def commands(self) -> list[str]:
        """Every command on every connection, in connection order."""
        return [c for conn in self.connections for c in conn.commands]

    def _got_message(self) -> None:
        for check, fut in list(self._waiters):
            if check() and not fut.done():
                fut.set_result(None)
        self._waiters = [(c, f) for c, f in self._waiters if not f.done()]

    async def _wait(self, check: Callable[[], bool]) -> None:
        if check():
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((check, fut))
        await fut

    async def wait_received(self, count: int) -> None:
        """Return once at least ``count`` messages have arrived (no polling, no sleeping)."""
        await self._wait(lambda: len(self.received) >= count)

    async def wait_holding(self, count: int = 1) -> None:
        """Return once ``count`` end-of-DATA replies are being held (see :meth:`hold`): sends in flight."""
        await self._wait(lambda: self.holding >= count)

    # -- life -----------------------------------------------------------------------------------------
    def _new_session(self) -> asyncio.BaseProtocol:
        record = Connection(len(self.connections) + 1)
        self.connections.append(record)
        if self.greeting is not None:
            record.refused_greeting = True
            return _Greeter(self.greeting)
        with warnings.catch_warnings():
            # A plain-text AUTH server is what a loopback relay test asks for; aiosmtpd warns on each session.
            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS", UserWarning)
            session = self._make_session(record)
        self._sessions.add(session)
        return session

    def _make_session(self, record: Connection) -> _Session:
        return _Session(
            _Handler(self),
            record,
            hostname=self.hostname,
            ident="test server",
            enable_SMTPUTF8=self.smtputf8,
            decode_data=False,
            tls_context=self.tls.server_context if (self.tls and self.starttls) else None,
            require_starttls=self.starttls,
            auth_required=bool(self.users),
            auth_require_tls=self.auth_require_tls,
            authenticator=self._authenticate if self.users else None,
            timeout=self.timeout,
            loop=asyncio.get_running_loop(),
        )

    def _authenticate(self, server: _Session, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        server.record.commands.append("AUTH")
        server.record.tls = session.ssl is not None
        if isinstance(data, LoginPassword):
            user, password = data.login.decode(), data.password.decode()
            self.logins.append((user, password))
            if self.users.get(user) == password:
                server.record.login = user
                return AuthResult(success=True, auth_data=user)
        return AuthResult(success=False, handled=False)

    async def start(self) -> int:
        loop = asyncio.get_running_loop()
        ssl_context = self.tls.server_context if (self.tls and self.implicit_tls) else None
        self._server = await loop.create_server(self._new_session, HOST, self.port, ssl=ssl_context, reuse_address=True)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def drop_connections(self) -> None:
        """Close every open connection (as a server does with idle clients), and keep listening."""
        sessions = list(self._sessions)
        self._sessions.clear()
        for session in sessions:
            if session.transport is not None:
                session.transport.close()
        tasks = [s.task for s in sessions if s.task is not None]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def go_down(self) -> None:
        """Close the port and every open connection: clients now get 'connection refused'."""
        await self._close()

    async def come_back(self) -> None:
        """Listen again on the same port."""
        await self.start()

    async def _close(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        self.release()
        await self.drop_connections()
        await server.wait_closed()

    async def stop(self) -> None:
        await self._close()
        for _, fut in self._waiters:
            fut.cancel()
        self._waiters.clear()

    async def __aenter__(self) -> SMTPTestServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


@pytest.fixture
async def smtp_server() -> AsyncIterator[SMTPTestServer]:
    """A plain SMTP server on a free 127.0.0.1 port that accepts everything (tell it otherwise in the test)."""
    async with SMTPTestServer() as server:
        yield server


@pytest.fixture
def smtp_tls(tmp_path: Path) -> TLSFiles:
    """A test CA and server certificate (trustme); give ``ca_file`` to the client."""
    return make_tls(tmp_path)
