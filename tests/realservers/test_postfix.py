"""The private Postfix fixture itself: it takes mail for a known and an unknown local user with 250, delivers the
first, and bounces the second with a DSN of its own that lands in the Dovecot test account; a next hop that
refuses connections bounces after the first try."""

from __future__ import annotations

import email
import email.policy
import re
from email.message import Message

from tests.realservers.dovecot import Mailbox
from tests.realservers.postfix import DELIVERED, UNKNOWN, UNREACHABLE_DOMAIN, Postfix, send

SENDER = "ann@example.com"


def message(message_id: str, to: str) -> bytes:
    return (
        f"From: Ann <{SENDER}>\r\nTo: {to}\r\nSubject: fixture\r\nMessage-ID: {message_id}\r\n\r\nHello\r\n"
    ).encode()


def reports(mailbox: Mailbox) -> list[Message]:
    return [email.message_from_bytes(raw, policy=email.policy.default) for raw in mailbox.messages("INBOX")]


def status_blocks(report: Message) -> str:
    [part] = [p for p in report.walk() if p.get_content_type() == "message/delivery-status"]
    return str(part)


def test_an_unknown_local_user_is_taken_then_bounced_into_the_dovecot_mailbox(
    postfix: Postfix, imap_mailbox: Mailbox
) -> None:
    send(postfix, SENDER, [DELIVERED, UNKNOWN], message("<fixture-1@example.com>", DELIVERED))

    postfix.wait_for(lambda: len(imap_mailbox.messages("INBOX")) >= 1, "bounce in the Dovecot mailbox")

    [report] = reports(imap_mailbox)
    assert report.get_content_type() == "multipart/report"
    assert report["To"] == SENDER
    assert "<MAILER-DAEMON@" in str(report["From"])
    blocks = status_blocks(report)
    assert f"Final-Recipient: rfc822; {UNKNOWN}" in blocks
    assert "Status: 5.1.1" in blocks
    assert DELIVERED not in blocks
    assert "<fixture-1@example.com>" in report.as_string()
    assert re.search(
        rf"to=<{re.escape(DELIVERED)}>, relay=none, .* status=sent \(delivered by the test relay\)", postfix.log
    )
    assert postfix.queue_ids() == []


def test_a_next_hop_that_refuses_bounces_after_the_first_try(postfix: Postfix, imap_mailbox: Mailbox) -> None:
    to = f"carol@{UNREACHABLE_DOMAIN}"
    send(postfix, SENDER, [to], message("<fixture-2@example.com>", to))

    postfix.wait_for(lambda: len(imap_mailbox.messages("INBOX")) >= 1, "bounce in the Dovecot mailbox")

    [report] = reports(imap_mailbox)
    blocks = status_blocks(report)
    assert f"Final-Recipient: rfc822; {to}" in blocks
    assert "Action: failed" in blocks
    assert "Status: 4.4.1" in blocks  # Postfix's own: a temporary failure that ran out of queue time
    assert "Connection refused" in " ".join(blocks.split())
