"""Mail that comes back later, as real servers send it: a delivery status notification (RFC 3464) for late@, a
feedback report (ARF, RFC 5965) for complaint@, an out-of-office reply (RFC 3834) for ooto@.

The built-in relay accepts the message with ``250``, then a few seconds later (``LATE_DELAY``) puts one of these in
its own mailbox, addressed to the envelope sender; the relay reads reports that reach a local sender the same way
whatever made them (``RelayHandler``), so the whole late-bounce path works with no account anywhere.
"""

from __future__ import annotations

import email.utils
import secrets
from email.parser import BytesHeaderParser

from mailgui.relay.simulator import RESERVED_DOMAIN, Behaviour

LATE_DELAY = 3.0  # seconds between the 250 and the report, as a real bounce takes a moment


def _headers(raw: bytes) -> tuple[str, str]:
    """The original's Message-ID and Subject ('' when missing or unreadable)."""
    try:
        head = BytesHeaderParser().parsebytes(raw.split(b"\r\n\r\n", 1)[0][:65536])
        return str(head.get("Message-ID", "") or ""), " ".join(str(head.get("Subject", "") or "").split())
    except Exception:  # a header the stdlib cannot read: the report names no Message-ID, and stays unmatched
        return "", ""


def _safe(text: str) -> str:
    """A header value that came from the original, on one line and in ASCII (the report's own headers are 7-bit)."""
    return "".join(c if " " <= c < "\x7f" else "?" for c in text)[:300]


def late_mail(behaviour: Behaviour, original: bytes, sender: str, recipient: str, now: float) -> bytes | None:
    """What comes back later for ``recipient`` of ``original`` (sent by ``sender``), or None for nothing."""
    message_id, subject = _headers(original)
    message_id, subject = _safe(message_id), _safe(subject)
    date = email.utils.formatdate(now)
    own_id = f"<{secrets.token_hex(8)}@{RESERVED_DOMAIN}>"
    returned = f"Message-ID: {message_id}\r\nSubject: {subject}\r\nTo: {recipient}\r\n" if message_id else ""
    if behaviour is Behaviour.LATE:
        boundary = f"late.{secrets.token_hex(6)}"
        return (
            f"From: MAILER-DAEMON@{RESERVED_DOMAIN} (Mail Delivery System)\r\n"
            f"To: {sender}\r\nDate: {date}\r\nMessage-ID: {own_id}\r\n"
            "Subject: Undelivered Mail Returned to Sender\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
            f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n\r\n'
            f"--{boundary}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
            f"This is the mail system at host {RESERVED_DOMAIN}.\r\n\r\n"
            "I'm sorry to have to inform you that your message could not be delivered to one or more\r\n"
            f"recipients.\r\n\r\n<{recipient}>: host mx.{RESERVED_DOMAIN} said: 550 5.1.1 <{recipient}>:\r\n"
            "    Recipient address rejected: User unknown in virtual mailbox table\r\n\r\n"
            f"--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n"
            f"Reporting-MTA: dns; {RESERVED_DOMAIN}\r\nArrival-Date: {date}\r\n\r\n"
            f"Final-Recipient: rfc822; {recipient}\r\nOriginal-Recipient: rfc822; {recipient}\r\n"
            "Action: failed\r\nStatus: 5.1.1\r\n"
            f"Remote-MTA: dns; mx.{RESERVED_DOMAIN}\r\n"
            f"Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: Recipient address rejected: User unknown in virtual\r\n"
            "    mailbox table\r\n\r\n"
            f"--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: {sender}\r\n{returned}\r\n"
            f"--{boundary}--\r\n"
        ).encode()
    if behaviour is Behaviour.COMPLAINT:
        boundary = f"arf.{secrets.token_hex(6)}"
        return (
            f"From: feedback@{RESERVED_DOMAIN}\r\nTo: {sender}\r\nDate: {date}\r\nMessage-ID: {own_id}\r\n"
            f"Subject: FW: {subject}\r\nMIME-Version: 1.0\r\n"
            f'Content-Type: multipart/report; report-type=feedback-report; boundary="{boundary}"\r\n\r\n'
            f"--{boundary}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
            "This is an email abuse report for a message the recipient marked as spam.\r\n\r\n"
            f"--{boundary}\r\nContent-Type: message/feedback-report\r\n\r\n"
            "Feedback-Type: abuse\r\nUser-Agent: mailgui-simulator/1.0\r\nVersion: 1\r\n"
            f"Original-Mail-From: <{sender}>\r\nOriginal-Rcpt-To: <{recipient}>\r\nArrival-Date: {date}\r\n\r\n"
            f"--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: {sender}\r\n{returned}\r\n"
            f"--{boundary}--\r\n"
        ).encode()
    if behaviour is Behaviour.OOTO:
        reply_to = f"In-Reply-To: {message_id}\r\nReferences: {message_id}\r\n" if message_id else ""
        return (
            f"From: {recipient}\r\nTo: {sender}\r\nDate: {date}\r\nMessage-ID: {own_id}\r\n{reply_to}"
            f"Subject: Out of office: {subject}\r\nAuto-Submitted: auto-replied\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
            "I am out of the office until Monday and will read your message when I am back.\r\n"
        ).encode()
    return None
