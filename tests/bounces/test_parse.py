"""What a message is, and what a report says about each recipient: RFC 3464 reports, the plain-text formats,
auto-replies, complaints, and ordinary mail that mentions failures but is not a report."""

from __future__ import annotations

from mailgui.bounces import Kind, Reason, parse_report

ORIGINAL = b"""\
From: Alice <alice@example.com>
To: bob@example.net
Subject: Hello
Message-ID: <hello.1@example.com>

Hi Bob.
"""


def dsn(*recipient_blocks: str, human: str = "Your message could not be delivered.") -> bytes:
    blocks = "\n".join(recipient_blocks)
    return f"""\
From: Mail Delivery System <MAILER-DAEMON@mx.example.com>
To: alice@example.com
Subject: Undelivered Mail Returned to Sender
Message-ID: <report.9@mx.example.com>
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

{human}

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com

{blocks}
--B
Content-Type: message/rfc822

{ORIGINAL.decode()}
--B--
""".encode()


def block(address: str, action: str, status: str, diagnostic: str = "") -> str:
    lines = [f"Final-Recipient: rfc822; {address}", f"Action: {action}", f"Status: {status}"]
    if diagnostic:
        lines.append(f"Diagnostic-Code: smtp; {diagnostic}")
    lines.append("Remote-MTA: dns; mx.example.net")
    return "\n".join(lines) + "\n"


def test_an_rfc3464_report_gives_each_failed_recipient() -> None:
    report = parse_report(
        dsn(
            block("bob@example.net", "failed", "5.1.1", "550 5.1.1 <bob@example.net>: User unknown"),
            block("carol@example.net", "failed", "5.2.2", "552 5.2.2 Mailbox full"),
            block("dave@example.net", "delivered", "2.0.0"),
        )
    )
    assert report.kind is Kind.BOUNCE
    assert [(r.address, r.status, r.reason) for r in report.recipients] == [
        ("bob@example.net", "5.1.1", Reason.UNKNOWN_USER),
        ("carol@example.net", "5.2.2", Reason.MAILBOX_FULL),
    ]
    assert report.recipients[0].diagnostic == "550 5.1.1 <bob@example.net>: User unknown"
    assert report.recipients[0].remote_mta == "mx.example.net"
    assert report.original_message_id == "<hello.1@example.com>"


def test_a_delayed_report_is_a_delay_not_a_bounce() -> None:
    report = parse_report(dsn(block("bob@example.net", "delayed", "4.4.1", "connect to mx.example.net: timed out")))
    assert report.kind is Kind.DELAY
    assert [r.address for r in report.recipients] == ["bob@example.net"]


def test_a_report_of_delivery_only_is_other() -> None:
    assert parse_report(dsn(block("bob@example.net", "delivered", "2.0.0"))).kind is Kind.OTHER


def test_a_final_failure_with_a_temporary_status_has_expired() -> None:
    report = parse_report(dsn(block("bob@example.net", "failed", "4.4.7", "delivery time expired")))
    assert report.recipients[0].reason is Reason.EXPIRED


def test_a_host_that_never_answered_until_the_mta_gave_up_has_expired() -> None:
    report = parse_report(dsn(block("bob@example.net", "failed", "4.4.1", "connect to mx.example.net: timed out")))
    assert report.kind is Kind.BOUNCE
    assert report.recipients[0].reason is Reason.EXPIRED


def test_a_qmail_bounce() -> None:
    report = parse_report(
        b"""\
From: MAILER-DAEMON@mx.example.com
To: alice@example.com
Subject: failure notice

Hi. This is the qmail-send program at mx.example.com.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<bob@example.net>:
192.0.2.1 does not like recipient.
Remote host said: 550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown in local recipient table
Giving up on 192.0.2.1.

--- Below this line is a copy of the message.

"""
        + ORIGINAL
    )
    assert report.kind is Kind.BOUNCE
    assert [(r.address, r.status, r.reason) for r in report.recipients] == [
        ("bob@example.net", "5.1.1", Reason.UNKNOWN_USER)
    ]
    assert report.original_message_id == "<hello.1@example.com>"


def test_an_exim_bounce_names_its_failed_recipients_in_a_header() -> None:
    report = parse_report(
        b"""\
From: Mail Delivery System <Mailer-Daemon@mx.example.com>
To: alice@example.com
Subject: Mail delivery failed: returning message to sender
X-Failed-Recipients: bob@example.net
Auto-Submitted: auto-replied

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  bob@example.net
    host mx.example.net [192.0.2.1]
    SMTP error from remote mail server after RCPT TO:<bob@example.net>:
    552 5.2.2 Mailbox full

------ This is a copy of the message, including all the headers. ------

"""
        + ORIGINAL
    )
    assert report.kind is Kind.BOUNCE
    assert [(r.address, r.reason) for r in report.recipients] == [("bob@example.net", Reason.MAILBOX_FULL)]


