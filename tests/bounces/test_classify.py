"""Each reason class, from the status code and from the words, and which wins when they disagree."""

from __future__ import annotations

import pytest

from mailgui.bounces.classify import Command, classify, command
from mailgui.bounces.report import Reason


@pytest.mark.parametrize(
    ("status", "diagnostic", "reason"),
    [
        ("5.1.1", "550 5.1.1 <bob@example.com>: Recipient address rejected", Reason.UNKNOWN_USER),
        ("5.2.2", "552 5.2.2 Requested mail action aborted", Reason.MAILBOX_FULL),
        ("5.1.2", "550 5.1.2 bad destination system", Reason.DOMAIN_NOT_FOUND),
        ("5.7.1", "550 5.7.1 Service unavailable; client [192.0.2.1] refused", Reason.BLOCKED),
        ("5.7.26", "550 5.7.26 Unauthenticated email is not accepted", Reason.BLOCKED),
        ("5.3.4", "552 5.3.4 Message size exceeds fixed limit", Reason.TOO_LARGE),
        ("5.2.3", "552 5.2.3 too long", Reason.TOO_LARGE),
        ("4.4.7", "", Reason.EXPIRED),
        ("5.1.6", "550 5.1.6 recipient no longer on server", Reason.OTHER),
    ],
)
def test_a_specific_status_code_gives_the_class(status: str, diagnostic: str, reason: Reason) -> None:
    assert classify(status, diagnostic) is reason


@pytest.mark.parametrize(
    ("diagnostic", "reason"),
    [
        ("550 Unknown user bob@example.com", Reason.UNKNOWN_USER),
        ("550 No such user here", Reason.UNKNOWN_USER),
        ("553 sorry, that domain isn't in my list of allowed rcpthosts; no such recipient", Reason.UNKNOWN_USER),
        ("552 Error: disk quota exceeded", Reason.MAILBOX_FULL),
        ("552 Mailbox is full", Reason.MAILBOX_FULL),
        ("550 Host unknown", Reason.DOMAIN_NOT_FOUND),
        ("Name service error for name=example.test type=MX: Host not found", Reason.DOMAIN_NOT_FOUND),
        ("554 Your IP is listed at zen.spamhaus.org", Reason.BLOCKED),
        ("550 rejected due to DMARC policy", Reason.BLOCKED),
        ("552 Message too large", Reason.TOO_LARGE),
        ("retry timeout exceeded", Reason.EXPIRED),
        ("554 Relay access denied", Reason.OTHER),
        ("550 Mailbox disabled for this recipient", Reason.OTHER),
        ("421 Too many connections from your host", Reason.OTHER),
        ("554 Transaction failed", Reason.OTHER),
    ],
)
def test_without_a_status_the_words_give_the_class(diagnostic: str, reason: Reason) -> None:
    assert classify(None, diagnostic) is reason


def test_a_policy_status_with_spam_words_is_blocked_not_unknown_user() -> None:
    """Issue 16's example: the 550 does not make it an unknown user; 5.7.1 and the words say policy."""
    assert classify("5.7.1", "550 5.7.1 Message rejected as spam") is Reason.BLOCKED
    assert classify("5.7.1", "550 5.7.1 unknown user; your IP is listed as spam") is Reason.BLOCKED


def test_words_that_say_one_thing_win_over_a_status_that_says_another() -> None:
    # Servers send 5.2.1 or 5.7.1 for unknown users, and 5.1.1 for rate limits.
    assert classify("5.2.1", "550 5.2.1 <bob@example.com>... User Unknown", cmd=Command.RCPT) is Reason.UNKNOWN_USER
    assert classify("5.7.1", "550 5.7.1 <bob@example.com>... User Unknown") is Reason.UNKNOWN_USER
    assert classify("5.1.1", "550 5.1.1 has sent to too many recipients this hour") is Reason.OTHER
    assert classify("5.1.10", "550 5.1.10 RESOLVER.ADR.RecipientNotFound; not found") is Reason.UNKNOWN_USER


def test_a_generic_status_leaves_the_class_to_the_words() -> None:
    assert classify("5.0.0", "550 5.0.0 mailbox full") is Reason.MAILBOX_FULL
    assert classify("5.0.0", "550 5.0.0 something went wrong") is Reason.OTHER


def test_the_context_speaks_only_when_the_diagnostic_and_status_do_not() -> None:
    assert classify(None, "", "the mailbox is full") is Reason.MAILBOX_FULL
    assert classify("5.1.1", "", "the mailbox is full") is Reason.UNKNOWN_USER
    assert classify(None, "550 user unknown", "your message was too large") is Reason.UNKNOWN_USER


