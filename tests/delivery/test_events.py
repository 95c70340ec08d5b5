"""The per-recipient event stream (schema v5 triggers, mailgui/queue/event_log.py, `mailgui events`): every state
change of a recipient, once, in order, by whichever path made it; and a consumer following it from another
process sees a whole run."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mailgui.bounces import parse_report
from mailgui.clock import FakeClock
from mailgui.delivery import RelayTarget
from mailgui.queue import Attempt, Queue, RecipientResult, RecipientStatus
from tests.delivery.helpers import make_worker
from tests.queue.helpers import outgoing
from tests.reports import arf, dsn
from tests.smtpserver import SMTPTestServer
from tests.test_cli import ok


def kinds(queue: Queue, after: int = 0) -> list[tuple[str, str]]:
    return [(e.kind, e.recipient) for e in queue.events_after(after)]


def test_each_state_change_makes_one_event_whatever_path_made_it(authorized: Queue, clock: FakeClock) -> None:
    mid = authorized.enqueue(outgoing(to=["a@example.org", "b@example.org", "c@example.org"]))
    assert kinds(authorized) == [("queued", "a@example.org"), ("queued", "b@example.org"), ("queued", "c@example.org")]
    start = authorized.last_event_id()
    authorized.claim_due("w", 10, 60)
    results = (
        RecipientResult("a@example.org", RecipientStatus.DELIVERED, 250, "2.0.0 Ok"),
        RecipientResult("b@example.org", RecipientStatus.FAILED, 550, "5.1.1 no such user"),
        RecipientResult("c@example.org", RecipientStatus.PENDING, 451, "4.3.0 try later"),
    )
    authorized.record_attempt(mid, "w", Attempt(clock.now(), 0.1, "relay", results), clock.now() + 300)
    got = authorized.events_after(start)
    assert [(e.kind, e.recipient, e.code) for e in got] == [
        ("deferred", "c@example.org", 451),
        ("sent", "a@example.org", 250),
        ("bounced", "b@example.org", 550),
    ] or sorted((e.kind, e.recipient, e.code) for e in got) == [
        ("bounced", "b@example.org", 550),
        ("deferred", "c@example.org", 451),
        ("sent", "a@example.org", 250),
    ]
    deferred = next(e for e in got if e.kind == "deferred")
    assert deferred.next_attempt_at == clock.now() + 300 and deferred.text == "4.3.0 try later"
    assert {e.header_message_id for e in got} == {authorized.get_message(mid).summary.message_id}

    # Reported later: a bounce for a, a complaint for a; then the last one is cancelled.
    message_id = authorized.get_message(mid).summary.message_id
    start = authorized.last_event_id()
    for raw in (dsn(message_id, [("a@example.org", "5.1.1", "550 5.1.1 unknown")]), arf(message_id, "a@example.org")):
        authorized.record_report(raw, parse_report(raw), "test")
    authorized.cancel(mid)
    got = authorized.events_after(start)
    assert [(e.kind, e.recipient) for e in got] == [
        ("bounced", "a@example.org"),
        ("complained", "a@example.org"),
        ("cancelled", "c@example.org"),
    ]
    assert got[0].reason == "unknown_user"
    ids = [e.id for e in authorized.events_after(0)]
    assert ids == sorted(set(ids))  # unique and in order


def test_mailgui_events_prints_them_resumable_from_an_id(db_path: Path, clock: FakeClock) -> None:
    with Queue(db_path) as q:
        q.add_sender("@example.com")
        q.enqueue(outgoing(to=["a@example.org", "b@example.org"]))
    lines = [json.loads(x) for x in ok(db_path, "events", "--json").splitlines()]
    assert [(x["event"], x["recipient"]) for x in lines] == [("queued", "a@example.org"), ("queued", "b@example.org")]
    assert set(lines[0]) == {
        "id", "at", "event", "queue_id", "message_id", "recipient", "code", "text", "reason", "next_attempt_at",
    }  # fmt: skip
    rest = ok(db_path, "events", "--since", str(lines[0]["id"])).splitlines()
    assert len(rest) == 1 and rest[0].startswith(f"{lines[1]['id']} ") and " queued " in rest[0]


@pytest.mark.timeout(120)
async def test_a_follower_in_another_process_sees_every_state_change_of_a_1000_message_run_once(
    authorized: Queue, db_path: Path, clock: FakeClock, target: RelayTarget, smtp_server: SMTPTestServer
) -> None:
    follower = subprocess.Popen(
        [sys.executable, "-m", "mailgui", "--db", str(db_path), "events", "--follow", "--json"],
        stdout=subprocess.PIPE,
        text=True,
    )
    seen: list[dict[str, object]] = []

    def read() -> None:
        assert follower.stdout is not None
        for line in follower.stdout:
            seen.append(json.loads(line))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        mids = [authorized.enqueue(outgoing(to=f"r{n}@example.org")) for n in range(1000)]
        worker = make_worker(authorized, clock, target)
        try:
            await worker.run_once()
        finally:
            await worker.aclose()
        first = authorized.get_message(mids[0]).summary.message_id
        raw = dsn(first, [("r0@example.org", "5.1.1", "550 5.1.1 unknown")])
        authorized.record_report(raw, parse_report(raw), "test")  # and one bounce reported later
        expected = 1000 * 2 + 1  # queued and sent for each, one late bounce
        deadline = time.monotonic() + 60
        while len(seen) < expected and time.monotonic() < deadline and follower.poll() is None:
            reader.join(0.05)  # the follower polls every 0.5 s; wait on its output, not on a clock
    finally:
        follower.terminate()  # ours, by its PID
        follower.wait(10)
        reader.join(10)  # it ends at the pipe's end
        assert follower.stdout is not None
        follower.stdout.close()
    ids = [x["id"] for x in seen]
    assert len(ids) == len(set(ids)) == expected, (len(ids), len(set(ids)))
    assert sorted((x["event"], x["recipient"]) for x in seen).count(("sent", "r0@example.org")) == 1
    by_kind = {k: sum(1 for x in seen if x["event"] == k) for k in ("queued", "sent", "bounced")}
    assert by_kind == {"queued": 1000, "sent": 1000, "bounced": 1}
    assert seen[-1]["event"] == "bounced" and seen[-1]["recipient"] == "r0@example.org"


def test_a_bounced_event_feeds_an_app_engine_bounce_handler(authorized: Queue, clock: FakeClock) -> None:
    from mailgui import mail

    mid = authorized.enqueue(outgoing(to=["a@example.org"], subject="Quarterly"))
    start = authorized.last_event_id()
    authorized.claim_due("w", 10, 60)
    failed = RecipientResult("a@example.org", RecipientStatus.FAILED, 550, "5.1.1 <a@example.org>: User unknown")
    authorized.record_attempt(mid, "w", Attempt(clock.now(), 0.1, "relay", (failed,)), None)
    [event] = [e for e in authorized.events_after(start) if e.kind == "bounced"]

    bounce = mail.BounceNotification.from_event(event, authorized)

    assert bounce.original["to"] == "a@example.org"
    assert bounce.original["subject"] == "Quarterly"
    assert bounce.original["from"] == "Ann <ann@example.com>"
    assert "550 5.1.1 <a@example.org>: User unknown" in bounce.notification["text"]
    assert bounce.original_raw_message.subject == "Quarterly"
    [queued] = [e for e in authorized.events_after(0) if e.kind == "queued"]
    with pytest.raises(mail.BadRequestError, match=r"^event: #\d+ is a 'queued' event, not 'bounced'"):
        mail.BounceNotification.from_event(queued, authorized)
