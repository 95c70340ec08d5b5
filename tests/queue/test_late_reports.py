"""Reports that come back by mail (mailgui/queue/late_reports.py): matched to the message they are about, the
recipient the relay took marked failed "reported later", kept once however often they come, suppressing dead
addresses; unmatched ones kept, not dropped."""

from __future__ import annotations

import logging

import pytest

from mailgui.bounces import parse_report
from mailgui.clock import FakeClock
from mailgui.queue import Attempt, Queue, RecipientResult, RecipientStatus, SoftRule, Status
from tests.logfail import Allowed
from tests.queue.helpers import outgoing
from tests.reports import arf, auto_reply, dsn

UNKNOWN = "550 5.1.1 <{}>: Recipient address rejected: User unknown in local recipient table"
FULL = "552 5.2.2 <{}>: mailbox full"


def sent(queue: Queue, clock: FakeClock, to: list[str]) -> tuple[int, str]:
    """A message the relay took for every recipient (250): its queue id and Message-ID."""
    mid = queue.enqueue(outgoing(to=to))
    [claimed] = queue.claim_due("w", 10, 60)
    results = tuple(RecipientResult(a, RecipientStatus.DELIVERED, 250, "2.0.0 Ok: queued") for a in claimed.recipients)
    queue.record_attempt(mid, "w", Attempt(clock.now(), 0.1, "relay:25", results), None)
    return mid, queue.get_message(mid).summary.message_id


def record(queue: Queue, raw: bytes, **kw: object):  # type: ignore[no-untyped-def]
    return queue.record_report(raw, parse_report(raw), "test", **kw)  # type: ignore[arg-type]


def states(queue: Queue, mid: int) -> dict[str, str]:
    return {r.address: r.status for r in queue.get_message(mid).summary.recipients}


def test_a_late_bounce_fails_the_recipient_the_relay_took_and_says_so(authorized: Queue, clock: FakeClock) -> None:
    mid, message_id = sent(authorized, clock, ["bob@example.org", "carol@example.org"])
    clock.advance(600)
    got = record(authorized, dsn(message_id, [("bob@example.org", "5.1.1", UNKNOWN.format("bob@example.org"))]))

    assert got.message_id == mid and not got.duplicate
    assert [(r.address, r.reason, r.applied) for r in got.recipients] == [("bob@example.org", "unknown_user", True)]
    assert states(authorized, mid) == {"bob@example.org": "failed", "carol@example.org": "delivered"}
    detail = authorized.get_message(mid)
    assert detail.summary.status == Status.SENT  # partly bounced: its recipients say which
    bob = next(r for r in detail.summary.recipients if r.address == "bob@example.org")
    assert bob.reply is not None and bob.reply.startswith("5.1.1 550 5.1.1") and "User unknown" in bob.reply
    late = detail.attempts[-1]
    assert late.relay.startswith(f"report #{got.id} received later")
    assert [(r.address, r.status) for r in late.results] == [("bob@example.org", "failed")]
    assert [b.address for b in authorized.list_bounces()] == ["bob@example.org"]
    suppression = authorized.suppression_of("BOB@example.org")  # compared without case
    assert suppression is not None and suppression.source == "bounce" and suppression.message_id == mid
    assert suppression.reason.startswith("unknown_user")


def test_a_message_whose_every_recipient_bounced_later_is_bounced(authorized: Queue, clock: FakeClock) -> None:
    mid, message_id = sent(authorized, clock, ["bob@example.org", "carol@example.org"])
    failed = [(a, "5.1.1", UNKNOWN.format(a)) for a in ("bob@example.org", "carol@example.org")]
    record(authorized, dsn(message_id, failed))
    summary = authorized.get_message(mid).summary
    assert summary.status == Status.BOUNCED
    assert (summary.last_reply or "").startswith("reported later: 5.1.1")


