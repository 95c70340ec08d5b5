"""Delivery status notifications to the sender (RFC 3464), worded and laid out the way Postfix writes them.

A ``multipart/report; report-type=delivery-status`` message: a plain-words explanation, a
``message/delivery-status`` part (per-message fields, then one block per recipient), and the original
message's headers (``text/rfc822-headers``). Pure: no I/O; the worker queues what this returns.
"""

from __future__ import annotations

import dataclasses
import quopri
import secrets
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, make_msgid

from mailgui.delivery.classify import reply_line
from mailgui.queue.server_text import storable_text

FAILED = "failed"
DELAYED = "delayed"

SUBJECTS = {FAILED: "Undelivered Mail Returned to Sender", DELAYED: "Delayed Mail (still being retried)"}


@dataclass(frozen=True)
class ReportRecipient:
    """One recipient in a report. ``code``/``reply``: the server's last answer (None: no answer, see ``reply``)."""

    address: str
    status: str  # RFC 3463, e.g. 5.1.1
    code: int | None
    reply: str
    expired: bool = False  # given up because the lifetime ran out (not refused)
    stage: str | None = None  # the command the server answered, e.g. 'RCPT TO'
    last_attempt: float | None = None
    remote_mta: str | None = None  # the relay's host name

    @property
    def diagnostic(self) -> str:
        """The Diagnostic-Code value: 'smtp; <the server's reply>', or 'X-mailgui; <what went wrong>'."""
        if self.code is not None:
            return f"smtp; {reply_line(self.code, self.reply)}"
        return f"X-mailgui; {reply_line(None, self.reply) or 'no reply'}"


@dataclass(frozen=True)
class OriginalMessage:
    """What a report says about the message it is about."""

    queue_id: int
    message_id: str
    sender: str
    subject: str
    arrival: float
    raw: bytes
    smtputf8: bool = False
    expires_at: float | None = None


@dataclass(frozen=True)
class Report:
    action: str
    recipient: str  # the original sender
    subject: str
    message_id: str
    raw: bytes
    smtputf8: bool


def rfc5322_date(ts: float) -> str:
    return format_datetime(datetime.fromtimestamp(ts, UTC))


def original_headers(raw: bytes) -> bytes:
    """The header section of a stored message (CRLF line ends), with its closing empty line dropped."""
    head, sep, _ = raw.partition(b"\r\n\r\n")
    if not sep:
        head, _, _ = raw.partition(b"\n\n")
    return head.rstrip(b"\r\n") + b"\r\n"


def _clean(text: str, utf8: bool) -> str:
    """A server's words, safe for a header field: one line, and ASCII unless the report is SMTPUTF8."""
    flat = " ".join(text.split())
    return flat if utf8 else flat.encode("ascii", "replace").decode("ascii")


_LONGEST_WORD = 900


def _field(name: str, value: str) -> str:
    """A delivery-status field, folded like a header at about 78 columns. A word too long for any line (a server
    may answer one 3,000-character word) is cut in pieces, so no line passes RFC 5322's 998 characters."""
    words = [w[i : i + _LONGEST_WORD] for w in value.split(" ") for i in range(0, max(len(w), 1), _LONGEST_WORD)]
    lines: list[str] = []
    line = f"{name}: {words[0]}"
    for word in words[1:]:
        if len(line) + 1 + len(word) > 78:
            lines.append(line)
            line = "    " + word
        else:
            line += " " + word
    lines.append(line)
    return "\r\n".join(lines) + "\r\n"


def _address_type(address: str) -> str:
    return "rfc822" if address.isascii() else "utf-8"  # RFC 6533 for internationalized addresses


def _wrap(text: str, indent: str = "") -> list[str]:
    return textwrap.wrap(text, 72, initial_indent=indent, subsequent_indent=indent, break_on_hyphens=False) or [""]


def _explain(r: ReportRecipient, action: str, timeout_words: str) -> list[str]:
    said = reply_line(r.code, r.reply)
    where = f" (in reply to {r.stage} command)" if r.stage and r.code is not None else ""
    host = f"host {r.remote_mta} said: " if r.remote_mta and r.code is not None else ""
    if action == DELAYED:
        head = f"<{r.address}>: not delivered yet; mailgui is still trying."
        detail = f"Last answer: {host}{said}{where}" if said else "There was no answer from the mail server yet."
    elif r.expired:
        head = f"<{r.address}>: mailgui kept trying for {timeout_words} and then gave up."
        detail = f"Last answer: {host}{said}{where}" if said else "The mail server never answered."
    else:
        head = f"<{r.address}>: the receiving mail server refused this address for good."
        detail = f"{host[0].upper() + host[1:] if host else 'It said: '}{said}{where}"
    return [*_wrap(head), *_wrap(detail, "    "), ""]


def _duration_words(seconds: float) -> str:
    if seconds >= 2 * 86400:
        return f"{round(seconds / 86400, 1):g} days"
    if seconds >= 2 * 3600:
        return f"{round(seconds / 3600, 1):g} hours"
    if seconds >= 120:
        return f"{round(seconds / 60)} minutes"
    return f"{round(seconds)} seconds"


