"""Delivery wired up as the GUI and ``mailgui worker`` run it: the worker, with the built-in relay in local mode."""

from __future__ import annotations

import asyncio
from pathlib import Path

import keyring.errors
import pytest

from mailgui.clock import FakeClock
from mailgui.delivery import MessageEvent, RelayTarget, WorkerEvent
from mailgui.errors import InvalidSettingError, SecretStoreError
from mailgui.message import MessageFields, build_message
from mailgui.queue import Queue, Status
from mailgui.service import start_services
from mailgui.settings import Settings, set_password
from tests.logfail import expect_relay_failures
from tests.smtpserver import SMTPTestServer
from tests.test_settings import MemoryKeyring

PASSWORD = "Kr-7q!pass word"


def queue_to(queue: Queue, clock: FakeClock, to: str) -> int:
    return queue.enqueue(
        build_message(MessageFields(sender="ann@example.com", to=to, subject=f"to {to}", body="hi\n"), now=clock.now())
    )


class LockedKeyring(MemoryKeyring):
    """A keyring that holds the password but cannot be read now (locked, its service gone)."""

    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.KeyringLocked("the collection is locked")


async def settled(events: asyncio.Queue[WorkerEvent], ids: set[int]) -> dict[int, str]:
    """Wait for a final state (sent or bounced) of each message in ``ids``, from the worker's events."""
    final: dict[int, str] = {}
    while set(final) != ids:
        event = await events.get()
        if isinstance(event, MessageEvent) and event.message_id in ids and event.status in ("sent", "bounced"):
            final[event.message_id] = event.status
    return final


async def test_local_mode_delivers_to_the_built_in_relay_and_its_mailbox(
    authorized: Queue, clock: FakeClock, db_path: Path
) -> None:
    events: asyncio.Queue[WorkerEvent] = asyncio.Queue()
    services = await start_services(db_path, clock, listener=events.put_nowait)
    try:
        assert services.local_relay is not None and services.relay_port
        assert services.target == RelayTarget(
            "127.0.0.1", services.relay_port, "none", helo_name=services.target.helo_name
        )
        ok = queue_to(authorized, clock, "success@simulator.mailgui.test")
        bounce = queue_to(authorized, clock, "bounce@simulator.mailgui.test")
        services.wake()
        final = await asyncio.wait_for(settled(events, {ok, bounce}), timeout=30)
        assert final == {ok: "sent", bounce: "bounced"}
        [report_id] = authorized.get_message(bounce).report_ids
        await asyncio.wait_for(settled(events, {report_id}), timeout=30)
    finally:
        await services.stop()
    mailbox = authorized.list_mailbox(limit=10)
    assert sorted(e.subject for e in mailbox) == sorted(
        ["to success@simulator.mailgui.test", "Undelivered Mail Returned to Sender"]
    )
    report = next(e for e in mailbox if e.mail_from == "")
    assert report.rcpt_to == ("ann@example.com",)  # the report reached the sender, in the local mailbox
    assert services.worker.state.name == "stopped"


async def test_smtp_mode_uses_the_given_relay_and_stop_ends_everything(
    authorized: Queue, clock: FakeClock, db_path: Path, smtp_server: SMTPTestServer
) -> None:
    Settings(authorized).set("relay.mode", "smtp")
    target = RelayTarget("127.0.0.1", smtp_server.port, "none", timeout=5)
    services = await start_services(db_path, clock, relay=target)
    events = services.worker.events()
    mid = queue_to(authorized, clock, "bob@example.org")
    services.wake()
    try:
        assert await asyncio.wait_for(settled(events, {mid}), timeout=30) == {mid: "sent"}
    finally:
        await services.stop()
    assert services.local_relay is None
    assert smtp_server.received[0].data == authorized.get_message(mid).raw
    assert services.task.done()


async def test_smtp_mode_without_a_host_is_a_clear_error(authorized: Queue, clock: FakeClock, db_path: Path) -> None:
    Settings(authorized).set("relay.mode", "smtp")
    with pytest.raises(InvalidSettingError, match=r"^relay\.host: no relay host is set$"):
        await start_services(db_path, clock)
    assert authorized.counts_by_status() == {}
    assert Status.SENDING not in authorized.counts_by_status()


@pytest.mark.parametrize("stored", [PASSWORD, pytest.param("wrong-" + PASSWORD, marks=expect_relay_failures)])
async def test_smtp_mode_logs_in_with_the_password_kept_in_the_keyring(
    authorized: Queue,
    clock: FakeClock,
    db_path: Path,
    memory_keyring: MemoryKeyring,
    stored: str,
) -> None:
    async with SMTPTestServer(users={"ann": PASSWORD}, auth_require_tls=False) as server:
        settings = Settings(authorized)
        for key, value in {
            "relay.mode": "smtp",
            "relay.host": "127.0.0.1",
            "relay.port": str(server.port),
            "relay.security": "none",  # loopback: AUTH in plain text is allowed
            "relay.username": "ann",
            "relay.timeout": "5",
        }.items():
            settings.set(key, value)
        set_password(settings, stored)
        assert memory_keyring.secrets and stored not in authorized.all_settings().values()

        services = await start_services(db_path, clock)  # no relay override: the settings, as app and CLI
        events = services.worker.events()
        mid = queue_to(authorized, clock, "bob@example.org")
        services.wake()
        try:
            while True:  # the outcome of the first attempt, whichever it is
                event = await asyncio.wait_for(events.get(), timeout=30)
                if isinstance(event, MessageEvent) and event.message_id == mid and event.status != "sending":
                    break
        finally:
            await services.stop()

    assert services.target.username == "ann"
    assert server.logins and set(server.logins) == {("ann", stored)}  # what the keyring holds went to AUTH
    summary = authorized.get_message(mid).summary
    if stored == PASSWORD:
        assert event.status == "sent" and server.connections[0].login == "ann"
        assert [r.data for r in server.received] == [authorized.get_message(mid).raw]
        assert summary.status == Status.SENT
    else:
        assert server.received == [] and all(c.login is None for c in server.connections)
        assert event.status == "deferred" and (summary.status, summary.last_code) == (Status.DEFERRED, 535)
        assert "refused the login for 'ann'" in (summary.last_reply or "")
        assert "check relay.username and the password in Settings" in (summary.last_reply or "")


async def test_a_keyring_that_cannot_be_read_is_a_clear_error_naming_the_password(
    authorized: Queue, clock: FakeClock, db_path: Path, memory_keyring: MemoryKeyring
) -> None:
    settings = Settings(authorized)
    for key, value in {"relay.mode": "smtp", "relay.host": "127.0.0.1", "relay.username": "ann"}.items():
        settings.set(key, value)
    set_password(settings, PASSWORD)
    keyring.set_keyring(LockedKeyring())  # the fixture puts the previous backend back
    with pytest.raises(
        SecretStoreError, match=r"^relay\.password: the keyring could not be read: the collection is locked"
    ):
        await start_services(db_path, clock)
    assert Status.SENDING not in authorized.counts_by_status()