def test_an_out_of_office_reply_is_an_auto_reply() -> None:
    report = parse_report(b"""\
From: Bob <bob@example.net>
To: alice@example.com
Subject: Automatic reply: Hello
Auto-Submitted: auto-replied
In-Reply-To: <hello.1@example.com>

I am out of the office until Monday. For anything urgent write to carol@example.net.
""")
    assert report.kind is Kind.AUTO_REPLY
    assert report.recipients == ()
    assert report.original_message_id == "<hello.1@example.com>"


def test_an_arf_report_is_a_complaint() -> None:
    report = parse_report(
        b"""\
From: feedback@isp.example
To: abuse@example.com
Subject: Abuse report
Content-Type: multipart/report; report-type=feedback-report; boundary="B"

--B
Content-Type: text/plain

This is an email abuse report.

--B
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: SomeGenerator/1.0
Version: 1
Original-Rcpt-To: <bob@example.net>

--B
Content-Type: message/rfc822

"""
        + ORIGINAL
        + b"""
--B--
"""
    )
    assert report.kind is Kind.COMPLAINT
    assert [r.address for r in report.recipients] == ["bob@example.net"]
    assert report.feedback_type == "abuse"
    assert report.original_message_id == "<hello.1@example.com>"


def test_an_ses_bounce_notification() -> None:
    report = parse_report(b"""\
From: no-reply@sns.amazonaws.com
Subject: AWS Notification Message

{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bouncedRecipients":[{"emailAddress":"bob@example.net","action":"failed","status":"5.1.1","diagnosticCode":"smtp; 550 5.1.1 user unknown"}],"reportingMTA":"dsn; a1.example.com"},"mail":{"headers":[{"name":"Message-ID","value":"<hello.1@example.com>"}]}}
""")
    assert report.kind is Kind.BOUNCE
    assert [(r.address, r.status, r.reason) for r in report.recipients] == [
        ("bob@example.net", "5.1.1", Reason.UNKNOWN_USER)
    ]
    assert report.original_message_id == "<hello.1@example.com>"


def test_ordinary_mail_about_a_failure_is_not_a_bounce() -> None:
    report = parse_report(b"""\
From: Carol <carol@example.org>
To: alice@example.com
Subject: Re: Undelivered Mail Returned to Sender

Your mail to bob@example.net failed: 550 5.1.1 user unknown. Try bob@example.org instead.
""")
    assert report.kind is Kind.OTHER
    assert report.recipients == ()


def test_a_bounce_forwarded_by_a_person_is_not_this_messages_report() -> None:
    """The report inside an attached message is that message's, not a report to us."""
    forwarded = (
        b"""\
From: Carol <carol@example.org>
To: alice@example.com
Subject: Fwd: Undelivered Mail Returned to Sender
Content-Type: multipart/mixed; boundary="F"

--F
Content-Type: text/plain

See below.

--F
Content-Type: message/rfc822

"""
        + dsn(block("bob@example.net", "failed", "5.1.1"))
        + b"\n--F--\n"
    )
    assert parse_report(forwarded).kind is Kind.OTHER


def test_empty_and_garbage_input_is_other() -> None:
    assert parse_report(b"").kind is Kind.OTHER
    assert parse_report(b"\xff\xfe\x00garbage").kind is Kind.OTHER


def test_a_report_truncated_in_its_status_part_still_gives_what_it_has() -> None:
    data = dsn(block("bob@example.net", "failed", "5.1.1", "550 5.1.1 user unknown"))
    cut = data[: data.index(b"Remote-MTA: dns; mx.example.net")]
    report = parse_report(cut)
    assert report.kind is Kind.BOUNCE
    assert [(r.address, r.reason) for r in report.recipients] == [("bob@example.net", Reason.UNKNOWN_USER)]


def test_a_final_recipient_without_a_local_part_is_no_recipient_and_the_text_names_it() -> None:
    report = parse_report(
        dsn(
            "Final-Recipient: rfc822; @mx.example.net\nAction: failed\nStatus: 5.1.2\n",
            human="<bob@example.net>\n550 5.1.2 <bob@example.net>... Host unknown (Name server: no data known)",
        )
    )
    assert report.kind is Kind.BOUNCE
    assert [(r.address, r.reason) for r in report.recipients] == [("bob@example.net", Reason.DOMAIN_NOT_FOUND)]


