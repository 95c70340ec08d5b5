"""EncodedPayload as App Engine's: bytes only, decode() through Python's codecs, bytes back without a charset,
copy_to / to_mime_message / str, equality and hashing; and no value makes it raise anything but a mail.Error."""

from __future__ import annotations

import base64
import email.message
import quopri
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailgui import mail

RUSSIA = "\u0420\u043e\u0441\u0441\u0438\u044f"
RUSSIA_UTF8 = RUSSIA.encode("utf-8")


@pytest.mark.parametrize(
    ("payload", "charset", "encoding", "decoded"),
    [
        (b"plain old data", None, None, b"plain old data"),  # no charset: bytes back
        (RUSSIA_UTF8, "utf-8", None, RUSSIA),
        (RUSSIA_UTF8, "UTF-8", None, RUSSIA),
        (base64.encodebytes(RUSSIA_UTF8), "utf-8", "base64", RUSSIA),
        (base64.encodebytes(b"\x00\xff"), None, "BASE64", b"\x00\xff"),
        (quopri.encodestring(RUSSIA_UTF8), "utf-8", "quoted-printable", RUSSIA),
        (b"decisi=C3=B3n", None, "quoted-printable", b"decisi\xc3\xb3n"),
        (b"Still 7 bit", "7bit", None, b"Still 7 bit"),  # App Engine reads a charset of 7bit as none
        (b"Still 7 bit", None, "7bit", b"Still 7 bit"),
        (b"\xe9t\xe9", "latin-1", "8bit", "\u00e9t\u00e9"),
        (b"\xe9", "iso-8859-1", "binary", "\u00e9"),
        (zlib.compress(RUSSIA_UTF8), "utf-8", "zip", RUSSIA),  # any codec Python knows, as App Engine
    ],
)
def test_decode_undoes_the_transfer_encoding_then_the_charset(
    payload: bytes, charset: str | None, encoding: str | None, decoded: bytes | str
) -> None:
    assert mail.EncodedPayload(payload, charset, encoding).decode() == decoded


@pytest.mark.parametrize(
    ("args", "error", "words"),
    [
        ((b"x", "wackycoding"), mail.UnknownCharsetError, "Unknown charset 'wackycoding'."),
        ((b"x", None, "wackycoding"), mail.UnknownEncodingError, "Unknown decoding 'wackycoding'."),
        ((b"bad data", None, "base64"), mail.PayloadEncodingError, "Could not decode payload with 'base64'"),
        ((b"\x80", "ascii"), mail.PayloadEncodingError, "Could not read characters with 'ascii'"),
        ((b"x", None, 7), mail.UnknownEncodingError, "Unknown decoding 7: an encoding is a string"),
        ((b"x", "utf\x00-8"), mail.UnknownCharsetError, "Unknown charset 'utf\\x00-8'."),
    ],
)
def test_decode_errors_are_app_engines_classes_and_say_what_failed(
    args: tuple[object, ...], error: type[mail.Error], words: str
) -> None:
    with pytest.raises(error) as caught:
        mail.EncodedPayload(*args).decode()  # type: ignore[arg-type]
    assert words in str(caught.value)


def test_unknown_charset_and_encoding_errors_are_payload_encoding_errors_as_in_app_engine() -> None:
    assert issubclass(mail.UnknownCharsetError, mail.PayloadEncodingError)
    assert issubclass(mail.UnknownEncodingError, mail.PayloadEncodingError)


@pytest.mark.parametrize("payload", ["text", bytearray(b"x"), 3, None])
def test_a_payload_that_is_not_bytes_is_a_type_error_and_a_mail_error(payload: object) -> None:
    with pytest.raises(TypeError, match=f"EncodedPayload must be bytes, but got {type(payload).__name__}"):
        mail.EncodedPayload(payload)  # type: ignore[arg-type]
    with pytest.raises(mail.PayloadEncodingError):
        mail.EncodedPayload(payload)  # type: ignore[arg-type]


