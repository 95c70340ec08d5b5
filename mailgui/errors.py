"""One error hierarchy for the whole of mailgui.

The names mirror Google App Engine's Mail API (``google.appengine.api.mail_errors``), with its hierarchy: each
error App Engine has derives from ``Error`` as there, so an ``except`` clause written for it catches the same
errors here. Every message says which field is wrong and why.
"""

from __future__ import annotations


class Error(Exception):
    """Base of every mailgui error."""


class BadRequestError(Error):
    """The request cannot be sent as it stands."""


class InvalidSenderError(Error):
    """The sender is malformed or not authorized to send."""


class InvalidEmailError(Error):
    """An address is not a valid email address."""


class InvalidAttachmentTypeError(Error):
    """An attachment's type is blocked (it could carry executable code)."""


class InvalidHeaderNameError(Error):
    """An extra header is not on the allow-list."""


class InvalidHeaderValueError(BadRequestError):
    """A header value would break the message (CR or LF in it)."""


class MissingRecipientsError(Error):
    """No to, cc or bcc recipient."""


class MissingSenderError(Error):
    """No sender."""


class MissingSubjectError(Error):
    """No subject."""


class MissingBodyError(Error):
    """No plain-text body."""


class PayloadEncodingError(Error):
    """A payload could not be decoded with its declared encoding."""


class UnknownCharsetError(PayloadEncodingError):
    """A payload names a charset Python does not know."""


class UnknownEncodingError(PayloadEncodingError):
    """A payload names a transfer encoding mailgui does not know."""


class InvalidHeadersError(InvalidHeaderNameError, InvalidEmailError):
    """The ``headers`` field is not a mapping of allowed names to strings. App Engine raises InvalidEmailError
    when such a value is assigned, and its mail service InvalidHeaderNameError: this is both, so either
    ``except`` clause catches it."""


class InvalidPayloadTypeError(PayloadEncodingError, TypeError):
    """An EncodedPayload was given something other than bytes; a TypeError too, as App Engine raises there."""


class InvalidAttachmentError(InvalidAttachmentTypeError, TypeError):
    """An attachment is not a (filename, payload) pair of the types App Engine takes; a TypeError too, as App
    Engine raises there."""


class InvalidMessageError(BadRequestError, TypeError):
    """What was given as a MIME message is not a message, its text or bytes, or a file holding it."""


class EmptyValueError(BadRequestError, ValueError):
    """A field was given an empty value where App Engine raises ``ValueError("May not set empty value ...")``;
    a ValueError too, so code written for App Engine catches it."""


class InvalidSettingError(BadRequestError):
    """A setting key is unknown or its value is out of range."""


class QueueError(Error):
    """The queue cannot do what was asked (unknown message, wrong state)."""


class UnknownMessageError(QueueError):
    """No message with that id in the queue."""


class LeaseLostError(QueueError):
    """A worker tried to finish a message whose lease it no longer holds."""


class StorageError(Error):
    """The queue file cannot be used: busy, full, read-only or corrupt.

    Environmental, not a bug: shown to the user as it is.
    """


class SecretStoreError(Error):
    """No usable OS keyring to keep a secret in."""


class MailboxError(Error):
    """The bounce mailbox (``bounces.imap.*``) cannot be read: no connection, TLS refused, login refused, no such
    folder. Environmental: the message names the setting to look at."""


class SendingStoppedError(Error):
    """The delivery worker stopped sending on its own: it could not record what it sent (sending on would send all
    of it again after a restart). ``reason`` says why; the message reads "sending stopped: <reason>"."""

    def __init__(self, reason: str):
        super().__init__(f"sending stopped: {reason}")
        self.reason = reason
