"""The built-in local relay: an aiosmtpd SMTP server in the caller's event loop, on loopback only.

aiosmtpd's Controller runs its own loop in a thread; the GUI needs the relay in its qasync loop and the
headless worker in its asyncio.run loop, so the SMTP protocol is served here with ``loop.create_server``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP

from mailgui.clock import Clock
from mailgui.errors import Error, InvalidSettingError
from mailgui.relay.handler import RelayHandler
from mailgui.relay.late_mail import LATE_DELAY
from mailgui.relay.loopback import format_peer, is_loopback_peer, loopback_bind_host
from mailgui.relay.simulator import SLOW_DELAY
from mailgui.relay.storage import RelayStorage

log = logging.getLogger(__name__)

HOSTNAME = "localhost"  # given, so aiosmtpd does not look up the FQDN (a DNS query) on every connection
IDENT = "mailgui local relay"
REFUSED_REPLY = b"554 5.7.1 Access denied: the mailgui local relay serves this computer only\r\n"


class LoopbackSMTP(SMTP):
    """aiosmtpd's SMTP session, refusing any peer that is not loopback before the greeting."""

    def __init__(self, handler: RelayHandler, *, on_lost: Callable[[LoopbackSMTP], None], **kwargs: Any):
        super().__init__(handler, **kwargs)
        self.refused = False
        self._on_lost = on_lost

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        if not is_loopback_peer(peer):
            self.refused = True
            log.warning("local relay: refused a connection from %s (not this computer)", format_peer(peer))
            if isinstance(transport, asyncio.WriteTransport):
                transport.write(REFUSED_REPLY)
            transport.close()
            return
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if not self.refused:
            super().data_received(data)

    def eof_received(self) -> bool | None:
        if self.refused:
            return None
        result: bool | None = super().eof_received()
        return result

    def connection_lost(self, error: Exception | None) -> None:
        try:
            if not self.refused:
                super().connection_lost(error)
        finally:
            self._on_lost(self)

    @property
    def session_task(self) -> asyncio.Task[None] | None:
        """The task serving this connection (aiosmtpd's, created in connection_made)."""
        task: asyncio.Task[None] | None = getattr(self, "_handler_coroutine", None)
        return task


class LocalRelay:
    """The relay. ``await start()`` binds and returns the port; ``await stop()`` closes every connection.

    ``slow_delay``, ``late_delay`` and ``sleep`` set how slow@ and late@/complaint@/ooto@ wait, so tests need not
    wait in real time.
    """

    def __init__(
        self,
        queue_path: str | Path,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Clock | None = None,
        *,
        slow_delay: float = SLOW_DELAY,
        late_delay: float = LATE_DELAY,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        timeout: float = 300.0,
    ):
        if not 0 <= port <= 65535:
            raise InvalidSettingError(f"port: {port} is not valid: expected a number from 0 to 65535")
        self.host = loopback_bind_host(host)
        self.port = port
        self.timeout = timeout
        self.storage = RelayStorage(queue_path, clock)
        self.handler = RelayHandler(
            self.storage,
            slow_delay=slow_delay,
            late_delay=late_delay,
            sleep=sleep,
            now=clock.now if clock is not None else None,
        )
        self._server: asyncio.Server | None = None
        self._sessions: set[LoopbackSMTP] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._no_sessions = asyncio.Event()

    @property
    def running(self) -> bool:
        return self._server is not None

    async def start(self) -> int:
        """Listen on ``host:port`` (port 0: a free one) in the running loop; returns the bound port."""
        if self._server is not None:
            return self.port
        loop = asyncio.get_running_loop()
        await self.storage.open()
        try:
            self._server = await loop.create_server(lambda: self._new_session(loop), self.host, self.port)
        except OSError as exc:
            await self.storage.close()
            raise Error(
                f"local_relay.port: cannot listen on {self.host}:{self.port}: {exc.strerror or exc}"
                " (is another program using that port? 0 picks a free one)"
            ) from exc
        self.port = int(self._server.sockets[0].getsockname()[1])
        log.info("local relay listening on %s:%d", self.host, self.port)
        return self.port

    def _new_session(self, loop: asyncio.AbstractEventLoop) -> LoopbackSMTP:
        session = LoopbackSMTP(
            self.handler,
            on_lost=self._session_lost,
            hostname=HOSTNAME,
            ident=IDENT,
            enable_SMTPUTF8=True,
            decode_data=False,  # bytes as received; also advertises 8BITMIME
            timeout=self.timeout,
            loop=loop,
        )
        self._sessions.add(session)
        return session

    def _session_lost(self, session: LoopbackSMTP) -> None:
        self._sessions.discard(session)
        task = session.session_task
        if task is not None and not task.done():
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if not self._sessions:
            self._no_sessions.set()

    async def stop(self) -> None:
        """Stop listening, drop open connections (the client retries them), and close the queue file."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        if self._sessions:
            self._no_sessions.clear()
            for session in list(self._sessions):
                if session.transport is not None:
                    session.transport.close()
            await self._no_sessions.wait()  # every closed transport calls connection_lost
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        later = list(self.handler.later)  # mail that would come back later does not outlive the relay
        for task in later:
            task.cancel()
        await asyncio.gather(*later, return_exceptions=True)
        await server.wait_closed()
        await self.storage.close()
        log.info("local relay on %s:%d stopped", self.host, self.port)

    async def __aenter__(self) -> LocalRelay:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
