"""Late bounces end to end with real servers: mailgui's worker sends through a private Postfix, which says ``250``
for every recipient and then bounces the unknown one itself; its DSN lands in the private Dovecot's mailbox; mailgui
reads it over IMAPS (``fetch_once``) and fails that recipient of that message as ``unknown_user``, files the report
in the processed folder, and suppresses the address so that the next message to it is not sent. Once with the
sender's own address as envelope sender, once with VERP (``bounces.return_path``). And a next hop that never
takes the message: Postfix gives up after one try (``maximal_queue_lifetime = 0``) and its report fails the
recipient as ``expired``."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest

from mailgui.clock import FakeClock
from mailgui.delivery import RelayTarget, Worker
from mailgui.delivery.imap_reader import fetch_once
from mailgui.message import MessageFields, build_message
from mailgui.queue import Queue
from mailgui.settings import Settings, set_password
from tests.delivery.helpers import make_worker
from tests.realservers.dovecot import PASSWORD, USER, Dovecot, Mailbox
from tests.realservers.postfix import DELIVERED, UNKNOWN, UNREACHABLE_DOMAIN, Postfix
from tests.reports import auto_reply
from tests.test_settings import MemoryKeyring

SENDER = "ann@example.com"  # example.com's mail, the relay's reports to her included, lands in the Dovecot account
RETURN_PATH = USER  # bounces@example.com
ORDINARY = b"From: Carol <carol@example.org>\r\nTo: ann@example.com\r\nSubject: lunch?\r\n\r\nAt noon?\r\n"


@pytest.fixture(params=[False, True], ids=["sender", "verp"])
def verp(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture
def settings(authorized: Queue, dovecot: Dovecot, memory_keyring: MemoryKeyring, verp: bool) -> Settings:
    """The queue's bounce mailbox is the Dovecot account over IMAPS; with ``verp``, bounces.return_path is set."""
    s = Settings(authorized)
    values = {
        "bounces.imap.host": "127.0.0.1",
        "bounces.imap.port": str(dovecot.imaps_port),
        "bounces.imap.security": "tls",
        "bounces.imap.username": USER,
        "bounces.imap.ca_file": str(dovecot.tls.ca_file),
    }
    if verp:
        values["bounces.return_path"] = RETURN_PATH
    s.set_many(values)
    set_password(s, PASSWORD, "bounces.imap.password")
    return s


@pytest.fixture
async def worker(authorized: Queue, clock: FakeClock, postfix: Postfix, verp: bool) -> AsyncIterator[Worker]:
    target = RelayTarget("127.0.0.1", postfix.port, "none", timeout=10.0, connections=1, helo_name="client.test")
    options: dict[str, object] = {"return_path": RETURN_PATH, "verp_key": authorized.verp_key()} if verp else {}
    w = make_worker(authorized, clock, target, **options)
    yield w
    await w.aclose()


def enqueue(queue: Queue, clock: FakeClock, to: list[str], subject: str) -> int:
    msg = build_message(MessageFields(sender=f"Ann <{SENDER}>", to=to, subject=subject, body="Hi.\n"), now=clock.now())
    return queue.enqueue(msg)


def states(queue: Queue, mid: int) -> dict[str, tuple[str, int | None]]:
    return {r.address: (r.status, r.code) for r in queue.get_message(mid).summary.recipients}


def postfix_took(postfix: Postfix, recipient: str) -> list[str]:
    """The envelope senders of the messages Postfix tried to deliver to ``recipient`` (from its log)."""
    by_queue_id = dict(re.findall(r"postfix/qmgr\[\d+\]: (\w+): from=<([^>]*)>", postfix.log))
    tried = re.findall(rf"postfix/\w+\[\d+\]: (\w+): to=<{re.escape(recipient)}>", postfix.log)
    return [by_queue_id[q] for q in tried]


