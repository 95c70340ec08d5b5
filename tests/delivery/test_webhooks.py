"""Webhooks (mailgui/delivery/webhooks.py): every event POSTed to a real HTTP server on 127.0.0.1, each signed
with the secret from the keyring; a receiver that was down gets everything after it comes back, once each by id."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from mailgui.clock import FakeClock
from mailgui.delivery.webhooks import LAST_ERROR, WebhookSender
from mailgui.errors import InvalidSettingError
from mailgui.queue import Attempt, Queue, RecipientResult, RecipientStatus
from mailgui.settings import Settings, set_password
from tests.queue.helpers import outgoing
from tests.test_settings import MemoryKeyring

SECRET = "s3cret-for-the-test"


class Receiver:
    """A real HTTP server that checks each POST's signature and keeps the events; can be taken down and back up."""

    def __init__(self) -> None:
        self.events: list[dict[str, object]] = []
        self.bad_signatures = 0
        self.port = 0
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    def up(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                stamp = self.headers["X-Mailgui-Timestamp"]
                want = "sha256=" + hmac.new(SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
                if hmac.compare_digest(want, self.headers["X-Mailgui-Signature"]):
                    receiver.events.append(json.loads(body))
                else:
                    receiver.bad_signatures += 1
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def down(self) -> None:
        assert self.server is not None and self.thread is not None
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.up()
    yield r
    if r.server is not None and r.thread is not None and r.thread.is_alive():
        r.down()


def deliver(queue: Queue, clock: FakeClock, n: int) -> None:
    for i in range(n):
        mid = queue.enqueue(outgoing(to=f"r{i}@example.org"))
        queue.claim_due("w", 10, 60)
        ok = RecipientResult(f"r{i}@example.org", RecipientStatus.DELIVERED, 250, "2.0.0 Ok")
        queue.record_attempt(mid, "w", Attempt(clock.now(), 0.1, "relay", (ok,)), None)


async def test_every_event_reaches_the_receiver_signed_and_after_an_outage_the_rest_follow_once(
    authorized: Queue, db_path: Path, clock: FakeClock, receiver: Receiver, memory_keyring: MemoryKeyring
) -> None:
    settings = Settings(authorized)
    settings.set("events.webhook.url", f"http://127.0.0.1:{receiver.port}/hook")
    set_password(settings, SECRET, "events.webhook.secret")
    deliver(authorized, clock, 5)
    sender = WebhookSender(db_path, clock)
    async with httpx.AsyncClient() as client:
        sent, error, on = await sender.send_pending(client)
        assert (sent, error, on) == (10, None, True)  # queued and sent, for each of five
        assert [e["event"] for e in receiver.events] == ["queued", "sent"] * 5

        receiver.down()  # the receiver is away for a while
        deliver(authorized, clock, 3)
        sent, error, _ = await sender.send_pending(client)
        assert sent == 0 and error is not None and "could not be reached" in error
        assert authorized.get_setting(LAST_ERROR) == error  # the GUI shows it

        receiver.up()  # back, on the same address
        sent, error, _ = await sender.send_pending(client)
        assert (sent, error) == (6, None)
    ids = [e["id"] for e in receiver.events]
    assert ids == sorted(set(ids)) and len(ids) == 16 == authorized.last_event_id()
    assert receiver.bad_signatures == 0
    assert authorized.get_setting(LAST_ERROR) == ""
    assert {e["recipient"] for e in receiver.events} == {f"r{i}@example.org" for i in range(5)} | {
        f"r{i}@example.org" for i in range(3)
    }


async def test_without_a_secret_nothing_is_sent_and_the_error_says_how_to_set_it(
    authorized: Queue, db_path: Path, clock: FakeClock, receiver: Receiver, memory_keyring: MemoryKeyring
) -> None:
    Settings(authorized).set("events.webhook.url", f"http://127.0.0.1:{receiver.port}/hook")
    deliver(authorized, clock, 1)
    async with httpx.AsyncClient() as client:
        sent, error, _ = await WebhookSender(db_path, clock).send_pending(client)
    assert sent == 0 and error is not None and error.startswith("events.webhook.secret:")
    assert receiver.events == []


@pytest.mark.parametrize("url", ["http://example.com/hook", "ftp://127.0.0.1/x", "not a url"])
def test_a_webhook_url_in_clear_text_to_another_host_or_not_http_is_refused(authorized: Queue, url: str) -> None:
    with pytest.raises(InvalidSettingError, match=r"^events.webhook.url: "):
        Settings(authorized).set("events.webhook.url", url)


def test_the_secret_follows_the_url_and_goes_with_it(authorized: Queue, memory_keyring: MemoryKeyring) -> None:
    from mailgui.settings import get_password

    settings = Settings(authorized)
    settings.set("events.webhook.url", "https://hooks.example.com/a")
    set_password(settings, SECRET, "events.webhook.secret")
    settings.set("events.webhook.url", "https://hooks.example.com/b")  # events go elsewhere, signed the same
    assert get_password(settings, "events.webhook.secret") == SECRET
    settings.set("events.webhook.url", "")  # webhooks off: nothing is left in the keyring
    assert [account for _, account in memory_keyring.secrets if account.startswith("webhook:")] == []
