"""Up to ``worker.connections`` SMTP sessions to the relay, reused message after message, with slow start."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from mailgui.delivery.classify import RelayError, RelayFault
from mailgui.delivery.target import RelayTarget
from mailgui.delivery.transport import (
    PartlySent,
    RecipientReply,
    RelayLimits,
    SmtpConnection,
    StaleConnection,
    tls_context,
)

STALE_RETRIES = 3  # reused sessions found closed, one after another, before the relay is taken for unwell


class RelayBackedOff(Exception):
    """The relay is being left alone for now; the message goes back to the queue untouched."""


class ConnectionPool:
    """Up to ``target.connections`` sessions, each reused for message after message.

    Slow start, as Postfix does it: until a transaction has gone through (at first, and again after a relay
    failure) only one session is open or opening, so a sick relay sees one attempt, not a burst. After that,
    sessions open in parallel as senders need them.
    """

    def __init__(self, target: RelayTarget):
        self.target = target
        self._context = None
        self._setup_error: RelayError | None = None  # e.g. an unreadable relay.ca_file: fails each attempt
        if target.security != "none":
            try:
                self._context = tls_context(target)
            except RelayError as exc:
                self._setup_error = exc
        self.limits = RelayLimits()  # learned from the relay, for all its sessions
        self._idle: list[SmtpConnection] = []
        self._busy: set[SmtpConnection] = set()
        self._opening = 0
        self._changed = asyncio.Event()
        self.healthy = False
        self.connect_attempts = 0
        self.opened = 0

    def _signal(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def acquire(self, gate: Callable[[], None] | None = None) -> SmtpConnection:
        """An open session: an idle one, or a new one. ``gate`` may raise RelayBackedOff before opening."""
        while True:
            while self._idle:
                conn = self._idle.pop()
                if conn.is_open:
                    self._busy.add(conn)
                    return conn
                conn.abort()
            if self.healthy or not (self._busy or self._opening):
                break
            await self._changed.wait()  # slow start: wait for the one session to prove the relay well
        if gate is not None:
            gate()
        if self._setup_error is not None:
            self.connect_attempts += 1
            raise self._setup_error
        conn = SmtpConnection(self.target, self._context, self.limits)
        self.connect_attempts += 1
        self._opening += 1
        try:
            await conn.open()
        except RelayError:
            self.healthy = False
            raise
        finally:
            self._opening -= 1
            self._signal()
        self.opened += 1
        self._busy.add(conn)
        return conn

    async def send(
        self, gate: Callable[[], None], sender: str, recipients: tuple[str, ...], raw: bytes, smtputf8: bool
    ) -> tuple[list[RecipientReply], float]:
        """One transaction on a pooled session: the replies, and when that session was opened (loop time).

        A reused session found closed before anything of the message was sent is replaced (up to
        STALE_RETRIES times). A relay failure (RelayError) drops the session and marks the relay unwell;
        RelayBackedOff (from ``gate``) and cancellation pass through.
        """
        conn: SmtpConnection | None = None
        settled: dict[str, RecipientReply] = {}  # what sessions that then failed had settled (see PartlySent)
        remaining = recipients
        try:
            for _ in range(STALE_RETRIES):
                conn = await self.acquire(gate)
                try:
                    replies = await conn.deliver(sender, remaining, raw, smtputf8)
                except StaleConnection:
                    self.discard(conn)
                    conn = None
                    continue
                except PartlySent as exc:
                    self.discard(conn)
                    conn = None
                    settled.update(exc.settled)
                    remaining = tuple(a for a in remaining if a not in settled)
                    if isinstance(exc.error, StaleConnection):
                        continue  # the rest, at once, on another session
                    raise PartlySent(settled, exc.error) from exc.error
                self.mark_healthy()
                self.release(conn)
                merged = settled | {r.address: r for r in replies}
                return [merged[a] for a in recipients], conn.opened_at
            raise RelayError(RelayFault.DROPPED, f"{self.target.name} keeps closing new connections at once")
        except RelayError as exc:
            if conn is not None:
                self.discard(conn)
            self.mark_unhealthy()
            if settled:
                raise PartlySent(settled, exc) from exc
            raise
        except PartlySent:
            self.mark_unhealthy()
            raise
        except asyncio.CancelledError:
            if conn is not None:
                self.discard(conn)  # the server may be mid-transaction: this session is done for
            raise

    def mark_healthy(self) -> None:
        """A transaction went through: the relay works; more sessions may open in parallel."""
        if not self.healthy:
            self.healthy = True
            self._signal()

    def mark_unhealthy(self) -> None:
        self.healthy = False

    async def probe(self) -> None:
        """Open one session and keep it for the next message (after a backoff: is the relay back?)."""
        conn = await self.acquire()
        self.release(conn)

    def release(self, conn: SmtpConnection) -> None:
        self._busy.discard(conn)
        if conn.is_open:
            self._idle.append(conn)
        else:
            conn.abort()
        self._signal()

    def discard(self, conn: SmtpConnection) -> None:
        self._busy.discard(conn)
        conn.abort()
        self._signal()

    @property
    def idle_count(self) -> int:
        return len(self._idle)

    async def close_idle(self) -> None:
        idle, self._idle = self._idle, []
        if idle:
            await asyncio.gather(*(c.close() for c in idle))

    async def close(self) -> None:
        """QUIT the idle sessions; drop any still busy (their senders were stopped)."""
        await self.close_idle()
        for conn in list(self._busy):
            with contextlib.suppress(Exception):
                conn.abort()
        self._busy.clear()
        self._signal()
