"""Reading delivery outcomes back: recipients' states, and delivery reports parsed with the stdlib."""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass
from email.message import Message

from mailgui.clock import FakeClock
from mailgui.delivery import RelayBackoff, RelayTarget, RetryPolicy, Worker
from mailgui.queue import Queue


def states(queue: Queue, message_id: int) -> dict[str, tuple[str, int | None]]:
    """{address: (status, code)} for one message's recipients."""
    return {r.address: (r.status, r.code) for r in queue.get_message(message_id).summary.recipients}


@dataclass
class ParsedReport:
    message: Message
    human: str
    per_message: dict[str, str]
    per_recipient: list[dict[str, str]]
    headers: str  # the third part: the returned headers (or message)
    part_types: list[str]


def _fields(block: Message) -> dict[str, str]:
    return {k.lower(): " ".join(str(v).split()) for k, v in block.items()}


def parse_dsn(raw: bytes) -> ParsedReport:
    """Parse an RFC 3464 report the way a mail client would (stdlib email, compat32 as most MUAs behave)."""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    assert msg.get_content_type() == "multipart/report", msg.get_content_type()
    assert msg.get_param("report-type") == "delivery-status"
    parts = msg.get_payload()
    assert isinstance(parts, list)
    types = [p.get_content_type() for p in parts]
    human_part = parts[0]
    payload = human_part.get_payload(decode=True)
    human = payload.decode(human_part.get_content_charset() or "ascii") if isinstance(payload, bytes) else ""
    status = next(
        p for p in parts if p.get_content_type() in ("message/delivery-status", "message/global-delivery-status")
    )
    blocks = status.get_payload()
    assert isinstance(blocks, list) and blocks, "delivery-status has no field blocks"
    per_message = _fields(blocks[0])
    per_recipient = [_fields(b) for b in blocks[1:] if len(b.keys())]
    third = parts[2] if len(parts) > 2 else None
    headers = ""
    if third is not None:
        inner = third.get_payload()
        # message/rfc822 is parsed into a Message; text/rfc822-headers stays text
        headers = "".join(f"{k}: {v}\n" for k, v in inner[0].items()) if isinstance(inner, list) else str(inner)
    return ParsedReport(msg, human, per_message, per_recipient, headers, types)


RELAY_PAUSE = 30.0  # the first pause of make_worker's relay backoff


def make_worker(queue: Queue, clock: FakeClock, target: RelayTarget, **kw: object) -> Worker:
    """A worker with exact times: retries at 300 s doubling (no jitter), the relay left alone 30 s, 60 s, ..."""
    options: dict[str, object] = {
        "owner": "test-worker",
        "policy": RetryPolicy(jitter=0.0),
        "relay_backoff": RelayBackoff(first=RELAY_PAUSE, longest=4000.0, jitter=0.0),
        "reporting_mta": "mailgui.test",
        **kw,
    }
    return Worker(queue, clock=clock, relay=target, **options)  # type: ignore[arg-type]