def test_an_expired_action_is_a_final_failure_that_expired() -> None:
    """SendGrid writes `Action: expired` with an empty status when its retries ran out."""
    report = parse_report(
        dsn(
            "Final-Recipient: rfc822; bob@example.net\nAction: expired\nStatus: \n"
            "Diagnostic-Code: Connection timed out\n"
        )
    )
    assert report.kind is Kind.BOUNCE
    assert [(r.address, r.reason) for r in report.recipients] == [("bob@example.net", Reason.EXPIRED)]


def sendmail_report(transcript: str, status: str, diagnostic: str) -> bytes:
    human = f"<bob@example.net>\n\n   ----- Transcript of session follows -----\n{transcript}"
    return dsn(block("bob@example.net", "failed", status, diagnostic), human=human)


def test_a_refused_greeting_in_a_transcript_is_the_sending_host_blocked() -> None:
    transcript = """\
... while talking to mx.example.net.:
<<< 554 mx.example.net ESMTP not accepting connections
>>> QUIT
<<< 421 4.7.0 mx.example.net Error: too many errors
554 5.0.0 Service unavailable"""
    report = parse_report(sendmail_report(transcript, "5.5.0", "554 mx.example.net ESMTP not accepting connections"))
    assert report.recipients[0].reason is Reason.BLOCKED


def test_a_session_that_failed_for_a_while_does_not_name_the_step_of_the_final_refusal() -> None:
    transcript = """\
... while talking to a.example.net.:
<<< 450 busy - please try later
... while talking to b.example.net.:
>>> DATA
<<< 554 Transaction failed
554 5.0.0 Service unavailable"""
    report = parse_report(sendmail_report(transcript, "5.0.0", "554 Transaction failed"))
    assert report.recipients[0].reason is Reason.OTHER


def test_a_pipelined_refusal_shown_after_data_answered_rcpt_to() -> None:
    """DATA refused for want of recipients: the replies read before it answered the RCPT TO sent with it."""
    transcript = """\
... while talking to mx.example.net.:
>>> DATA
<<< 550 5.5.0 Invalid recipient
550 5.1.1 <bob@example.net>... User unknown
<<< 554 5.5.1 Error: no valid recipients"""
    report = parse_report(sendmail_report(transcript, "5.5.0", "550 5.5.0 Invalid recipient"))
    assert report.recipients[0].reason is Reason.UNKNOWN_USER


def test_the_remote_reply_an_mta_quotes_after_its_own_gloss_is_what_classes_the_recipient() -> None:
    """Amazon SES: its own reading ("Unknown address error") first, then the remote server's reply in quotes."""
    diagnostic = "5.1.0 - Unknown address error 550-'5.7.1 <alice@example.com>... Access denied' (delivery attempts: 0)"
    report = parse_report(dsn(block("bob@example.net", "failed", "5.0.0", diagnostic)))
    assert [(r.status, r.reason) for r in report.recipients] == [("5.7.1", Reason.BLOCKED)]
    assert report.recipients[0].diagnostic == diagnostic


def test_a_gateway_notice_that_names_nobody_passes_on_the_bounce_it_attaches() -> None:
    notice = (
        b"""\
From: Mail Delivery Subsystem <MAILER-DAEMON@gateway.example.com>
To: Notifications <notify@gateway.example.com>
Subject: Returned mail: User unknown
Content-Type: multipart/mixed; boundary="G"

--G
Content-Type: text/plain

The original message was received at Thu Oct 13 15:22:22 2015

----- The following addresses had permanent delivery errors -----

--G
Content-Type: message/rfc822

"""
        + dsn(block("bob@example.net", "failed", "5.1.1", "550 5.1.1 User unknown"))
        + b"\n--G--\n"
    )
    report = parse_report(notice)
    assert report.kind is Kind.BOUNCE
    assert [(r.address, r.reason) for r in report.recipients] == [("bob@example.net", Reason.UNKNOWN_USER)]


def test_mailguis_own_delivery_report_is_told_from_a_report_received() -> None:
    from mailgui.bounces import is_own_report
    from mailgui.delivery import ReportRecipient, build_report
    from tests.delivery.test_report import NOW, original
    from tests.reports import dsn

    refused = ReportRecipient("bob@example.org", "5.1.1", 550, "5.1.1 unknown", stage="RCPT TO")
    ours = build_report("failed", original(), [refused], reporting_mta="mailgui.test", now=NOW).raw
    assert is_own_report(ours)
    assert not is_own_report(dsn("<q1@example.com>", [("bob@example.org", "5.1.1", "550 5.1.1 unknown")]))
