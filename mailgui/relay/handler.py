"""The relay's SMTP session hooks (aiosmtpd handler): the outcome simulator, then the local mailbox."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from mailgui.relay.late_mail import LATE_DELAY, late_mail
from mailgui.relay.loopback import format_peer, is_loopback_peer
from mailgui.relay.simulator import (
    LATER_BY_MAIL,
    SLOW_DELAY,
    Behaviour,
    counter_key,
    rcpt_refusal,
    reserved_behaviour,
)
from mailgui.relay.storage import RelayStorage

log = logging.getLogger(__name__)

# Counters that start again once a message got through, so every new message sees the behaviour.
_RESET_AFTER_SUCCESS = (Behaviour.TEMPFAIL, Behaviour.DISCONNECT)


def envelope_sender(mail_from: str | None) -> str:
    """aiosmtpd gives the null reverse-path as '<>'; the mailbox and the queue write it ''."""
    return "" if mail_from in (None, "", "<>") else str(mail_from)


class RelayHandler:
    """aiosmtpd hooks (``handle_MAIL``, ``handle_RCPT``, ``handle_DATA``): replies worded like Postfix's."""

    def __init__(
        self,
        storage: RelayStorage,
        *,
        slow_delay: float = SLOW_DELAY,
        late_delay: float = LATE_DELAY,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        now: Callable[[], float] | None = None,
    ):
        self.storage = storage
        self.slow_delay = slow_delay
        self.late_delay = late_delay
        self.sleep = sleep
        self.now = now
        self.later: set[asyncio.Task[None]] = set()  # mail that comes back later, on its way

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]) -> str:
        if not is_loopback_peer(session.peer):  # the server refuses these before the greeting; never trust one
            return "554 5.7.1 Access denied"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 Ok"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]) -> str:
        if not is_loopback_peer(session.peer):
            return "554 5.7.1 Access denied"
        behaviour = reserved_behaviour(address)
        if behaviour is not None:
            count = 0
            if behaviour in (Behaviour.TEMPFAIL, Behaviour.GREYLIST):
                count = await self.storage.bump_sim(
                    counter_key(behaviour, envelope_sender(envelope.mail_from), address)
                )
            refusal = rcpt_refusal(behaviour, address, count)
            if refusal is not None:
                log.info("local relay: %s refused: %s", address, refusal)
                return refusal
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        sender = envelope_sender(envelope.mail_from)
        behaviours = {rcpt: reserved_behaviour(rcpt) for rcpt in envelope.rcpt_tos}
        drop = False
        for rcpt, behaviour in behaviours.items():
            if behaviour is Behaviour.DISCONNECT:
                drop |= await self.storage.bump_sim(counter_key(behaviour, sender, rcpt)) == 1
        if drop:
            log.info("local relay: simulating a dropped connection during DATA (to disconnect@)")
            server.transport.abort()
            # connection_lost() cancels this session's task (aiosmtpd SMTP.connection_lost), ending the wait.
            await asyncio.get_running_loop().create_future()
        if Behaviour.SLOW in behaviours.values():
            await self.sleep(self.slow_delay)
        mailbox_id = await self.storage.store_received(
            sender, envelope.rcpt_tos, envelope.original_content, format_peer(session.peer)
        )
        log.info(
            "local relay: message %d from <%s> to %s (%d bytes)",
            mailbox_id,
            sender,
            ", ".join(f"<{r}>" for r in envelope.rcpt_tos),
            len(envelope.original_content),
        )
        done = [counter_key(b, sender, r) for r, b in behaviours.items() if b in _RESET_AFTER_SUCCESS]
        if done:
            await self.storage.reset_sim(done)
        await self._read_if_report(envelope.original_content, envelope.rcpt_tos, mailbox_id)
        for rcpt, behaviour in behaviours.items():
            if behaviour in LATER_BY_MAIL and sender:  # never a report about a report (null sender)
                self._send_later(behaviour, envelope.original_content, sender, rcpt)
        return f"250 2.0.0 Ok: queued as {mailbox_id}"

    async def _read_if_report(self, raw: bytes, recipients: list[str], mailbox_id: int) -> None:
        """A report that reached a local sender is read as the IMAP reader reads one: recorded against the
        message it is about. Never fails the delivery that brought it: it is in the mailbox either way."""
        try:
            got = await self.storage.read_report(raw, recipients)
        except Exception as exc:
            log.error("local relay: message %d: could not read it as a report: %s", mailbox_id, exc, exc_info=exc)
            return
        if got is not None and not got.duplicate:
            about = f"message #{got.message_id}" if got.message_id is not None else "no message of this queue"
            log.info("local relay: message %d is a %s report about %s", mailbox_id, got.kind, about)

    def _send_later(self, behaviour: Behaviour, original: bytes, sender: str, recipient: str) -> None:
        task = asyncio.get_running_loop().create_task(self._come_back(behaviour, original, sender, recipient))
        self.later.add(task)
        task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        self.later.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("local relay: mail that comes back later failed", exc_info=task.exception())

    async def _come_back(self, behaviour: Behaviour, original: bytes, sender: str, recipient: str) -> None:
        await self.sleep(self.late_delay)
        now = self.now() if self.now is not None else time.time()
        raw = late_mail(behaviour, original, sender, recipient, now)
        if raw is None:
            return
        mail_from = "" if behaviour is Behaviour.LATE else recipient  # a bounce comes from the null sender
        mailbox_id = await self.storage.store_received(mail_from, [sender], raw, "simulator")
        log.info(
            "local relay: %s mail for <%s> came back to <%s> as message %d", behaviour, recipient, sender, mailbox_id
        )
        await self._read_if_report(raw, [sender], mailbox_id)

    async def handle_exception(self, error: Exception) -> str:
        log.error("local relay: cannot take the message: %s", error, exc_info=error)
        return "451 4.3.0 Error: local mailbox unavailable, try again later"
