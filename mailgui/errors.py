"""One error hierarchy for the whole of mailgui.

The names mirror Google App Engine's Mail API so code written for it catches the same classes.
Every message says which field is wrong and why.
"""

from __future__ import annotations


class Error(Exception):
    """Base of every mailgui error."""


class BadRequestError(Error):
    """The request cannot be sent as it stands."""


class InvalidSenderError(BadRequestError):
    """The sender is malformed or not authorized to send."""


class InvalidEmailError(BadRequestError):
    """An address is not a valid email address."""


class InvalidAttachmentTypeError(BadRequestError):
    """An attachment's type is blocked (it could carry executable code)."""


class InvalidHeaderNameError(BadRequestError):
    """An extra header is not on the allow-list."""


class InvalidHeaderValueError(BadRequestError):
    """A header value would break the message (CR or LF in it)."""


class MissingRecipientsError(BadRequestError):
    """No to, cc or bcc recipient."""


class MissingSenderError(BadRequestError):
    """No sender."""


class MissingSubjectError(BadRequestError):
    """No subject."""


class MissingBodyError(BadRequestError):
    """No plain-text body."""


class PayloadEncodingError(Error):
    """A payload could not be decoded with its declared encoding."""


class UnknownCharsetError(Error):
    """A payload names a charset Python does not know."""


class UnknownEncodingError(PayloadEncodingError):
    """A payload names a transfer encoding mailgui does not know."""


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


class SendingStoppedError(Error):
    """The delivery worker stopped sending on its own: it could not record what it sent (sending on would send all
    of it again after a restart). ``reason`` says why; the message reads "sending stopped: <reason>"."""

    def __init__(self, reason: str):
        super().__init__(f"sending stopped: {reason}")
        self.reason = reason