def test_the_same_report_twice_changes_nothing_twice(authorized: Queue, clock: FakeClock) -> None:
    mid, message_id = sent(authorized, clock, ["bob@example.org"])
    raw = dsn(message_id, [("bob@example.org", "5.1.1", UNKNOWN.format("bob@example.org"))])
    first = record(authorized, raw)
    before = authorized.get_message(mid)
    clock.advance(60)
    again = record(authorized, raw)
    assert again.duplicate and again.id == first.id
    assert authorized.get_message(mid) == before
    assert len(authorized.list_reports()) == 1


def test_a_report_about_no_message_of_this_queue_is_kept_unmatched(authorized: Queue, clock: FakeClock) -> None:
    mid, _ = sent(authorized, clock, ["bob@example.org"])
    got = record(authorized, dsn("<not-ours@elsewhere.example>", [("bob@example.org", "5.1.1", "550 no such user")]))
    assert got.message_id is None
    assert [r.id for r in authorized.list_reports(unmatched=True)] == [got.id]
    assert states(authorized, mid) == {"bob@example.org": "delivered"}
    assert authorized.suppression_of("bob@example.org") is None  # a report about mail we did not send proves nothing


def test_a_complaint_suppresses_the_address_and_leaves_the_delivery_as_it_was(
    authorized: Queue, clock: FakeClock
) -> None:
    mid, message_id = sent(authorized, clock, ["bob@example.org"])
    got = record(authorized, arf(message_id, "bob@example.org"))
    assert got.kind == "complaint" and got.message_id == mid
    assert states(authorized, mid) == {"bob@example.org": "delivered"}
    suppression = authorized.suppression_of("bob@example.org")
    assert suppression is not None and suppression.source == "complaint"


def test_an_auto_reply_is_kept_and_changes_nothing(authorized: Queue, clock: FakeClock) -> None:
    mid, message_id = sent(authorized, clock, ["bob@example.org"])
    before = authorized.get_message(mid)
    got = record(authorized, auto_reply(message_id, "bob@example.org"))
    assert got.kind == "auto_reply" and got.recipients == ()
    assert authorized.get_message(mid) == before
    assert authorized.list_suppressions() == []


@pytest.mark.parametrize("reports", [2, 3])
def test_soft_bounces_suppress_only_once_they_pile_up(authorized: Queue, clock: FakeClock, reports: int) -> None:
    for _ in range(reports):
        _, message_id = sent(authorized, clock, ["bob@example.org"])
        record(authorized, dsn(message_id, [("bob@example.org", "5.2.2", FULL.format("bob@example.org"))]))
        clock.advance(86400)
    suppressed = authorized.suppression_of("bob@example.org")
    assert (suppressed is not None) == (reports >= SoftRule().limit)


def test_soft_bounces_spread_wider_than_the_window_do_not_suppress(authorized: Queue, clock: FakeClock) -> None:
    for _ in range(3):
        _, message_id = sent(authorized, clock, ["bob@example.org"])
        record(authorized, dsn(message_id, [("bob@example.org", "5.2.2", FULL.format("bob@example.org"))]))
        clock.advance(5 * 86400)
    assert authorized.suppression_of("bob@example.org") is None


def test_a_verified_verp_id_matches_without_a_message_id(authorized: Queue, clock: FakeClock) -> None:
    mid, _ = sent(authorized, clock, ["bob@example.org"])
    got = record(authorized, dsn(None, [("bob@example.org", "5.1.1", "550 5.1.1 unknown")]), verp_id=mid)
    assert got.message_id == mid
    assert states(authorized, mid) == {"bob@example.org": "failed"}


def test_a_huge_report_is_kept_cut_and_still_applied(authorized: Queue, clock: FakeClock) -> None:
    mid, message_id = sent(authorized, clock, ["bob@example.org"])
    raw = dsn(message_id, [("bob@example.org", "5.1.1", UNKNOWN.format("bob@example.org"))])
    raw = raw.replace(b"I'm sorry to have to inform you...", b"I'm sorry. " + b"x" * (20 << 20))
    got = record(authorized, raw)
    assert got.message_id == mid
    assert states(authorized, mid) == {"bob@example.org": "failed"}
    assert len(authorized.report_raw(got.id)) == 1 << 20


