"""The SMTP client's end of the socket: commands out, replies in, each reply matched to the command it answers.

The client says how many replies a write calls for (one per command; several when commands are pipelined, RFC
2920). A reply that comes when none is owed — before its command was sent, a duplicate, one the server made up —
is a :class:`ProtocolViolation`, as is any malformed or oversized reply (``replies.ReplyParser``). A violation
poisons the session at once: the connection is aborted and every read from then on raises, even of replies that
came before it, because a dialogue that slipped once cannot say which of its replies were real (a shifted ``250``
is how a broken relay makes mail look sent). A closed connection only ends the replies still owed: one that came
whole before the close (``421`` then close, say) is read as usual.

Nothing is kept across STARTTLS: :meth:`SmtpWire.start_tls` refuses to begin while a reply byte is buffered or owed
(CVE-2011-0411; RFC 3207 section 6), and anything that arrives in plain text after the ``220`` is a violation.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque

from mailgui.delivery.replies import ProtocolViolation, Reply, ReplyParser

# asyncio runs a timer up to its clock's resolution before it is due: within this much, the deadline has come.
_EARLY = 0.001


class Disconnected(Exception):
    """The server closed the connection (or it was lost) while replies were still owed."""


class SmtpWire(asyncio.Protocol):
    """One connection's protocol object. Use :meth:`send` and :meth:`read`; a single reader at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._parser = ReplyParser()
        self._replies: deque[Reply] = deque()
        self._owed = 0  # replies the commands written so far still call for
        self._waiter: asyncio.Future[None] | None = None
        # One timer for the reads' deadlines, not one per read: each read moves the deadline (usually later), and
        # the timer, when it fires early, only re-arms itself for the deadline in force. A read costs no timer.
        self._deadline: float | None = None
        # The timer and when it is due, kept here: qasync's loop returns a plain Handle, which has no when().
        self._timer: asyncio.Handle | None = None
        self._timer_at = 0.0
        self.violation: ProtocolViolation | None = None
        self.lost: Disconnected | None = None

    # -- asyncio.Protocol ---------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.violation is not None:
            return
        try:
            replies = self._parser.feed(data)
        except ProtocolViolation as exc:
            self._violate(exc)
            return
        for reply in replies:
            if not self._owed:
                self._violate(ProtocolViolation(f"a reply no command had asked for: {reply.line[:200]!r}"))
                return
            self._owed -= 1
            self._replies.append(reply)
        if replies:
            self._wake()

    def eof_received(self) -> bool:
        self._lose("the server closed the connection")
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self._lose(f"the connection was lost: {exc}" if exc else "the server closed the connection")
        self.transport = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # -- the client's side ----------------------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return (
            self.transport is not None
            and not self.transport.is_closing()
            and self.violation is None
            and self.lost is None
        )

    @property
    def unsent(self) -> int:
        """Bytes written but still in the transport's buffer, not yet handed to the network."""
        return self.transport.get_write_buffer_size() if self.transport is not None else 0

    @property
    def idle(self) -> bool:
        """No reply is owed, buffered or half-read: the dialogue is between commands."""
        return not self._owed and not self._replies and not self._parser.pending

    def send(self, data: bytes, replies: int = 1) -> None:
        """Write ``data`` (one or more commands, or the message) that calls for ``replies`` replies."""
        self._check()
        assert self.transport is not None
        self._owed += replies
        self.transport.write(data)

    def expect_greeting(self) -> None:
        """The server speaks first: one reply is owed before any command."""
        self._owed += 1

    async def read(self, until: float | None = None) -> Reply:
        """The next reply, in the order the commands were written; TimeoutError if none has come by ``until``
        (loop time). A reply already here costs no timer: with pipelining most of them are."""
        while True:
            if self.violation is not None:
                raise self.violation
            if self._replies:
                return self._replies.popleft()
            if self.lost is not None:
                raise self.lost
            loop = asyncio.get_running_loop()
            self._waiter = loop.create_future()
            self._deadline = until
            if until is not None and (self._timer is None or self._timer_at > until):
                if self._timer is not None:
                    self._timer.cancel()
                self._timer, self._timer_at = loop.call_at(until, self._on_timer), until
            try:
                await self._waiter
            finally:
                self._waiter = None

    def _on_timer(self) -> None:
        self._timer = None
        waiter, deadline = self._waiter, self._deadline
        if waiter is None or waiter.done() or deadline is None:
            return  # no read is waiting: the next one arms the timer again
        loop = asyncio.get_running_loop()
        if loop.time() >= deadline - _EARLY:
            waiter.set_exception(TimeoutError())
        else:  # the deadline moved on since the timer was set
            self._timer, self._timer_at = loop.call_at(deadline, self._on_timer), deadline

    async def start_tls(self, context: ssl.SSLContext, server_hostname: str, timeout: float) -> None:
        """Switch to TLS after the server's ``220``. Nothing from before may cross: a byte buffered or a reply
        owed is a violation, and so is one that arrives before the handshake takes the socket."""
        self._check()
        if not self.idle:
            self._violate(ProtocolViolation("the server sent more after its 220 to STARTTLS, in plain text"))
            raise self.violation  # type: ignore[misc]
        assert self.transport is not None
        loop = asyncio.get_running_loop()
        transport = await loop.start_tls(
            self.transport, self, context, server_hostname=server_hostname, ssl_handshake_timeout=timeout
        )
        if transport is None:
            raise Disconnected("the connection was lost during the TLS handshake")
        self.transport = transport
        self._check()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    # -- failures ---------------------------------------------------------------------------------------
    def _check(self) -> None:
        if self.violation is not None:
            raise self.violation
        if self.lost is not None or self.transport is None or self.transport.is_closing():
            raise self.lost or Disconnected("the connection is closed")

    def _violate(self, exc: ProtocolViolation) -> None:
        if self.violation is None:
            self.violation = exc
        self._replies.clear()
        self.abort()
        self._wake()

    def _lose(self, why: str) -> None:
        if self.lost is None:
            self.lost = Disconnected(why)
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
