"""Each reserved address answers as specified, over a real SMTP connection (aiosmtplib → LocalRelay)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiosmtplib
import pytest

from mailgui.clock import FakeClock
from mailgui.queue import Queue
from mailgui.relay import RESERVED_ADDRESSES, RESERVED_DOMAIN, Behaviour, LocalRelay
from mailgui.relay.simulator import counter_key, reserved_behaviour
from tests.relay.client import SlowGate, connect, send, try_rcpt

SENDER = "you@localhost"
RAW = b"From: you@localhost\r\nTo: x\r\nSubject: sim\r\n\r\nhello\r\n"


def sim(local: str) -> str:
    return f"{local}@{RESERVED_DOMAIN}"


def test_reserved_list_covers_every_behaviour_with_a_description() -> None:
    assert {a.behaviour for a in RESERVED_ADDRESSES} == set(Behaviour)
    for a in RESERVED_ADDRESSES:
        assert a.address == sim(a.behaviour.value)
        assert reserved_behaviour(a.address) is a.behaviour
        assert a.description and a.reply


@pytest.mark.parametrize(
    ("address", "behaviour"),
    [
        ("Bounce@Simulator.MailGUI.test", Behaviour.BOUNCE),
        ("tempfail+run7@simulator.mailgui.test", Behaviour.TEMPFAIL),
        ("nobody@simulator.mailgui.test", None),
        ("bounce@example.com", None),
        ("bounce@sub.simulator.mailgui.test", None),
        ("not-an-address", None),
    ],
)
def test_reserved_behaviour_is_case_insensitive_and_ignores_tags(address: str, behaviour: Behaviour | None) -> None:
    assert reserved_behaviour(address) is behaviour


async def test_success_is_accepted_into_the_mailbox(relay: LocalRelay, queue: Queue) -> None:
    errors, reply = await send(relay.port, SENDER, [sim("success")], RAW)
    assert errors == {}
    assert reply.startswith("2.0.0 Ok: queued as ")
    [entry] = queue.list_mailbox()
    assert entry.rcpt_to == (sim("success"),)
    assert queue.get_received(entry.id).raw == RAW


@pytest.mark.parametrize(
    ("local", "code", "text"),
    [
        ("bounce", 550, "5.1.1 <bounce@simulator.mailgui.test>: Recipient address rejected: User unknown"),
        ("full", 552, "5.2.2 <full@simulator.mailgui.test>: Recipient address rejected: Mailbox full"),
        ("BOUNCE", 550, "5.1.1 <BOUNCE@simulator.mailgui.test>: Recipient address rejected: User unknown"),
    ],
)
async def test_permanent_refusals_come_at_rcpt_every_time(
    relay: LocalRelay, queue: Queue, local: str, code: int, text: str
) -> None:
    for _ in range(3):
        assert await try_rcpt(relay.port, SENDER, sim(local)) == (code, text)
    assert queue.count_mailbox() == 0


async def test_refusal_is_per_recipient_in_one_transaction(relay: LocalRelay, queue: Queue) -> None:
    errors, _ = await send(relay.port, SENDER, [sim("bounce"), "friend@example.org", sim("full")], RAW)
    assert {a: r.code for a, r in errors.items()} == {sim("bounce"): 550, sim("full"): 552}
    [entry] = queue.list_mailbox()
    assert entry.rcpt_to == ("friend@example.org",)


async def test_tempfail_refuses_twice_then_accepts_and_starts_again_for_the_next_message(
    relay: LocalRelay, queue: Queue
) -> None:
    tempfail = "451", "4.3.0 <tempfail@simulator.mailgui.test>: Temporary lookup failure"
    for _ in range(2):
        code, text = await try_rcpt(relay.port, SENDER, sim("tempfail"))
        assert (str(code), text) == tempfail
    key = counter_key(Behaviour.TEMPFAIL, SENDER, sim("tempfail"))
    assert queue.get_sim(key) == 2
    errors, _ = await send(relay.port, SENDER, [sim("tempfail")], RAW)
    assert errors == {}
    assert queue.count_mailbox() == 1
    assert queue.get_sim(key) == 0  # reset after success: the next message sees two failures again
    code, _ = await try_rcpt(relay.port, SENDER, sim("tempfail"))
    assert code == 451


async def test_tempfail_counts_per_sender_and_recipient(relay: LocalRelay) -> None:
    assert (await try_rcpt(relay.port, "a@example.com", sim("tempfail")))[0] == 451
    assert (await try_rcpt(relay.port, "a@example.com", sim("tempfail")))[0] == 451
    assert (await try_rcpt(relay.port, "a@example.com", sim("tempfail")))[0] == 250
    assert (await try_rcpt(relay.port, "b@example.com", sim("tempfail")))[0] == 451
    assert (await try_rcpt(relay.port, "a@example.com", sim("tempfail+other")))[0] == 451


async def test_tempfail_counter_survives_a_restart(db_path: Path, clock: FakeClock) -> None:
    async with LocalRelay(db_path, clock=clock) as first:
        assert (await try_rcpt(first.port, SENDER, sim("tempfail")))[0] == 451
    async with LocalRelay(db_path, clock=clock) as second:
        assert (await try_rcpt(second.port, SENDER, sim("tempfail")))[0] == 451
        assert (await try_rcpt(second.port, SENDER, sim("tempfail")))[0] == 250


async def test_greylist_refuses_once_per_sender(relay: LocalRelay, queue: Queue) -> None:
    assert await try_rcpt(relay.port, "a@example.com", sim("greylist")) == (
        450,
        "4.2.0 <greylist@simulator.mailgui.test>: Recipient address rejected: Greylisted, please try again later",
    )
    errors, _ = await send(relay.port, "a@example.com", [sim("greylist")], RAW)
    assert errors == {}
    # Like a real greylist, a sender that retried once is let through from then on.
    errors, _ = await send(relay.port, "a@example.com", [sim("greylist")], RAW)
    assert errors == {}
    assert queue.count_mailbox() == 2
    assert (await try_rcpt(relay.port, "b@example.com", sim("greylist")))[0] == 450
    assert (await try_rcpt(relay.port, "", sim("greylist")))[0] == 450  # the null sender is a sender too
    assert (await try_rcpt(relay.port, "", sim("greylist")))[0] == 250


async def test_slow_answers_data_only_after_the_configured_delay(
    relay: LocalRelay, queue: Queue, slow_gate: SlowGate
) -> None:
    sending = asyncio.create_task(send(relay.port, SENDER, [sim("slow")], RAW))
    await asyncio.wait_for(slow_gate.waiting.wait(), 10)
    assert slow_gate.requested == [7.5]
    assert not sending.done()
    assert queue.count_mailbox() == 0
    slow_gate.released.set()
    errors, reply = await asyncio.wait_for(sending, 10)
    assert errors == {}
    assert reply.startswith("2.0.0 Ok")
    assert queue.count_mailbox() == 1


async def test_disconnect_drops_during_data_once_per_message(relay: LocalRelay, queue: Queue) -> None:
    client = await connect(relay.port)
    try:
        with pytest.raises(aiosmtplib.SMTPServerDisconnected):
            await client.sendmail(SENDER, [sim("disconnect"), "friend@example.org"], RAW)
    finally:
        client.close()
    assert queue.count_mailbox() == 0  # dropped before the reply: nothing was taken
    key = counter_key(Behaviour.DISCONNECT, SENDER, sim("disconnect"))
    assert queue.get_sim(key) == 1
    errors, _ = await send(relay.port, SENDER, [sim("disconnect"), "friend@example.org"], RAW)
    assert errors == {}
    assert queue.count_mailbox() == 1
    assert queue.get_sim(key) == 0  # the next message is dropped once again
    client = await connect(relay.port)
    try:
        with pytest.raises(aiosmtplib.SMTPServerDisconnected):
            await client.sendmail(SENDER, [sim("disconnect")], RAW)
    finally:
        client.close()


async def test_counters_of_a_restarted_relay_keep_the_disconnect_state(db_path: Path, clock: FakeClock) -> None:
    async with LocalRelay(db_path, clock=clock) as first:
        client = await connect(first.port)
        try:
            with pytest.raises(aiosmtplib.SMTPServerDisconnected):
                await client.sendmail(SENDER, [sim("disconnect")], RAW)
        finally:
            client.close()
    async with LocalRelay(db_path, clock=clock) as second:
        errors, _ = await send(second.port, SENDER, [sim("disconnect")], RAW)
        assert errors == {}