def test_suppressions_are_added_listed_and_lifted_by_hand(authorized: Queue) -> None:
    assert authorized.add_suppression("Dead@Example.org", "left the company")
    assert not authorized.add_suppression("dead@example.org")  # the same address
    [s] = authorized.list_suppressions("dead")
    assert (s.address, s.reason, s.source) == ("Dead@Example.org", "left the company", "user")
    assert authorized.remove_suppressions(["DEAD@example.org", "never@example.org"]) == 1
    assert authorized.list_suppressions() == []


def verp_dsn(to: str, address: str = "bob@example.org") -> bytes:
    """A bounce that quotes nothing of the message (no Message-ID), sent to the envelope sender ``to``."""
    return dsn(None, [(address, "5.1.1", UNKNOWN.format(address))]).replace(
        b"To: ann@example.com", f"To: {to}".encode()
    )


def test_with_verp_on_a_report_is_matched_by_the_address_it_came_back_to(authorized: Queue, clock: FakeClock) -> None:
    from mailgui.bounces.verp import verp_address

    authorized.set_setting("bounces.return_path", "bounces@example.com")
    mid, _ = sent(authorized, clock, ["bob@example.org"])
    got = record(authorized, verp_dsn(verp_address("bounces@example.com", mid, authorized.verp_key())))
    assert got.message_id == mid
    assert states(authorized, mid) == {"bob@example.org": "failed"}
    assert authorized.verp_key() == authorized.verp_key()  # made once, kept


@pytest.mark.allow_log(Allowed("mailgui.queue.late_reports", logging.WARNING, r"a forged VERP address is ignored"))
def test_a_forged_verp_address_matches_nothing_and_says_so(
    authorized: Queue, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    authorized.set_setting("bounces.return_path", "bounces@example.com")
    mid, _ = sent(authorized, clock, ["bob@example.org"])
    got = record(authorized, verp_dsn(f"bounces+{mid}-0123456789ab@example.com"))
    assert got.message_id is None
    assert states(authorized, mid) == {"bob@example.org": "delivered"}
    assert any("forged VERP" in r.getMessage() for r in caplog.records)


def test_matched_by_verp_the_sender_gets_mailguis_own_report_and_by_message_id_does_not(
    authorized: Queue, clock: FakeClock
) -> None:
    from mailgui.bounces.verp import verp_address
    from mailgui.delivery.reporting import late_report_writer
    from tests.delivery.helpers import parse_dsn

    writer = late_report_writer("mailgui.test")
    authorized.set_setting("bounces.return_path", "bounces@example.com")
    # Matched by the Message-ID it quotes, the relay's report went to the sender already: no second one.
    by_id, message_id = sent(authorized, clock, ["carol@example.org"])
    raw = dsn(message_id, [("carol@example.org", "5.1.1", UNKNOWN.format("carol@example.org"))])
    authorized.record_report(raw, parse_report(raw), "test", report_writer=writer)
    assert authorized.get_message(by_id).report_ids == ()

    by_verp, _ = sent(authorized, clock, ["bob@example.org"])
    raw = verp_dsn(verp_address("bounces@example.com", by_verp, authorized.verp_key()))
    authorized.record_report(raw, parse_report(raw), "test", report_writer=writer)
    [report_id] = authorized.get_message(by_verp).report_ids
    report = authorized.get_message(report_id)
    assert [r.address for r in report.summary.recipients] == ["ann@example.com"]  # the original sender
    fields = parse_dsn(report.raw).per_recipient
    assert [(f["final-recipient"], f["status"]) for f in fields] == [("rfc822; bob@example.org", "5.1.1")]
