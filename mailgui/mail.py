"""The public Mail API: Google App Engine's ``google.appengine.api.mail``, name for name, so code written for it runs
with one import line changed (``from mailgui import mail``).

``send()`` validates, writes the message durably to the queue and returns; a worker delivers it later. Where
mailgui differs from App Engine on purpose, README.md ("Differences from App Engine") says so and why.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mailgui.addresses import check_email_valid, invalid_email_reason, is_email_valid
from mailgui.attachments import EXTENSION_BLACKLIST, EXTENSION_MIME_MAP, Attachment
from mailgui.email_message import AdminEmailMessage, EmailMessage, open_queue
from mailgui.errors import (
    BadRequestError,
    EmptyValueError,
    Error,
    InvalidAttachmentError,
    InvalidAttachmentTypeError,
    InvalidEmailError,
    InvalidHeaderNameError,
    InvalidHeadersError,
    InvalidHeaderValueError,
    InvalidMessageError,
    InvalidPayloadTypeError,
    InvalidSenderError,
    MissingBodyError,
    MissingRecipientsError,
    MissingSenderError,
    MissingSubjectError,
    PayloadEncodingError,
    UnknownCharsetError,
    UnknownEncodingError,
)
from mailgui.inbound import BounceNotification, InboundEmailMessage
from mailgui.message import check_headers_valid, invalid_headers_reason
from mailgui.payload import EncodedPayload

__all__ = [
    "BOUNCE_NOTIFICATION_URL_PATH",
    "EXTENSION_BLACKLIST",
    "EXTENSION_MIME_MAP",
    "HEADER_WHITELIST",
    "INCOMING_MAIL_URL_PATTERN",
    "AdminEmailMessage",
    "Attachment",
    "BadRequestError",
    "BounceNotification",
    "CheckEmailValid",
    "EmailMessage",
    "EmptyValueError",
    "EncodedPayload",
    "Error",
    "InboundEmailMessage",
    "InvalidAttachmentError",
    "InvalidAttachmentTypeError",
    "InvalidEmailError",
    "InvalidEmailReason",
    "InvalidHeaderNameError",
    "InvalidHeaderValueError",
    "InvalidHeadersError",
    "InvalidMessageError",
    "InvalidPayloadTypeError",
    "InvalidSenderError",
    "IsEmailValid",
    "MissingBodyError",
    "MissingRecipientsError",
    "MissingSenderError",
    "MissingSubjectError",
    "PayloadEncodingError",
    "SendMail",
    "SendMailToAdmins",
    "UnknownCharsetError",
    "UnknownEncodingError",
    "check_email_valid",
    "check_headers_valid",
    "invalid_email_reason",
    "invalid_headers_reason",
    "is_ascii",
    "is_email_valid",
    "open_queue",
    "send_mail",
    "send_mail_to_admins",
]

# App Engine's allow-list of extra headers, as it is. mailgui compares names without regard to case and allows
# a few more (message.ALLOWED_HEADERS); this is the list App Engine code may read.
HEADER_WHITELIST = frozenset(
    [
        "Auto-Submitted",
        "In-Reply-To",
        "List-Id",
        "List-Unsubscribe",
        "On-Behalf-Of",
        "References",
        "Resent-Date",
        "Resent-From",
        "Resent-To",
    ]
)

# Where App Engine posts received mail and bounces; a web application that receives them keeps these routes.
INCOMING_MAIL_URL_PATTERN = "/_ah/mail/.+"
BOUNCE_NOTIFICATION_URL_PATH = "/_ah/bounce"


def is_ascii(string: str) -> bool:
    """Whether ``string`` is ASCII."""
    return all(ord(c) < 128 for c in string)


def send_mail(sender: Any, to: Any, subject: Any, body: Any, make_sync_call: object = None, **kw: Any) -> int:
    """Queue one message; returns its queue id. The keywords are EmailMessage's fields (and ``db``, the queue
    file). ``make_sync_call`` is App Engine's API-proxy hook: accepted, not used."""
    db: str | Path | None = kw.pop("db", None)
    return EmailMessage(sender=sender, to=to, subject=subject, body=body, **kw).send(db=db)


def send_mail_to_admins(sender: Any, subject: Any, body: Any, make_sync_call: object = None, **kw: Any) -> int:
    """Queue one message to the administrators (the ``admins`` setting); returns its queue id."""
    db: str | Path | None = kw.pop("db", None)
    return AdminEmailMessage(sender=sender, subject=subject, body=body, **kw).send(db=db)


# The CamelCase names App Engine still exports.
InvalidEmailReason = invalid_email_reason
IsEmailValid = is_email_valid
CheckEmailValid = check_email_valid
SendMail = send_mail
SendMailToAdmins = send_mail_to_admins