async def test_a_bounce_postfix_sends_later_fails_the_recipient_and_suppresses_the_address(
    authorized: Queue,
    clock: FakeClock,
    postfix: Postfix,
    imap_mailbox: Mailbox,
    settings: Settings,
    worker: Worker,
    verp: bool,
) -> None:
    before = postfix_took(postfix, UNKNOWN)
    mid = enqueue(authorized, clock, [DELIVERED, UNKNOWN], "first")
    other = enqueue(authorized, clock, [DELIVERED], "someone else's")  # must stay untouched by the bounce
    ooto = imap_mailbox.append(auto_reply(authorized.get_message(other).summary.message_id, DELIVERED))
    ordinary = imap_mailbox.append(ORDINARY)

    await worker.run_once()

    # The relay took every recipient with 250: nothing failed during delivery.
    assert states(authorized, mid) == {DELIVERED: ("delivered", 250), UNKNOWN: ("delivered", 250)}

    # Postfix bounces it itself: its DSN lands in the Dovecot mailbox, after the two already there.
    postfix.wait_for(lambda: len(imap_mailbox.messages("INBOX")) == 3, "Postfix's bounce in the Dovecot mailbox")
    [envelope] = postfix_took(postfix, UNKNOWN)[len(before) :]
    assert re.fullmatch(rf"bounces\+{mid}-[0-9a-f]{{12}}@example\.com" if verp else re.escape(SENDER), envelope)
    [dsn] = [m for m in imap_mailbox.messages("INBOX") if m not in (ooto, ordinary)]
    assert b"MAILER-DAEMON@postfix.test" in dsn and b"Status: 5.1.1" in dsn
    if verp:
        assert re.search(rb"\r\nTo: bounces\+%d-[0-9a-f]{12}@example\.com\r\n" % mid, dsn)

    got = await fetch_once(authorized, settings)

    [bounce] = [r for r in got if r.kind == "bounce"]
    assert bounce.message_id == mid and not bounce.duplicate
    assert [(r.address, r.reason, r.applied) for r in bounce.recipients] == [(UNKNOWN, "unknown_user", True)]
    recipients = {r.address: (r.status, r.reason, r.report_id) for r in authorized.get_message(mid).summary.recipients}
    assert recipients == {DELIVERED: ("delivered", None, None), UNKNOWN: ("failed", "unknown_user", bounce.id)}
    assert states(authorized, other) == {DELIVERED: ("delivered", 250)}
    # The report is filed in the processed folder; the auto-reply and the ordinary mail stay where they were.
    assert imap_mailbox.messages("mailgui.processed") == [dsn]
    assert imap_mailbox.messages("INBOX") == [ooto, ordinary]
    assert authorized.suppression_of(UNKNOWN) is not None
    # With VERP, Postfix's DSN went to the VERP address, not to the sender: mailgui tells the sender itself.
    assert len(authorized.get_message(mid).report_ids) == (1 if verp else 0)

    # The next message to that address is not sent to it; its other recipient still is.
    tried_before = len(postfix_took(postfix, UNKNOWN))
    delivered_before = len(postfix_took(postfix, DELIVERED))
    second = enqueue(authorized, clock, [UNKNOWN, DELIVERED], "second")
    await worker.run_once()

    assert states(authorized, second)[UNKNOWN] == ("suppressed", None)
    assert states(authorized, second)[DELIVERED] == ("delivered", 250)
    postfix.wait_for(lambda: len(postfix_took(postfix, DELIVERED)) > delivered_before, "the second message")
    assert len(postfix_took(postfix, UNKNOWN)) == tried_before

    # mailgui's own report to the sender about the suppression goes out through Postfix too, into the same mailbox:
    # it is the sender's to read, so the reader leaves it there and records nothing of it.
    own_reports = 2 if verp else 1  # with VERP, also the one about the first message's late bounce
    postfix.wait_for(
        lambda: len(imap_mailbox.messages("INBOX")) == 2 + own_reports, "mailgui's own reports in the Dovecot mailbox"
    )
    first_now, second_now = authorized.get_message(mid), authorized.get_message(second)
    reports_before = len(authorized.list_reports())
    again = await fetch_once(authorized, settings)
    assert [r.kind for r in again if not r.duplicate] == []  # only what was read before (the auto-reply left there)
    assert len(authorized.list_reports()) == reports_before
    assert len(imap_mailbox.messages("INBOX")) == 2 + own_reports
    assert (authorized.get_message(mid), authorized.get_message(second)) == (first_now, second_now)
    assert [s.address for s in authorized.list_suppressions()] == [UNKNOWN]


async def test_a_next_hop_that_never_answers_comes_back_as_a_failure_of_that_recipient(
    authorized: Queue, clock: FakeClock, postfix: Postfix, imap_mailbox: Mailbox, settings: Settings, worker: Worker
) -> None:
    to = f"carol@{UNREACHABLE_DOMAIN}"
    mid = enqueue(authorized, clock, [to], "unreachable")
    await worker.run_once()
    assert states(authorized, mid) == {to: ("delivered", 250)}
    postfix.wait_for(lambda: len(imap_mailbox.messages("INBOX")) == 1, "Postfix's bounce in the Dovecot mailbox")

    [bounce] = await fetch_once(authorized, settings)

    assert (bounce.kind, bounce.message_id) == ("bounce", mid)
    assert [(r.address, r.status, r.reason, r.applied) for r in bounce.recipients] == [(to, "4.4.1", "expired", True)]
    [recipient] = authorized.get_message(mid).summary.recipients
    assert (recipient.status, recipient.reason) == ("failed", "expired")
    assert authorized.suppression_of(to) is None  # expired is not a hard bounce: later mail to it still goes
