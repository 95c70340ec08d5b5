"""EncodedPayload: a received body or attachment kept as it came, with its charset and transfer encoding.

App Engine's class, name for name (``google.appengine.api.mail.EncodedPayload``): the payload is bytes, and
``decode()`` undoes the transfer encoding with Python's codecs (base64, quoted-printable, or any other codec
Python knows, as App Engine does), then the charset; with no charset the result is bytes. Pure: no I/O.
"""

from __future__ import annotations

import codecs
import email.message
import re
from email.errors import MessageError

from mailgui.errors import (
    InvalidHeaderValueError,
    InvalidPayloadTypeError,
    PayloadEncodingError,
    UnknownCharsetError,
    UnknownEncodingError,
)

# Transfer encodings that leave the bytes as they are. App Engine names 7bit and 8bit; "binary" is RFC 2045's
# third identity encoding, which App Engine's codec lookup does not know.
IDENTITY_ENCODINGS = frozenset({"7bit", "8bit", "binary"})
_LINE_BREAK = re.compile(r"[\r\n]")
_STDLIB_ENCODING_ERRORS = (LookupError, UnicodeError, ValueError, MessageError)


class EncodedPayload:
    """A payload with the charset and transfer encoding it is encoded in; ``None`` for either means none.

    The attributes are kept as given; ``decode()`` says what is wrong with them, with a ``mail.Error``.
    """

    def __init__(self, payload: bytes, charset: str | None = None, encoding: str | None = None):
        if not isinstance(payload, bytes):
            raise InvalidPayloadTypeError(f"EncodedPayload must be bytes, but got {type(payload).__name__}")
        self.payload = payload
        self.charset = charset
        self.encoding = encoding

    def decode(self) -> bytes | str:
        """The payload with its transfer encoding undone, then decoded with its charset (bytes if it has none)."""
        return self.decode_for(None)

    def decode_for(self, field: str | None) -> bytes | str:
        """:meth:`decode`, with errors that begin with ``field`` (the body or attachment this payload is)."""
        where = f"{field}: " if field else ""
        payload: bytes | str = self.payload
        encoding = self.encoding
        if encoding:
            if not isinstance(encoding, str):
                raise UnknownEncodingError(f"{where}Unknown decoding {encoding!r}: an encoding is a string")
            if encoding.lower() not in IDENTITY_ENCODINGS:
                payload = _run_codec(payload, encoding, where, UnknownEncodingError, "decoding", "decode payload")
        charset = self.charset
        if charset and str(charset).lower() != "7bit":
            payload = _run_codec(payload, str(charset), where, UnknownCharsetError, "charset", "read characters")
        return payload

    def text_for(self, field: str) -> str:
        """The decoded text of a body: with no charset, the bytes are read as UTF-8 (App Engine passes them on
        as UTF-8 too)."""
        decoded = self.decode_for(field)
        if isinstance(decoded, str):
            return decoded
        try:
            return decoded.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PayloadEncodingError(
                f"{field}: the payload names no charset and is not UTF-8 text: {exc}; give its charset"
            ) from None

    def copy_to(self, mime_message: email.message.Message) -> None:
        """Set ``mime_message``'s payload to this one, with its charset and Content-Transfer-Encoding.

        With a charset and no transfer encoding, the stdlib encodes the payload as the charset asks (base64 for
        UTF-8), as it does for App Engine.
        """
        if self.encoding:
            if not isinstance(self.encoding, str):
                raise UnknownEncodingError(f"Unknown decoding {self.encoding!r}: an encoding is a string")
            if _LINE_BREAK.search(self.encoding):
                raise InvalidHeaderValueError(
                    "encoding: line breaks (CR or LF) are not allowed in a Content-Transfer-Encoding"
                )
            mime_message["content-transfer-encoding"] = self.encoding
        charset = self.charset
        if charset is not None and not isinstance(charset, str):
            raise UnknownCharsetError(f"Unknown charset {charset!r}: a charset is a string")
        if charset is not None and _LINE_BREAK.search(charset):
            raise InvalidHeaderValueError("charset: line breaks (CR or LF) are not allowed in a charset")
        try:
            mime_message.set_payload(self.payload, charset or None)
        except _STDLIB_ENCODING_ERRORS as exc:
            # The stdlib encodes the payload for the charset's body encoding, and fails as its codec does.
            raise PayloadEncodingError(f"Could not encode payload as {charset!r}: {exc}") from None

    def to_mime_message(self) -> email.message.Message:
        """A MIME message (headers and payload) holding this payload."""
        mime_message = email.message.Message()
        self.copy_to(mime_message)
        return mime_message

    def __str__(self) -> str:
        mime_message = self.to_mime_message()
        try:
            return str(mime_message)
        except _STDLIB_ENCODING_ERRORS as exc:  # the charset's codec, when the message is written out
            raise PayloadEncodingError(f"Could not write payload as {self.charset!r}: {exc}") from None

    def __eq__(self, other: object) -> bool:
        if isinstance(other, EncodedPayload):
            return (self.payload, self.charset, self.encoding) == (other.payload, other.charset, other.encoding)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.payload, self.charset, self.encoding))

    def __repr__(self) -> str:
        result = f"<EncodedPayload payload=#{hash(self.payload)}"
        if self.charset:
            result += f" charset={self.charset}"
        if self.encoding:
            result += f" encoding={self.encoding}"
        return result + ">"


def _run_codec(
    data: bytes | str, name: str, where: str, unknown: type[PayloadEncodingError], what: str, action: str
) -> bytes | str:
    try:
        codec = codecs.lookup(name)
    except (LookupError, ValueError):  # ValueError: a NUL in the name
        raise unknown(f"{where}Unknown {what} {name!r}.") from None
    try:
        return codec.decode(data)[0]  # type: ignore[arg-type]
    except Exception as exc:  # a codec raises what it likes (binascii.Error, zlib.error, TypeError, ...)
        raise PayloadEncodingError(f"{where}Could not {action} with {name!r}: {exc}") from None
