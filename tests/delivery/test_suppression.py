"""Suppressed addresses are not sent to: the recipient is marked suppressed with why and since when, the others go
out as usual, and the sender's report names the suppression; with VERP on, each message's envelope sender names
it (issue 16)."""

from __future__ import annotations

from mailgui.clock import FakeClock
from mailgui.delivery import RelayTarget, Worker
from mailgui.queue import Queue, Status
from tests.delivery.conftest import Enqueue
from tests.delivery.helpers import make_worker, parse_dsn, states
from tests.smtpserver import SMTPTestServer


async def test_a_suppressed_recipient_is_not_sent_to_and_the_sender_hears_why(
    authorized: Queue, clock: FakeClock, worker: Worker, smtp_server: SMTPTestServer, enqueue: Enqueue
) -> None:
    authorized.add_suppression("Dead@Example.org", "unknown_user: 550 5.1.1 no such user")
    mid = enqueue(["dead@example.org", "bob@example.org"])

    await worker.run_once()

    assert [r.rcpt_tos for r in smtp_server.received if r.mail_from] == [("bob@example.org",)]  # not the report
    assert states(authorized, mid) == {"dead@example.org": ("suppressed", None), "bob@example.org": ("delivered", 250)}
    detail = authorized.get_message(mid)
    assert detail.summary.status == Status.BOUNCED  # one recipient will never get it
    dead = next(r for r in detail.summary.recipients if r.address == "dead@example.org")
    assert dead.reply == "not sent: dead@example.org is suppressed (unknown_user: 550 5.1.1 no such user)"
    [report_id] = detail.report_ids
    report = parse_dsn(authorized.get_message(report_id).raw)
    assert [r["final-recipient"] for r in report.per_recipient] == ["rfc822; dead@example.org"]
    assert report.per_recipient[0]["status"] == "5.0.0"  # for good, not a 4.x.x (found by the Postfix test)
    assert "suppressed" in report.human


async def test_a_message_to_suppressed_addresses_only_opens_no_connection(
    authorized: Queue, clock: FakeClock, worker: Worker, smtp_server: SMTPTestServer, enqueue: Enqueue
) -> None:
    authorized.add_suppression("dead@example.org")
    mid = enqueue("dead@example.org")
    sessions_before = len(smtp_server.received)

    await worker.run_once()

    assert states(authorized, mid) == {"dead@example.org": ("suppressed", None)}
    assert authorized.get_message(mid).summary.status == Status.BOUNCED
    # The only mail that went is the report to the sender.
    assert [r.rcpt_tos for r in smtp_server.received[sessions_before:]] == [("ann@example.com",)]


async def test_lifting_a_suppression_lets_later_mail_through(
    authorized: Queue, clock: FakeClock, worker: Worker, smtp_server: SMTPTestServer, enqueue: Enqueue
) -> None:
    authorized.add_suppression("bob@example.org")
    assert authorized.remove_suppressions(["bob@example.org"]) == 1
    mid = enqueue("bob@example.org")
    await worker.run_once()
    assert states(authorized, mid) == {"bob@example.org": ("delivered", 250)}


async def test_with_verp_on_each_message_goes_out_from_an_address_that_names_it(
    authorized: Queue, clock: FakeClock, target: RelayTarget, smtp_server: SMTPTestServer, enqueue: Enqueue
) -> None:
    from mailgui.bounces.verp import verp_address, verp_id

    key = authorized.verp_key()
    worker = make_worker(authorized, clock, target, return_path="bounces@example.com", verp_key=key)
    mid = enqueue("bounce-me@example.org")
    authorized.add_suppression("never@example.org")
    report_of = enqueue("never@example.org")  # suppressed: its report to the sender keeps the null sender
    try:
        await worker.run_once()
    finally:
        await worker.aclose()
    by_rcpt = {r.rcpt_tos: r.mail_from for r in smtp_server.received}
    assert by_rcpt[("bounce-me@example.org",)] == verp_address("bounces@example.com", mid, key)
    assert verp_id(by_rcpt[("bounce-me@example.org",)], "bounces@example.com", key) == mid
    assert authorized.get_message(report_of).report_ids
    assert by_rcpt[("ann@example.com",)] == ""  # a report's envelope sender stays null (no loops)