def test_unknown_user_answered_to_the_data_is_a_filter() -> None:
    assert classify(None, "550 User unknown", cmd=Command.DATA) is Reason.OTHER
    assert classify(None, "550 User unknown", cmd=Command.RCPT) is Reason.UNKNOWN_USER
    assert classify("5.1.1", "550 5.1.1 User unknown", cmd=Command.DATA) is Reason.UNKNOWN_USER


def test_a_refused_sender_is_blocked() -> None:
    assert classify("5.1.0", "553 5.1.0 Address rejected", cmd=Command.MAIL) is Reason.BLOCKED


def test_a_temporary_dns_failure_is_not_a_verdict_on_the_domain() -> None:
    assert classify("4.0.0", "DNS Error: Domain name not found") is Reason.OTHER
    assert classify("5.0.0", "DNS Error: Domain name not found") is Reason.DOMAIN_NOT_FOUND
    assert classify(None, "Name service error for domain example.com: Host not found, try again") is Reason.OTHER


@pytest.mark.parametrize(
    ("text", "cmd"),
    [
        ("550 user unknown (in reply to end of DATA command)", Command.DATA),
        ("SMTP error from remote mail server after RCPT TO:<bob@example.com>: 550", Command.RCPT),
        ("host x said: 553 sender refused (in reply to MAIL FROM command)", Command.MAIL),
        ("550 5.2.1 <bob@example.com>... User Unknown [RCPT_TO]", Command.RCPT),  # Yahoo's bracketed step
        ("550 user unknown", None),
    ],
)
def test_the_command_a_refusal_answered(text: str, cmd: Command | None) -> None:
    assert command(text) is cmd


def test_no_route_and_a_directory_failure_are_other_whatever_the_mta_adds() -> None:
    """qmail says "I've given up" on every permanent error: that is no expiry."""
    given_up = "This is a permanent error; I've given up. Sorry it didn't work out."
    assert (
        classify("5.4.4", "Sorry, I couldn't find a mail exchanger or IP address. (#5.4.4)", given_up) is Reason.OTHER
    )
    assert classify("5.4.3", "directory lookup failed (#5.4.3)", given_up) is Reason.OTHER


def test_no_relaying_is_other_not_an_unknown_user() -> None:
    diagnostic = "550 5.7.0 <bob@example.net>: Recipient address rejected: No relaying"
    assert classify("5.7.0", diagnostic) is Reason.OTHER


def test_a_server_without_tls_is_other_not_blocked() -> None:
    context = "Google tried to deliver your message, but it was rejected by the recipient domain."
    assert classify(None, "500 Remote server does not support TLS (state 6).", context) is Reason.OTHER


def test_a_domain_that_does_not_exist_is_not_an_address_that_does_not() -> None:
    assert classify(None, "553 mail.example.net does not exist") is Reason.DOMAIN_NOT_FOUND
    assert classify(None, "550 bob@example.net does not exist") is Reason.UNKNOWN_USER


def test_a_domain_refused_at_mail_from_is_the_senders_and_blocked() -> None:
    assert classify(None, "553 sender domain: Host unknown", cmd=Command.MAIL) is Reason.BLOCKED
    assert classify(None, "553 Host unknown", cmd=Command.MAIL) is Reason.BLOCKED


def test_an_invalid_from_is_the_sender_refused() -> None:
    diagnostic = "550 5.2.0 <alice@example.com> From: Domain is invalid. Please provide a valid From:"
    assert classify("5.2.0", diagnostic) is Reason.BLOCKED


def test_check_the_address_leans_to_an_unknown_user() -> None:
    diagnostic = "Unable to deliver message to <bob@example.net>. Please check if address is correct."
    assert classify(None, diagnostic) is Reason.UNKNOWN_USER


def test_a_refusal_at_the_greeting_is_blocked_unless_its_words_say_otherwise() -> None:
    diagnostic = "554 mx.example.net : you've reached your daily relay quota"
    assert classify(None, diagnostic, cmd=Command.CONNECT) is Reason.BLOCKED
    assert classify("4.2.1", "421 4.2.1 Service refused, please try later", cmd=Command.CONNECT) is Reason.BLOCKED
    assert classify(None, "connect to mx.example.net: Connection refused", cmd=Command.CONNECT) is Reason.OTHER


def test_unknown_user_with_a_disabled_mailbox_code_is_other_unless_it_answered_rcpt_to() -> None:
    """5.2.1 says the mailbox is there and takes nothing; only the RCPT TO lookup's own answer outweighs it."""
    diagnostic = "550 5.2.1 <bob@example.com>... User Unknown"
    assert classify("5.2.1", diagnostic) is Reason.OTHER
    assert classify("5.2.1", diagnostic, cmd=Command.DATA) is Reason.OTHER
    assert classify("5.2.1", diagnostic, cmd=Command.RCPT) is Reason.UNKNOWN_USER