def _human_text(
    action: str, original: OriginalMessage, recipients: Sequence[ReportRecipient], host: str, now: float
) -> str:
    lines = [f"This is the mail system at host {host}.", ""]
    waited = _duration_words(max(0.0, now - original.arrival))
    subject = original.subject or "(no subject)"
    if action == DELAYED:
        lines += [
            "####################################################################",
            "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #",
            "####################################################################",
            "",
            *_wrap(
                f'Your message "{subject}" has not been delivered to one or more of its recipients after '
                f"{waited}. mailgui will keep trying"
                + (f" until {rfc5322_date(original.expires_at)}." if original.expires_at else ".")
            ),
        ]
    else:
        lines += _wrap(
            f'I\'m sorry to have to tell you that your message "{subject}" could not be delivered to one or '
            "more of its recipients. Its headers are attached below."
        )
    lines.append("")
    for r in recipients:
        lines += _explain(r, action, waited)
    if action == FAILED:
        lines += _wrap(
            "Check the address for typing mistakes. If the server said the mailbox is full or the message is "
            "too large, the recipient may be able to take it later or by other means."
        )
        lines.append("")
    lines.append("                   The mail system")
    return "\r\n".join(lines) + "\r\n"


def build_report(
    action: str,
    original: OriginalMessage,
    recipients: Sequence[ReportRecipient],
    *,
    reporting_mta: str,
    now: float,
) -> Report:
    """The report about ``recipients`` of ``original``, addressed to its sender."""
    if action not in SUBJECTS:
        raise ValueError(f"action: {action!r} is not failed or delayed")
    if not recipients:
        raise ValueError("recipients: a report needs at least one recipient")
    # A server's reply whose bytes were not UTF-8 comes with lone surrogates (surrogateescape): shown as \xNN,
    # the way the queue stores it, so the report can be encoded at all.
    recipients = [dataclasses.replace(r, reply=storable_text(r.reply)) for r in recipients]
    utf8 = original.smtputf8 or not original.sender.isascii() or any(not r.address.isascii() for r in recipients)
    host = reporting_mta
    boundary = f"{original.queue_id}.{int(now)}.{secrets.token_hex(6)}/{host}"
    message_id = make_msgid(idstring=f"report.{original.queue_id}", domain=host)
    subject = SUBJECTS[action]

    head = [
        f"From: Mail Delivery System <MAILER-DAEMON@{host}>",
        f"To: <{original.sender}>",
        f"Subject: {subject}",
        f"Date: {rfc5322_date(now)}",
        f"Message-ID: {message_id}",
    ]
    if original.message_id:
        head += [f"In-Reply-To: {original.message_id}", f"References: {original.message_id}"]
    head += [
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
        "Content-Type: multipart/report; report-type=delivery-status;",
        f'\tboundary="{boundary}"',
    ]

    text = _human_text(action, original, recipients, host, now)
    if text.isascii():
        text_part = f"Content-Type: text/plain; charset=us-ascii\r\n\r\n{text}"
    else:
        body = quopri.encodestring(text.encode("utf-8")).decode("ascii").replace("\n", "\r\n")
        body = body.replace("\r\r\n", "\r\n")
        text_part = (
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + body
        )

    status = [
        _field("Reporting-MTA", f"dns; {host}"),
        _field("X-Mailgui-Queue-ID", str(original.queue_id)),
        _field("X-Mailgui-Sender", f"{_address_type(original.sender)}; {original.sender}"),
        _field("Arrival-Date", rfc5322_date(original.arrival)),
    ]
    for r in recipients:
        status.append("\r\n")
        status.append(_field("Final-Recipient", f"{_address_type(r.address)}; {r.address}"))
        status.append(_field("Original-Recipient", f"{_address_type(r.address)}; {r.address}"))  # as given
        status.append(_field("Action", action))
        status.append(_field("Status", r.status))
        if r.remote_mta and r.code is not None:  # only a server that answered reported anything (as Postfix)
            status.append(_field("Remote-MTA", f"dns; {r.remote_mta}"))
        status.append(_field("Diagnostic-Code", _clean(r.diagnostic, utf8)))
        if r.last_attempt is not None:
            status.append(_field("Last-Attempt-Date", rfc5322_date(r.last_attempt)))
        if action == DELAYED and original.expires_at is not None:
            status.append(_field("Will-Retry-Until", rfc5322_date(original.expires_at)))

    status_type = "message/global-delivery-status" if utf8 else "message/delivery-status"
    headers_type = "message/global-headers" if utf8 else "text/rfc822-headers"
    encoding = "utf-8" if utf8 else "ascii"
    dash = f"--{boundary}\r\n"
    raw = b"".join(
        [
            "\r\n".join(head).encode(encoding) + b"\r\n\r\n",
            b"This is a MIME-encapsulated message.\r\n\r\n",
            dash.encode(),
            b"Content-Description: Notification\r\n",
            text_part.encode("ascii"),
            b"\r\n",
            dash.encode(),
            b"Content-Description: Delivery report\r\n",
            f"Content-Type: {status_type}\r\n\r\n".encode(),
            "".join(status).encode(encoding),
            b"\r\n",
            dash.encode(),
            b"Content-Description: Undelivered Message Headers\r\n",
            f"Content-Type: {headers_type}\r\n\r\n".encode(),
            original_headers(original.raw),
            b"\r\n",
            f"--{boundary}--\r\n".encode(),
        ]
    )
    return Report(action, original.sender, subject, message_id, raw, utf8)
