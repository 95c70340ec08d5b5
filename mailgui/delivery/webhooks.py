"""Webhooks: every event of the stream (``mailgui events``) POSTed as JSON to ``events.webhook.url``, signed, at
least once, in order, never holding up delivery.

Each POST carries ``X-Mailgui-Timestamp`` and ``X-Mailgui-Signature: sha256=<hex>``, an HMAC-SHA256 under the
secret kept in the OS keyring (``events.webhook.secret``) of ``<timestamp>.<body>``, so the receiver can check
who sent it and when (and refuse replays). A 2xx is taken as received; the last event received is remembered in
the queue, so a restart resumes after it. Anything else (refused, unreachable, a timeout) is retried with a
doubling wait, up to 5 minutes, and the last error is kept for the GUI. A receiver should drop an event whose
``id`` it has seen: an event whose 2xx was lost is sent again.

The HTTP client is httpx (maintained, typed, asyncio); the queue is read on a thread of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from mailgui.clock import Clock, SystemClock
from mailgui.errors import Error
from mailgui.queue import Event, Queue
from mailgui.settings import Settings, get_password

log = logging.getLogger(__name__)

SENT_UP_TO = "events.webhook.sent_up_to"  # in the settings table, not a setting: the last event id received
LAST_ERROR = "events.webhook.last_error"  # why the last POST failed ('' once one got through): the GUI shows it
BATCH = 100
IDLE_LOOK = 1.0  # seconds between looks for new events while there are none
OFF_LOOK = 30.0  # seconds between looks at the settings while no URL is set


def signature(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def event_body(e: Event) -> bytes:
    """The JSON ``mailgui events --json`` prints for ``e``: one shape for scripts and receivers."""
    return json.dumps(e.as_json(), ensure_ascii=False).encode()


class WebhookSender:
    def __init__(
        self,
        queue_path: str | Path,
        clock: Clock | None = None,
        *,
        timeout: float = 10.0,
        first_wait: float = 1.0,
        longest_wait: float = 300.0,
    ):
        self.queue_path = Path(queue_path)
        self.clock: Clock = clock or SystemClock()
        self.timeout = timeout
        self.first_wait = first_wait
        self.longest_wait = longest_wait
        self.failures = 0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mailgui-webhooks")
        self._queue: Queue | None = None

    # -- the queue, on its own thread ---------------------------------------------------------------------
    async def _db(self, fn, *args):  # type: ignore[no-untyped-def]
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def _q(self) -> Queue:
        if self._queue is None:
            self._queue = Queue(self.queue_path, clock=self.clock)
        return self._queue

    def _pending(self) -> tuple[str, str | None, list[Event]]:
        queue = self._q()
        settings = Settings(queue)
        url = settings.get("events.webhook.url")
        if not url:
            return "", None, []
        secret = get_password(settings, "events.webhook.secret")
        after = int(queue.get_setting(SENT_UP_TO) or 0)
        return url, secret, queue.events_after(after, BATCH)

    def _note(self, sent_up_to: int | None, error: str | None) -> None:
        queue = self._q()
        if sent_up_to is not None:
            queue.set_setting(SENT_UP_TO, str(sent_up_to))
        if error is not None:
            queue.set_setting(LAST_ERROR, error)

    def _close(self) -> None:
        if self._queue is not None:
            self._queue.close()
            self._queue = None

    # -- sending ---------------------------------------------------------------------------------------
    async def send_pending(self, client: httpx.AsyncClient) -> tuple[int, str | None, bool]:
        """POST the events not yet received, in order, until one fails: (how many got through, why the first
        failed or None, whether a URL is set)."""
        url, secret, events = await self._db(self._pending)
        if not url:
            return 0, None, False
        if not secret:
            error = "events.webhook.secret: no secret in the OS keyring; set it with mailgui config set --stdin"
            await self._db(self._note, None, error)
            return 0, error, True
        sent = 0
        for e in events:
            body = event_body(e)
            stamp = str(int(self.clock.now()))
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "mailgui-webhooks/1",
                "X-Mailgui-Event-Id": str(e.id),
                "X-Mailgui-Timestamp": stamp,
                "X-Mailgui-Signature": signature(secret, stamp, body),
            }
            try:
                response = await client.post(url, content=body, headers=headers, timeout=self.timeout)
            except httpx.HTTPError as exc:
                error = f"events.webhook.url: {url} could not be reached: {exc or type(exc).__name__}"
            else:
                if 200 <= response.status_code < 300:
                    sent += 1
                    await self._db(self._note, e.id, "")
                    continue
                error = f"events.webhook.url: {url} answered {response.status_code} to event #{e.id}"
            await self._db(self._note, None, error)
            return sent, error, True
        return sent, None, True

    async def run(self, stop: asyncio.Event) -> None:
        """Send as events come, until ``stop``; a failure waits 1 s, then 2, 4 ... up to 5 minutes."""
        try:
            async with httpx.AsyncClient(follow_redirects=False) as client:
                while not stop.is_set():
                    try:
                        sent, error, on = await self.send_pending(client)
                    except Error as exc:  # the queue or the keyring could not be read: said, then tried again
                        sent, error, on = 0, str(exc), True
                    if error is not None:
                        self.failures += 1
                        wait = min(self.first_wait * 2 ** (self.failures - 1), self.longest_wait)
                        if self.failures == 1:
                            log.warning("webhook: %s; trying again in %.0f s (and longer while it fails)", error, wait)
                    else:
                        if self.failures:
                            log.info("webhook: events are received again")
                        self.failures = 0
                        wait = 0.0 if sent == BATCH else (IDLE_LOOK if on else OFF_LOOK)
                    if wait:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(stop.wait(), wait)
        finally:
            await self._db(self._close)
            self._executor.shutdown(wait=False)
