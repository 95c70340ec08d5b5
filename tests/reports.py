"""Report mail as real servers send it, for tests: an RFC 3464 delivery status notification, an ARF (RFC 5965)
complaint, an RFC 3834 auto-reply. Built with the stdlib's email package, parsed back by mailgui.bounces."""

from __future__ import annotations

from email.message import EmailMessage, Message
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText


def _original(message_id: str, to: str = "bob@example.org") -> Message:
    m = EmailMessage()
    m["From"] = "Ann <ann@example.com>"
    m["To"] = to
    m["Subject"] = "Hello"
    m["Message-ID"] = message_id
    m.set_content("body")
    return m


def dsn(
    message_id: str | None,
    failed: list[tuple[str, str, str]],
    *,
    action: str = "failed",
    reporting_mta: str = "mx.example.org",
) -> bytes:
    """A bounce in Postfix's shape: ``failed`` holds (address, status, diagnostic) for each recipient."""
    boundary = "B0UNDARY.report"
    per_recipient = "".join(
        f"Final-Recipient: rfc822; {address}\r\nAction: {action}\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; {diagnostic}\r\n\r\n"
        for address, status, diagnostic in failed
    )
    returned = ""
    if message_id is not None:
        returned = (
            f"--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n"
            f"From: Ann <ann@example.com>\r\nTo: bob@example.org\r\nSubject: Hello\r\nMessage-ID: {message_id}\r\n\r\n"
        )
    text = (
        "From: MAILER-DAEMON@mx.example.org (Mail Delivery System)\r\n"
        "To: ann@example.com\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n\r\n'
        f"--{boundary}\r\nContent-Type: text/plain\r\n\r\n"
        f"This is the mail system at host {reporting_mta}.\r\n\r\nI'm sorry to have to inform you...\r\n\r\n"
        f"--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; {reporting_mta}\r\n\r\n{per_recipient}"
        f"{returned}--{boundary}--\r\n"
    )
    return text.encode()


def arf(message_id: str, address: str) -> bytes:
    """A feedback report: ``address`` marked the message as spam."""
    report = MIMEMultipart("report", report_type="feedback-report")
    report["From"] = "feedback@provider.example"
    report["To"] = "ann@example.com"
    report["Subject"] = "FW: Hello"
    report.attach(MIMEText("This is an email abuse report.\n"))
    feedback = Message()
    feedback.set_type("message/feedback-report")
    feedback.set_payload(
        "Feedback-Type: abuse\nUser-Agent: Provider-FBL/1.0\nVersion: 1\n"
        f"Original-Rcpt-To: {address}\nOriginal-Mail-From: ann@example.com\n"
    )
    report.attach(feedback)
    report.attach(MIMEMessage(_original(message_id, address)))
    return report.as_bytes()


def auto_reply(message_id: str, address: str) -> bytes:
    m = EmailMessage()
    m["From"] = address
    m["To"] = "ann@example.com"
    m["Subject"] = "Out of office: Hello"
    m["Auto-Submitted"] = "auto-replied"
    m["In-Reply-To"] = message_id
    m.set_content("I am away until Monday.")
    return m.as_bytes()