def test_equal_payloads_compare_and_hash_alike_and_any_difference_tells_them_apart() -> None:
    same = [mail.EncodedPayload(b"payload", "7bit", "zip"), mail.EncodedPayload(b"payload", "7bit", "zip")]
    assert same[0] == same[1] and hash(same[0]) == hash(same[1])
    assert len({*same}) == 1
    for other in (
        mail.EncodedPayload(b"payload2", "7bit", "zip"),
        mail.EncodedPayload(b"payload", "utf-8", "zip"),
        mail.EncodedPayload(b"payload", "7bit", "base64"),
        mail.EncodedPayload(b"payload", "7bit"),
    ):
        assert same[0] != other
        assert hash(same[0]) != hash(other)
    assert mail.EncodedPayload(b"payload") != b"payload"


def test_copy_to_without_charset_or_encoding_sets_the_bytes_as_they_are() -> None:
    message = email.message.Message()
    mail.EncodedPayload(b"payload").copy_to(message)
    assert message.get_payload(decode=True) == b"payload"
    assert message.get_param("charset") is None
    assert message["content-transfer-encoding"] is None


def test_copy_to_with_a_charset_alone_lets_the_charset_choose_base64() -> None:
    message = email.message.Message()
    mail.EncodedPayload(RUSSIA_UTF8, "utf-8").copy_to(message)
    assert message.get_payload().encode("utf-8") == base64.encodebytes(RUSSIA_UTF8)
    assert message.get_param("charset") == "utf-8"
    assert message["content-transfer-encoding"] == "base64"


def test_copy_to_with_an_encoding_keeps_the_encoded_bytes_and_names_the_encoding() -> None:
    data = zlib.compress(RUSSIA_UTF8)
    message = email.message.Message()
    mail.EncodedPayload(data, "utf-8", "zip").copy_to(message)
    assert message.get_payload(decode=True) == data
    assert message.get_param("charset") == "utf-8"
    assert message["content-transfer-encoding"] == "zip"


def test_to_mime_message_and_str_are_the_payload_as_its_own_message() -> None:
    payload = mail.EncodedPayload(base64.encodebytes(RUSSIA_UTF8), "utf-8", "base64")
    mime = payload.to_mime_message()
    assert isinstance(mime, email.message.Message)
    assert mime.get_payload(decode=True) == RUSSIA_UTF8
    assert str(payload) == str(mime)
    assert "content-transfer-encoding: base64" in str(payload)  # the name as App Engine writes it


def test_repr_names_the_charset_and_encoding() -> None:
    text = repr(mail.EncodedPayload(b"x", "utf-8", "base64"))
    assert text.startswith("<EncodedPayload payload=#") and text.endswith(" charset=utf-8 encoding=base64>")


@pytest.mark.parametrize(("charset", "encoding"), [("utf-8\r\nX: y", None), (None, "base64\nX: y")])
def test_a_line_break_in_the_charset_or_encoding_never_reaches_a_header(
    charset: str | None, encoding: str | None
) -> None:
    with pytest.raises(mail.InvalidHeaderValueError, match="line breaks"):
        mail.EncodedPayload(b"x", charset, encoding).to_mime_message()


ANY_NAME = st.one_of(
    st.none(),
    st.integers(),
    st.text(max_size=12),
    st.sampled_from(["utf-8", "base64", "quoted-printable", "zip", "rot13", "uu", "hex", "7bit", "idna", "punycode"]),
    st.builds(object),
)


@settings(max_examples=400, deadline=None)
@given(payload=st.binary(max_size=40), charset=ANY_NAME, encoding=ANY_NAME)
def test_any_charset_and_encoding_decode_or_raise_a_mail_error(
    payload: bytes, charset: object, encoding: object
) -> None:
    encoded = mail.EncodedPayload(payload, charset, encoding)  # type: ignore[arg-type]
    for action in (encoded.decode, encoded.to_mime_message, encoded.__str__, lambda: encoded.text_for("body")):
        try:
            action()
        except mail.Error as exc:
            assert str(exc)
