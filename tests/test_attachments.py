"""mail.Attachment as App Engine's: interchangeable with a (filename, payload) tuple, content_id keyword-only, the
payload kept as given (bytes, text or an EncodedPayload)."""

from __future__ import annotations

import pytest

from mailgui import mail


def test_an_attachment_is_a_filename_payload_pair() -> None:
    attachment = mail.Attachment("foo.jpg", b"data")
    filename, payload = attachment
    assert (filename, payload) == ("foo.jpg", b"data")
    assert attachment == ("foo.jpg", b"data")
    assert ("foo.jpg", b"data") == attachment  # noqa: SIM300 (the reflected comparison is the point)
    assert attachment == ["foo.jpg", b"data"]
    assert attachment != ("foo.jpg", b"other")
    assert (attachment[0], attachment[1], attachment[-1], attachment[:]) == (
        "foo.jpg",
        b"data",
        b"data",
        ("foo.jpg", b"data"),
    )
    assert len(attachment) == 2
    assert "foo.jpg" in attachment and b"data" in attachment and "bar.jpg" not in attachment
    assert hash(attachment) == hash(("foo.jpg", b"data"))
    assert {attachment, mail.Attachment("foo.jpg", b"data")} == {attachment}


def test_with_a_content_id_it_unpacks_as_the_pair_but_equals_only_the_triple() -> None:
    attachment = mail.Attachment("foo.jpg", b"data", content_id="<foo>")
    assert tuple(attachment) == ("foo.jpg", b"data")
    assert attachment != ("foo.jpg", b"data")
    assert attachment == ("foo.jpg", b"data", "<foo>")
    assert attachment == mail.Attachment("foo.jpg", b"data", content_id="<foo>")
    assert attachment != mail.Attachment("foo.jpg", b"data", content_id="<bar>")
    assert hash(attachment) == hash(("foo.jpg", b"data", "<foo>"))
    assert (attachment == 3) is False and (attachment == ("a", "b", "c", "d")) is False


def test_the_content_id_is_keyword_only_as_app_engine_has_it() -> None:
    with pytest.raises(TypeError):
        mail.Attachment("foo.jpg", b"data", "<foo>")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "payload", [b"\x00\xff", "text ü", bytearray(b"x"), mail.EncodedPayload(b"aGk=", None, "base64")]
)
def test_the_payload_is_kept_as_given(payload: object) -> None:
    assert mail.Attachment("a.bin", payload).payload is payload


def test_what_an_attachment_holds_is_checked_when_the_message_is_checked() -> None:
    attachment = mail.Attachment("virus.exe", 3)  # App Engine's constructor checks nothing either
    message = mail.EmailMessage(sender="a@example.com", to="b@example.org", subject="s", body="b")
    with pytest.raises(TypeError):
        message.attachments = [attachment]
    message.attachments = [mail.Attachment("virus.exe", b"MZ")]
    with pytest.raises(mail.InvalidAttachmentTypeError, match=r"^attachments: 'virus\.exe' is blocked"):
        message.check_initialized()


def test_an_encoded_payload_goes_out_decoded() -> None:
    message = mail.EmailMessage(
        sender="a@example.com",
        to="b@example.org",
        subject="s",
        body="b",
        attachments=[mail.Attachment("a.bin", mail.EncodedPayload(b"aGk=", None, "base64"), content_id="<a1>")],
    )
    (part,) = [p for p in message.to_mime_message().walk() if p.get_filename()]
    assert part.get_payload(decode=True) == b"hi"
    assert part["Content-ID"] == "<a1>"
