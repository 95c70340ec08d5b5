"""The IMAP reader (mailgui/delivery/imap_reader.py) against a real Dovecot (tests/realservers/dovecot.py): a
report in the mailbox is read over IMAPS or STARTTLS, recorded against the message it is about, and filed in the
processed folder; what is not ours stays where it is; a second read changes nothing twice; a refused login, an
untrusted certificate or a missing folder is one clear error naming the setting."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from mailgui.clock import FakeClock
from mailgui.delivery.imap_reader import ImapAccount, account_from_settings, fetch_once, read_mailbox
from mailgui.errors import MailboxError
from mailgui.queue import Attempt, Queue, RecipientResult, RecipientStatus, Status
from mailgui.settings import Settings
from tests.queue.helpers import outgoing
from tests.realservers.dovecot import PASSWORD, USER, Dovecot, Mailbox, start_dovecot
from tests.reports import auto_reply, dsn
from tests.test_settings import MemoryKeyring

UNKNOWN = "550 5.1.1 <{}>: Recipient address rejected: User unknown in local recipient table"
ORDINARY = b"From: Carol <carol@example.org>\r\nTo: bounces@example.com\r\nSubject: lunch?\r\n\r\nAt noon?\r\n"


def sent(queue: Queue, clock: FakeClock, to: list[str]) -> tuple[int, str]:
    """A message the relay took for every recipient (250): its queue id and Message-ID."""
    mid = queue.enqueue(outgoing(to=to))
    [claimed] = queue.claim_due("w", 10, 60)
    results = tuple(RecipientResult(a, RecipientStatus.DELIVERED, 250, "2.0.0 Ok: queued") for a in claimed.recipients)
    queue.record_attempt(mid, "w", Attempt(clock.now(), 0.1, "relay:25", results), None)
    return mid, queue.get_message(mid).summary.message_id


def bounce_for(message_id: str, address: str = "bob@example.org") -> bytes:
    return dsn(message_id, [(address, "5.1.1", UNKNOWN.format(address))])


def states(queue: Queue, mid: int) -> dict[str, str]:
    return {r.address: r.status for r in queue.get_message(mid).summary.recipients}


async def test_a_bounce_read_over_imaps_fails_the_recipient_and_is_moved_to_the_processed_folder(
    authorized: Queue, clock: FakeClock, imap_mailbox: Mailbox, imap_settings: Settings
) -> None:
    mid, message_id = sent(authorized, clock, ["bob@example.org", "carol@example.org"])
    report = bounce_for(message_id)
    imap_mailbox.append(report)

    [got] = await fetch_once(authorized, imap_settings)

    assert (got.kind, got.message_id, got.duplicate) == ("bounce", mid, False)
    assert got.source == "imap 127.0.0.1/INBOX"
    assert [(r.address, r.reason, r.applied) for r in got.recipients] == [("bob@example.org", "unknown_user", True)]
    assert states(authorized, mid) == {"bob@example.org": "failed", "carol@example.org": "delivered"}
    assert authorized.get_message(mid).attempts[-1].relay.startswith(f"report #{got.id} received later (imap ")
    assert imap_mailbox.messages("INBOX") == []
    assert imap_mailbox.messages("mailgui.processed") == [report]  # Dovecot's separator here is '.'
    assert "mailgui.processed" in imap_mailbox.folders()


async def test_a_message_whose_only_recipient_bounced_is_bounced(
    authorized: Queue, clock: FakeClock, imap_mailbox: Mailbox, imap_settings: Settings
) -> None:
    mid, message_id = sent(authorized, clock, ["bob@example.org"])
    imap_mailbox.append(bounce_for(message_id))
    await fetch_once(authorized, imap_settings)
    assert authorized.get_message(mid).summary.status == Status.BOUNCED
    assert authorized.suppression_of("bob@example.org") is not None


async def test_an_auto_reply_and_an_ordinary_mail_stay_where_they_are(
    authorized: Queue, clock: FakeClock, imap_mailbox: Mailbox, imap_settings: Settings
) -> None:
    mid, message_id = sent(authorized, clock, ["bob@example.org"])
    ooto = imap_mailbox.append(auto_reply(message_id, "bob@example.org"))
    imap_mailbox.append(ORDINARY)

    got = await fetch_once(authorized, imap_settings)

    assert [r.kind for r in got] == ["auto_reply"]  # recorded (the Bounces view shows it), never a bounce
    assert states(authorized, mid) == {"bob@example.org": "delivered"}
    assert imap_mailbox.messages("INBOX") == [ooto, ORDINARY]
    assert imap_mailbox.folders() == ["INBOX"]  # nothing was moved, so no folder was made


async def test_reading_twice_changes_nothing_twice(
    authorized: Queue, clock: FakeClock, imap_mailbox: Mailbox, imap_settings: Settings
) -> None:
    mid, message_id = sent(authorized, clock, ["bob@example.org", "carol@example.org"])
    matched = bounce_for(message_id)
    unmatched = bounce_for("<someone-elses@elsewhere.example>", "dave@example.net")
    imap_mailbox.append(matched)
    imap_mailbox.append(unmatched)

    first = await fetch_once(authorized, imap_settings)
    after_first = authorized.get_message(mid)
    clock.advance(600)
    second = await fetch_once(authorized, imap_settings)

    assert [(r.message_id, r.duplicate) for r in first] == [(mid, False), (None, False)]
    assert [(r.id, r.duplicate) for r in second] == [(first[1].id, True)]  # only the unmatched one is still there
    assert authorized.get_message(mid) == after_first
    assert len(authorized.list_reports()) == 2
    assert imap_mailbox.messages("INBOX") == [unmatched]
    assert imap_mailbox.messages("mailgui.processed") == [matched]


async def test_a_report_about_no_message_of_this_queue_is_kept_unmatched_and_left_in_the_folder(
    authorized: Queue, clock: FakeClock, imap_mailbox: Mailbox, imap_settings: Settings
) -> None:
    mid, _ = sent(authorized, clock, ["bob@example.org"])
    forged = bounce_for("<forged@attacker.example>")  # names a real recipient, but no message of ours
    imap_mailbox.append(forged)

    [got] = await fetch_once(authorized, imap_settings)

    assert got.message_id is None and [r.applied for r in got.recipients] == [False]
    assert [r.id for r in authorized.list_reports(unmatched=True)] == [got.id]
    assert states(authorized, mid) == {"bob@example.org": "delivered"}
    assert authorized.suppression_of("bob@example.org") is None
    assert imap_mailbox.messages("INBOX") == [forged]


@pytest.mark.allow_log("mailgui.delivery.imap_reader", match=r"over the 10 MiB a report may be: not read, left there")
async def test_a_message_over_10_mib_is_not_read_and_stays(
    authorized: Queue,
    clock: FakeClock,
    imap_mailbox: Mailbox,
    imap_settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    mid, message_id = sent(authorized, clock, ["bob@example.org"])
    padding = (b"x" * 78 + b"\r\n") * (10 * 1024 * 1024 // 80 + 1)
    huge = bounce_for(message_id).replace(b"--B0UNDARY.report--", padding + b"--B0UNDARY.report--")
    imap_mailbox.append(huge)

    with caplog.at_level(logging.WARNING, "mailgui.delivery.imap_reader"):
        assert await fetch_once(authorized, imap_settings) == []

    [line] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert re.search(r"^imap 127\.0\.0\.1:\d+/INBOX: message UID \d+ is \d{8} bytes, over the 10 MiB", line)
    assert states(authorized, mid) == {"bob@example.org": "delivered"}
    assert authorized.list_reports() == []
    assert len(imap_mailbox.messages("INBOX")) == 1


async def test_starttls_reads_the_same_mailbox(
    authorized: Queue, clock: FakeClock, imap_mailbox: Mailbox, dovecot: Dovecot
) -> None:
    mid, message_id = sent(authorized, clock, ["bob@example.org"])
    imap_mailbox.append(bounce_for(message_id))
    account = ImapAccount(
        "127.0.0.1", USER, PASSWORD, port=dovecot.imap_port, security="starttls", ca_file=str(dovecot.tls.ca_file)
    )
    [got] = await read_mailbox(authorized, account)
    assert got.message_id == mid
    assert imap_mailbox.messages("INBOX") == []
    # Dovecot takes a login in plain text from 127.0.0.1 to itself, so its log is what shows it came over TLS.
    [login] = [line for line in dovecot.log.splitlines() if f"lport={dovecot.imap_port}, mpid=" in line]
    assert "Login: user=<bounces@example.com>" in login and ", TLS, " in login


@pytest.mark.parametrize(
    ("capabilities", "expunged"),
    [("IMAP4rev1 LITERAL+ IDLE UIDPLUS", True), ("IMAP4rev1 LITERAL+ IDLE", False)],
    ids=["no MOVE", "no MOVE nor UIDPLUS"],
)
async def test_without_move_a_report_is_copied_and_only_its_own_uid_expunged(
    authorized: Queue, clock: FakeClock, tmp_path: Path, capabilities: str, expunged: bool
) -> None:
    server = start_dovecot(tmp_path / "dovecot", capabilities)
    try:
        mailbox = Mailbox(server)
        mid, message_id = sent(authorized, clock, ["bob@example.org"])
        report = mailbox.append(bounce_for(message_id))
        mailbox.append(ORDINARY)
        deleted_by_the_user = mailbox.append(ORDINARY.replace(b"lunch?", b"old news"))
        mailbox.mark_deleted(3)  # the user's mail program marked it deleted, and has not expunged it yet
        account = ImapAccount("127.0.0.1", USER, PASSWORD, port=server.imaps_port, ca_file=str(server.tls.ca_file))

        [got] = await read_mailbox(authorized, account)
        again = await read_mailbox(authorized, account)

        assert got.message_id == mid and again == []
        assert mailbox.messages("mailgui.processed") == [report]
        assert mailbox.messages("INBOX") == [ORDINARY]
        # Only the report's own UID is expunged: what the user marked deleted is still there, for them to expunge.
        left = mailbox.messages("INBOX", deleted=True)
        assert left == ([ORDINARY, deleted_by_the_user] if expunged else [report, ORDINARY, deleted_by_the_user])
    finally:
        server.stop()


async def test_a_wrong_password_is_a_clear_error_naming_the_setting(
    authorized: Queue, dovecot_of_its_own: Dovecot, memory_keyring: MemoryKeyring
) -> None:
    account = ImapAccount(
        "127.0.0.1",
        USER,
        "not the password",
        port=dovecot_of_its_own.imaps_port,
        ca_file=str(dovecot_of_its_own.tls.ca_file),
    )
    with pytest.raises(MailboxError) as caught:
        await read_mailbox(authorized, account)

    assert str(caught.value) == (
        f"bounces.imap.password: 127.0.0.1:{dovecot_of_its_own.imaps_port} refused the login of"
        f" {USER!r}: [AUTHENTICATIONFAILED] Authentication failed."
    )
    assert authorized.list_reports() == []


async def test_an_untrusted_certificate_is_refused_before_login(
    authorized: Queue, imap_mailbox: Mailbox, imap_settings: Settings, dovecot: Dovecot
) -> None:
    imap_settings.set("bounces.imap.ca_file", "")  # the system's CAs only: the test CA is not among them
    logins = dovecot.log.count("Login: ")
    with pytest.raises(MailboxError, match=r"^bounces\.imap\.security: the certificate of 127\.0\.0\.1:\d+ was not"):
        await fetch_once(authorized, imap_settings)
    assert dovecot.log.count("Login: ") == logins


async def test_a_missing_folder_is_named(authorized: Queue, imap_mailbox: Mailbox, imap_settings: Settings) -> None:
    imap_settings.set("bounces.imap.folder", "Bounces")
    with pytest.raises(MailboxError, match=r"^bounces\.imap\.folder: cannot open 'Bounces' on 127\.0\.0\.1:\d+: "):
        await fetch_once(authorized, imap_settings)


async def test_nothing_listening_is_a_connection_error_naming_the_host(
    authorized: Queue, memory_keyring: MemoryKeyring
) -> None:
    from tests.realservers.dovecot import free_port

    account = ImapAccount("127.0.0.1", USER, PASSWORD, port=free_port())
    with pytest.raises(MailboxError, match=r"^bounces\.imap\.host: cannot connect to 127\.0\.0\.1:\d+ \(tls\): "):
        await read_mailbox(authorized, account)


def test_plain_text_is_refused_to_a_host_that_is_not_loopback() -> None:
    with pytest.raises(MailboxError, match=r"^bounces\.imap\.security: 'none' would send the password to imap\."):
        ImapAccount("imap.example.com", USER, PASSWORD, port=143, security="none")
    ImapAccount("127.0.0.1", USER, PASSWORD, port=143, security="none")  # loopback: allowed


def test_no_password_in_the_keyring_says_how_to_set_one(authorized: Queue, memory_keyring: MemoryKeyring) -> None:
    settings = Settings(authorized)
    settings.set_many({"bounces.imap.host": "imap.example.com", "bounces.imap.username": "ann"})
    with pytest.raises(MailboxError) as caught:
        account_from_settings(settings)
    assert str(caught.value) == (
        "bounces.imap.password: no password is kept in the OS keyring for ann@imap.example.com; "
        "set it with `mailgui config set bounces.imap.password --stdin`"
    )
