"""Judging the worker against the hostile relay (tests/hostile_relay.py): the invariants every dialogue must keep."""

from __future__ import annotations

import asyncio

from mailgui.delivery import RelayTarget, Worker
from mailgui.queue import Queue, Status
from tests.hostile_relay import HostileRelay, truly_delivered

RUN_LIMIT = 60.0  # seconds one run_once may take before the test calls the worker hung


def hostile_target(
    relay: HostileRelay,
    *,
    security: str = "none",
    timeout: float = 5.0,
    connections: int = 1,
    ca_file: str = "",
    username: str = "",
    password: str | None = None,
) -> RelayTarget:
    return RelayTarget(
        "127.0.0.1",
        relay.port,
        security,
        username=username,
        password=password,
        timeout=timeout,
        connections=connections,
        helo_name="client.test",
        ca_file=ca_file,
    )


async def run_once(worker: Worker, relay: HostileRelay) -> int:
    """One pass of the worker (bounded), then the relay's sessions are let finish reading what they were sent."""
    recorded = await asyncio.wait_for(worker.run_once(), RUN_LIMIT)
    await relay.settle()
    return recorded


def sent_pairs(queue: Queue) -> set[tuple[str, str]]:
    """(Message-ID, recipient) for every recipient the queue calls delivered, reports included."""
    pairs = set()
    for mid in queue.message_ids():
        summary = queue.get_message(mid).summary
        pairs |= {(summary.message_id, r.address) for r in summary.recipients if r.status == "delivered"}
    return pairs


def unsettled(queue: Queue) -> list[tuple[int, str]]:
    """Messages in a state no pass of the worker may leave them in."""
    allowed = {Status.SENT, Status.DEFERRED, Status.BOUNCED, Status.QUEUED}
    return [
        (mid, s.status) for mid in queue.message_ids() if (s := queue.get_message(mid).summary).status not in allowed
    ]


def assert_sent_means_delivered(queue: Queue, relay: HostileRelay) -> None:
    """A recipient is delivered in the queue only if the relay really took the message for it; nothing is left
    half-done; a message is `sent` only with every recipient delivered."""
    lies = sent_pairs(queue) - truly_delivered(relay)
    assert not lies, f"marked delivered, but the relay never took them: {sorted(lies)}"
    assert unsettled(queue) == []
    raw = {(d := queue.get_message(mid)).summary.message_id: d.raw for mid in queue.message_ids()}
    for txn in relay.transactions:
        if txn.delivered and txn.accepted and txn.marker in raw:  # what arrived is what was queued, whole
            assert txn.data in (raw[txn.marker], raw[txn.marker] + b"\r\n"), f"{txn.marker} arrived altered"
    for mid in queue.message_ids():
        summary = queue.get_message(mid).summary
        if summary.status == Status.SENT:
            assert {r.status for r in summary.recipients} == {"delivered"}, summary
    assert_failed_means_refused(queue, relay)
    assert relay.errors == []


def assert_failed_means_refused(queue: Queue, relay: HostileRelay) -> None:
    """A recipient fails only on a refusal the relay really gave: its own 5xx reply to that RCPT, or to a MAIL,
    DATA or end of data (or, for mail that needs SMTPUTF8, an EHLO that did not offer it). Never on a line the
    relay added out of turn, nor on a dialogue broken by a violation."""
    refusals = {
        (verb if verb != "RCPT" else address, code)
        for record in relay.connections
        for verb, address, code in record.answers
        if code is not None and 500 <= code < 600
    }
    for mid in queue.message_ids():
        for r in queue.get_message(mid).summary.recipients:
            if r.status == "failed":
                if not relay.smtputf8 and (r.reply or "").startswith("5.6.7 SMTPUTF8 is required"):
                    continue  # it listed its extensions (EHLO) without SMTPUTF8: no transaction can carry it
                ways = {(r.address, r.code), ("MAIL", r.code), ("DATA", r.code), ("EOD", r.code)}
                assert refusals & ways, f"{r.address} failed with {r.code} {r.reply!r}, which the relay never said"
