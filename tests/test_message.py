"""Building the MIME message: standards-correct bytes, encodings, attachments, headers, refusals."""

from __future__ import annotations

import base64
import email
import re
import unicodedata
import urllib.parse
from email import policy
from email.message import EmailMessage as MimeMessage

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailgui.attachments import BLOCKED_EXTENSIONS, Attachment, AttachmentPart, attachment_part
from mailgui.errors import (
    BadRequestError,
    Error,
    InvalidAttachmentTypeError,
    InvalidEmailError,
    InvalidHeaderNameError,
    InvalidHeaderValueError,
    MissingBodyError,
    MissingRecipientsError,
    MissingSenderError,
    MissingSubjectError,
    PayloadEncodingError,
    UnknownCharsetError,
    UnknownEncodingError,
)
from mailgui.message import (
    ALLOWED_HEADERS,
    EncodedPayload,
    MessageFields,
    OutgoingMessage,
    build_message,
    fields_from_mime,
)

NOW = 1_800_000_000.0
# Marks that reorder how a name is shown: "invoice\u202efdp.exe" reads as "invoiceexe.pdf".
BIDI_MARKS = "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u061c"


def checked(filename: object, payload: object, content_id: object = None) -> AttachmentPart:
    """An attachment as it is checked for sending (mailgui.Attachment keeps what it is given, as App Engine's)."""
    return attachment_part(Attachment(filename, payload, content_id=content_id))


def build(**kw: object) -> OutgoingMessage:
    base: dict[str, object] = {
        "sender": "Ann <ann@example.com>",
        "to": "bob@example.org",
        "subject": "Hello",
        "body": "Hi Bob",
    }
    base.update(kw)
    return build_message(MessageFields(**base), now=NOW)  # type: ignore[arg-type]


def parse(raw: bytes) -> MimeMessage:
    """Read raw bytes back with the stdlib. Its bytes parser cannot read UTF-8 headers (RFC 6532), so
    those are decoded first, as an SMTPUTF8 receiver does."""
    msg = email.message_from_string(raw.decode("utf-8"), _class=MimeMessage, policy=policy.SMTPUTF8)
    assert isinstance(msg, MimeMessage)
    return msg


def lf(text: str) -> str:
    """MIME text travels with CRLF line ends; compare texts with them normalized."""
    return text.replace("\r\n", "\n")


def plain_body(msg: MimeMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    return lf(str(part.get_content()))


def test_simple_message_has_crlf_lines_of_legal_length_and_the_fields() -> None:
    out = build()
    assert b"\r\n" in out.raw
    assert b"\n" not in out.raw.replace(b"\r\n", b"")
    assert all(len(line) <= 998 for line in out.raw.split(b"\r\n"))
    assert out.raw.isascii()
    msg = parse(out.raw)
    assert msg["From"] == "Ann <ann@example.com>"
    assert msg["To"] == "bob@example.org"
    assert msg["Subject"] == "Hello"
    assert msg["MIME-Version"] == "1.0"
    assert msg.get_content_type() == "text/plain"
    assert plain_body(msg) == "Hi Bob"
    assert email.utils.parsedate_to_datetime(msg["Date"]).timestamp() == NOW
    assert msg["Message-ID"] == out.message_id
    assert out.message_id.startswith("<") and out.message_id.endswith("@example.com>")
    assert out.sender.address == "ann@example.com"
    assert out.recipients == (("bob@example.org", "to"),)
    assert not out.smtputf8


def test_each_build_gets_a_fresh_message_id() -> None:
    assert build().message_id != build().message_id


def test_non_ascii_subject_and_name_are_rfc2047_encoded_and_read_back_unchanged() -> None:
    subject = "Grüße aus Köln — 東京 📬"
    out = build(sender="Jürgen Müller <juergen@example.com>", to="Zoë Ñandú <zoe@example.org>", subject=subject)
    assert out.raw.isascii()
    head = out.raw.split(b"\r\n\r\n", 1)[0]
    assert b"=?utf-8?" in head.lower()
    msg = parse(out.raw)
    assert msg["Subject"] == subject
    assert msg["From"].addresses[0].display_name == "Jürgen Müller"
    assert msg["To"].addresses[0].display_name == "Zoë Ñandú"
    assert out.subject == subject


def test_non_ascii_body_is_utf8_with_a_7bit_safe_transfer_encoding() -> None:
    body = "Ça va? Ünïcødé body — 日本語\nsecond line\n"
    out = build(body=body)
    assert out.raw.isascii()  # quoted-printable or base64, never raw 8bit
    msg = parse(out.raw)
    assert msg.get_content_charset() == "utf-8"
    assert msg["Content-Transfer-Encoding"] in ("quoted-printable", "base64")
    assert plain_body(msg) == body


def test_long_subject_is_folded_and_reads_back_unchanged() -> None:
    subject = " ".join(f"word{i}" for i in range(60)) + " " + "ü" * 80
    out = build(subject=subject)
    head = out.raw.split(b"\r\n\r\n", 1)[0]
    assert all(len(line) <= 78 for line in head.split(b"\r\n"))
    assert parse(out.raw)["Subject"] == subject


def test_long_body_lines_are_encoded_to_legal_lengths() -> None:
    body = "x" * 5000 + "\n" + "é" * 3000 + "\n"
    out = build(body=body)
    assert all(len(line) <= 998 for line in out.raw.split(b"\r\n"))
    assert plain_body(parse(out.raw)) == body


def test_internationalized_address_is_kept_in_utf8_and_marked_smtputf8() -> None:
    out = build(sender="José <josé@example.com>", to="用户@例子.广告")
    assert out.smtputf8
    assert "josé@example.com".encode() in out.raw
    msg = parse(out.raw)
    assert msg["From"].addresses[0].addr_spec == "josé@example.com"
    assert msg["To"].addresses[0].addr_spec == "用户@例子.广告"
    assert out.recipients == (("用户@例子.广告", "to"),)


def test_recipients_keep_their_kind_bcc_is_not_in_the_headers_and_duplicates_go_once() -> None:
    out = build(
        to="A <a@example.org>, b@example.org",
        cc=["c@example.org", "A <a@example.org>"],
        bcc="secret@example.org",
        reply_to="Help <help@example.com>, other@example.com",
    )
    assert out.recipients == (
        ("a@example.org", "to"),
        ("b@example.org", "to"),
        ("c@example.org", "cc"),
        ("secret@example.org", "bcc"),
    )
    assert b"secret@example.org" not in out.raw
    msg = parse(out.raw)
    assert "Bcc" not in msg
    assert [a.addr_spec for a in msg["To"].addresses] == ["a@example.org", "b@example.org"]
    assert [a.addr_spec for a in msg["Cc"].addresses] == ["c@example.org", "a@example.org"]
    assert [a.addr_spec for a in msg["Reply-To"].addresses] == ["help@example.com", "other@example.com"]


def test_only_bcc_is_enough() -> None:
    out = build(to=None, bcc="hidden@example.org")
    assert out.recipients == (("hidden@example.org", "bcc"),)
    assert b"hidden@example.org" not in out.raw


def test_display_names_that_need_quoting_read_back_unchanged() -> None:
    out = build(to=r'"Doe, John (Jr.) \"JJ\"" <jj@example.org>')
    assert parse(out.raw)["To"].addresses[0].display_name == 'Doe, John (Jr.) "JJ"'


def test_html_with_plain_body_is_multipart_alternative() -> None:
    out = build(body="plain ü", html="<p>html ü</p>")
    msg = parse(out.raw)
    assert msg.get_content_type() == "multipart/alternative"
    assert plain_body(msg) == "plain ü"
    html = msg.get_body(preferencelist=("html",))
    assert html is not None
    assert lf(html.get_content()) == "<p>html ü</p>"


def test_html_only_message_is_text_html() -> None:
    msg = parse(build(body=None, html="<b>hi</b>").raw)
    assert msg.get_content_type() == "text/html"
    assert lf(msg.get_content()) == "<b>hi</b>"


def test_attachments_as_pairs_and_objects_with_content_id() -> None:
    data = bytes(range(256)) * 10
    out = build(
        html='<img src="cid:logo">',
        attachments=[
            ("report.pdf", data),
            Attachment("logo.png", b"\x89PNG...", content_id="<logo>"),
            ("ünï.txt", "ü"),
        ],
    )
    assert out.raw.isascii()
    msg = parse(out.raw)
    assert msg.get_content_type() == "multipart/mixed"
    parts = list(msg.iter_attachments())
    assert [p.get_filename() for p in parts] == ["report.pdf", "logo.png", "ünï.txt"]
    assert parts[0].get_content_type() == "application/pdf"
    assert parts[0].get_payload(decode=True) == data
    assert parts[1].get_content_type() == "image/png"
    assert parts[1]["Content-ID"] == "<logo>"
    assert parts[1].get_content_disposition() == "inline"
    assert parts[2].get_payload(decode=True) == "ü".encode()
    assert parts[0].get_content_disposition() == "attachment"


def test_attachment_type_is_guessed_or_octet_stream() -> None:
    assert Attachment("notes", b"").content_type == "application/octet-stream"
    assert Attachment("a.csv", b"").content_type == "text/csv"


def test_attachment_unpacks_like_a_pair_and_keeps_its_payload_as_given() -> None:
    name, payload = Attachment("a.txt", "text")
    assert (name, payload) == ("a.txt", "text")
    assert Attachment("a.txt", b"x")[0] == "a.txt"
    assert checked("a.txt", "text").payload == b"text"  # a string goes out as UTF-8


@pytest.mark.parametrize("ext", sorted(BLOCKED_EXTENSIONS))
def test_every_blocked_attachment_type_is_refused(ext: str) -> None:
    with pytest.raises(InvalidAttachmentTypeError, match=rf"^attachments: 'setup\.{ext}' is blocked"):
        checked(f"setup.{ext}", b"MZ")
    with pytest.raises(InvalidAttachmentTypeError):
        build(attachments=[(f"x.{ext.upper()}", b"MZ")])


@pytest.mark.parametrize("ext", ["exe", "bat", "scr", "js", "vbs", "cmd", "com", "pif", "msi", "jar"])
def test_app_engine_blocked_types_are_in_the_list(ext: str) -> None:
    assert ext in BLOCKED_EXTENSIONS


@pytest.mark.parametrize("name", ["archive.tar.gz", "photo.JPG", "README", "exe.txt"])
def test_harmless_attachment_names_are_accepted(name: str) -> None:
    assert checked(name, b"x").filename == name


@pytest.mark.parametrize("bad", ["", "  "])
def test_attachment_needs_a_name(bad: str) -> None:
    with pytest.raises(InvalidAttachmentTypeError, match=r"^attachments: every attachment needs a file name"):
        checked(bad, b"x")


def test_attachments_of_the_wrong_shape_are_refused() -> None:
    with pytest.raises(InvalidAttachmentTypeError, match=r"^attachments: "):
        build(attachments=["just-a-name.txt"])
    with pytest.raises(InvalidAttachmentTypeError, match=r"^attachments: "):
        build(attachments="a.txt")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("In-Reply-To", "<x@example.com>"),
        ("references", "<x@example.com> <y@example.com>"),
        ("List-Id", "Team <team.example.com>"),
        ("List-Unsubscribe", "<mailto:leave@example.com>, <https://example.com/leave>"),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ("On-Behalf-Of", "boss@example.com"),
        ("Auto-Submitted", "auto-generated"),
        ("Resent-From", "Ann <ann@example.com>"),
        ("resent-date", "Fri, 15 Jan 2027 08:00:00 +0000"),
        ("Resent-Message-Id", "<r@example.com>"),
        ("Resent-To", "a@example.org, b@example.org"),
    ],
)
def test_allowed_extra_headers_are_written(name: str, value: str) -> None:
    msg = parse(build(headers={name: value}).raw)
    assert msg[name] == value


@pytest.mark.parametrize("name", ["X-Mailer", "From", "Bcc", "Content-Type", "Received", "Message-ID"])
def test_headers_outside_the_allow_list_are_refused_naming_the_field(name: str) -> None:
    with pytest.raises(InvalidHeaderNameError, match=rf"^headers: '{name}' is not allowed"):
        build(headers={name: "x"})


@pytest.mark.parametrize("name", ["Bad:Name", "Bad Name", "", "Üml"])
def test_malformed_header_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidHeaderNameError, match=r"^headers: .* is not a valid header name"):
        build(headers=[(name, "x")])


def test_non_ascii_extra_header_value_reads_back_unchanged() -> None:
    msg = parse(build(headers={"On-Behalf-Of": "Zoë <zoe@example.org>"}).raw)
    assert str(msg["On-Behalf-Of"]) == "Zoë <zoe@example.org>"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"subject": "Hi\r\nBcc: eve@example.com"}, "subject"),
        ({"subject": "Hi\nthere"}, "subject"),
        ({"subject": "Hi\rthere"}, "subject"),
        ({"sender": "Ann\r\n <ann@example.com>"}, "sender"),
        ({"to": "Bob\n <bob@example.org>"}, "to"),
        ({"cc": ["ok@example.org", "C\r <c@example.org>"]}, "cc"),
        ({"bcc": "x@example.org\r\n"}, "bcc"),
        ({"reply_to": "R\n <r@example.org>"}, "reply_to"),
        ({"headers": {"In-Reply-To": "<a@b>\r\nBcc: eve@example.com"}}, "headers[In-Reply-To]"),
        ({"attachments": [("a\r\n.txt", b"x")]}, "attachments"),
    ],
)
def test_line_breaks_in_any_header_value_are_refused(fields: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidHeaderValueError, match=rf"^{__import__('re').escape(field)}: line breaks"):
        build(**fields)


def test_line_break_in_content_id_is_refused() -> None:
    with pytest.raises(InvalidHeaderValueError, match=r"^attachments: line breaks"):
        checked("a.png", b"x", content_id="<a>\r\nX: y")


@pytest.mark.parametrize(
    ("fields", "error", "field"),
    [
        ({"sender": None}, MissingSenderError, "sender"),
        ({"sender": ""}, MissingSenderError, "sender"),
        ({"to": None}, MissingRecipientsError, "to"),
        ({"to": []}, MissingRecipientsError, "to"),
        ({"subject": None}, MissingSubjectError, "subject"),
        ({"body": None}, MissingBodyError, "body"),
        ({"sender": "not an address"}, InvalidEmailError, "sender"),
        ({"to": "bob@"}, InvalidEmailError, "to"),
        ({"cc": "c@@example.org"}, InvalidEmailError, "cc"),
        ({"bcc": "b@exa mple.org"}, InvalidEmailError, "bcc"),
        ({"reply_to": "r@"}, InvalidEmailError, "reply_to"),
    ],
)
def test_missing_or_invalid_fields_raise_errors_naming_the_field(
    fields: dict[str, object], error: type[BadRequestError], field: str
) -> None:
    with pytest.raises(error, match=rf"^{field}: "):
        build(**fields)


def test_an_encoded_payload_body_goes_out_decoded() -> None:
    assert plain_body(parse(build(body=EncodedPayload(b"SGkgw7w=", "utf-8", "base64")).raw)) == "Hi ü"
    assert plain_body(parse(build(body=EncodedPayload("Hi ü".encode())).raw)) == "Hi ü"  # no charset: UTF-8


def test_an_encoded_payload_body_that_does_not_decode_is_refused_naming_the_body() -> None:
    with pytest.raises(UnknownEncodingError, match=r"^body: Unknown decoding 'x-klingon'"):
        build(body=EncodedPayload(b"x", "utf-8", "x-klingon"))
    with pytest.raises(UnknownCharsetError, match=r"^html: Unknown charset 'klingon'"):
        build(html=EncodedPayload(b"x", "klingon"))
    with pytest.raises(PayloadEncodingError, match=r"^body: Could not read characters with 'utf-8'"):
        build(body=EncodedPayload(b"\xff\xfe", "utf-8"))
    with pytest.raises(PayloadEncodingError, match=r"^body: the payload names no charset and is not UTF-8"):
        build(body=EncodedPayload(b"\xff"))


def test_fields_read_back_from_a_built_message() -> None:
    out = build(
        sender="Zoë <zoe@example.com>",
        to="A <a@example.org>, b@example.org",
        cc="c@example.org",
        reply_to="r@example.com",
        subject="Süß",
        body="plain",
        html="<p>h</p>",
        attachments=[("a.txt", b"data")],
        headers={"In-Reply-To": "<p@example.com>"},
    )
    fields = fields_from_mime(parse(out.raw))
    assert fields.sender == "Zoë <zoe@example.com>"
    assert fields.to == ["A <a@example.org>", "b@example.org"]
    assert fields.cc == ["c@example.org"]
    assert fields.reply_to == ["r@example.com"]
    assert fields.subject == "Süß"
    assert isinstance(fields.body, str) and lf(fields.body) == "plain"
    assert isinstance(fields.html, str) and lf(fields.html) == "<p>h</p>"
    assert [(a.filename, a.payload) for a in fields.attachments] == [("a.txt", b"data")]
    assert fields.headers == [("In-Reply-To", "<p@example.com>")]


@settings(max_examples=60, deadline=None)
@given(
    name=st.text(
        st.characters(exclude_categories=("Cs", "Cc"), exclude_characters=BIDI_MARKS), min_size=1, max_size=120
    ).filter(str.strip),
    payload=st.binary(max_size=2000),
    inline=st.booleans(),
)
def test_random_attachment_names_and_payloads_round_trip(name: str, payload: bytes, inline: bool) -> None:
    filename = unicodedata.normalize("NFC", name.strip() + ".bin")  # the name that goes out is NFC
    out = build(attachments=[Attachment(filename, payload, content_id="<c1@example.com>" if inline else None)])
    assert all(len(line) <= 998 for line in out.raw.split(b"\r\n"))
    (part,) = parse(out.raw).iter_attachments()
    assert part.get_filename() == filename
    assert part.get_payload(decode=True) == payload
    assert checked(f"  {filename} ", b"").filename == filename
    assert part.get_content_disposition() == ("inline" if inline else "attachment")


# -- control characters, lone surrogates and disguised attachment names (issue 14) ---------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"subject": "Hi\x00there"}, "subject: contains a control character (U+0000) at position 3"),
        ({"subject": "\x0bvertical"}, "subject: contains a control character (U+000B) at position 1"),
        ({"subject": "bell\x07"}, "subject: contains a control character (U+0007) at position 5"),
        ({"subject": "del\x7f"}, "subject: contains a control character (U+007F) at position 4"),
        (
            {"sender": "Ann\x0c <ann@example.com>"},
            "sender: 'Ann\\x0c <ann@example.com>' contains a control character (U+000C) at position 4",
        ),
        (
            {"to": ["bob@example.org", "Zoë\x1b <z@example.org>"]},
            "to: 'Zoë\\x1b <z@example.org>' contains a control character (U+001B) at position 4",
        ),
        (
            {"reply_to": '"R\x00" <r@example.org>'},
            "reply_to: '\"R\\x00\" <r@example.org>' contains a control character (U+0000) at position 3",
        ),
        (
            {"headers": {"List-Id": "Team\x00 <team.example.com>"}},
            "headers[List-Id]: contains a control character (U+0000) at position 5",
        ),
        (
            {"headers": {"In-Reply-To": "<a\x0b@example.com>"}},
            "headers[In-Reply-To]: contains a control character (U+000B) at position 3",
        ),
        (
            {"attachments": [("a\x00.txt", b"x")]},
            "attachments: file name 'a\\x00.txt' contains a control character (U+0000) at position 2",
        ),
    ],
)
def test_control_characters_in_any_header_value_are_refused_naming_the_field_and_position(
    fields: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidHeaderValueError) as refused:
        build(**fields)
    assert str(refused.value) == message


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"subject": "caf\udcff"},
            "subject: contains a lone surrogate (U+DCFF) at position 4, which is not valid text",
        ),
        (
            {"sender": "\ud800 <ann@example.com>"},
            "sender: '\\ud800 <ann@example.com>' contains a lone surrogate (U+D800) at position 1, "
            "which is not valid text",
        ),
        (
            {"headers": {"References": "<a@b\udfff>"}},
            "headers[References]: contains a lone surrogate (U+DFFF) at position 5, which is not valid text",
        ),
        (
            {"attachments": [("\udcffreport.pdf", b"x")]},
            "attachments: file name '\\udcffreport.pdf' contains a lone surrogate (U+DCFF) at position 1, "
            "which is not valid text",
        ),
    ],
)
def test_lone_surrogates_in_header_values_are_refused_not_sent_as_invalid_utf8(
    fields: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidHeaderValueError) as refused:
        build(**fields)
    assert str(refused.value) == message


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"body": "a\x00b"}, "body: contains a NUL character (U+0000) at position 2, which is not allowed in text"),
        ({"html": "<p>\udcff</p>"}, "html: contains a lone surrogate (U+DCFF) at position 4, which is not valid text"),
        (
            {"body": EncodedPayload(b"SGk\x3d", "utf-8", "base64"), "html": "\x00"},
            "html: contains a NUL character (U+0000) at position 1, which is not allowed in text",
        ),
        (
            {"body": EncodedPayload(b"a=00b", "utf-8", "quoted-printable")},
            "body: contains a NUL character (U+0000) at position 2, which is not allowed in text",
        ),
    ],
)
def test_a_body_with_nul_or_a_lone_surrogate_is_refused(fields: dict[str, object], message: str) -> None:
    with pytest.raises(BadRequestError) as refused:
        build(**fields)
    assert str(refused.value) == message


def test_a_body_keeps_tabs_form_feeds_and_other_whitespace() -> None:
    body = "col\tcol\fpage two\x0bline\n"
    msg = parse(build(body=body).raw)
    assert plain_body(msg) == body


@pytest.mark.parametrize(
    "content_id",
    ["<é@example.com>", "<a b@example.com>", "<a\x00@example.com>", "<>", "<a>b>", "<a\udcff>", "<a", " <a> ", 7],
)
def test_a_content_id_that_is_not_an_ascii_msg_id_is_refused_naming_the_attachment(content_id: object) -> None:
    with pytest.raises(InvalidHeaderValueError, match=r"^attachments: the content_id of 'logo\.png' "):
        checked("logo.png", b"x", content_id=content_id)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("content_id", "header"),
    [
        ("logo", "<logo>"),  # bare, as App Engine's examples write it: brackets are added
        ("<image>", "<image>"),  # App Engine's own example: no @ needed
        ("<part1.06090408.01060107@example.com>", "<part1.06090408.01060107@example.com>"),
    ],
)
def test_an_ascii_content_id_goes_out_in_angle_brackets(content_id: str, header: str) -> None:
    out = build(attachments=[Attachment("logo.png", b"x", content_id=content_id)])
    (part,) = parse(out.raw).iter_attachments()
    assert part["Content-ID"] == header


@pytest.mark.parametrize(
    ("name", "ext"),
    [
        ("a.exe ", "exe"),
        ("a.exe.", "exe"),
        ("a.js.", "js"),
        ("a.exe\t", "exe"),
        ("report.pdf.EXE . . ", "exe"),
        ("a.bat\u3000", "bat"),
        ("a.exe::$DATA", "exe"),  # an NTFS stream name: Windows opens a.exe
        ("a.js:zone.identifier", "js"),
    ],
)
def test_blocked_types_are_refused_whatever_dots_spaces_or_tabs_trail_the_name(name: str, ext: str) -> None:
    with pytest.raises(InvalidAttachmentTypeError, match=rf"^attachments: .* is blocked: \.{ext} files"):
        checked(name, b"MZ")
    with pytest.raises(InvalidAttachmentTypeError):
        build(attachments=[(name, b"MZ")])


def test_the_normalized_attachment_name_is_what_goes_out() -> None:
    decomposed = "cafe\u0301 notes.txt. "
    att = checked(decomposed, b"x")
    assert att.filename == "caf\u00e9 notes.txt"
    (part,) = parse(build(attachments=[(decomposed, b"x")]).raw).iter_attachments()
    assert part.get_filename() == "caf\u00e9 notes.txt"
    with pytest.raises(InvalidAttachmentTypeError, match=r"^attachments: every attachment needs a file name"):
        checked(". . .", b"x")


@pytest.mark.parametrize("mark", list(BIDI_MARKS))
def test_bidirectional_marks_in_an_attachment_name_are_refused(mark: str) -> None:
    name = f"invoice{mark}fdp.txt"
    message = (
        f"attachments: file name {name!r} contains a bidirectional control character (U+{ord(mark):04X}) "
        "at position 8, which can disguise the file's type"
    )
    with pytest.raises(InvalidAttachmentTypeError) as refused:
        checked(name, b"x")
    assert str(refused.value) == message


# Any character at all, with the troublesome ones made likely: controls, DEL, lone surrogates, line breaks,
# bidirectional marks, and the characters that mean something in a header.
ANY_CHAR = st.one_of(
    st.characters(exclude_categories=()),
    st.sampled_from(list('\x00\t\x0b\x0c\x1b\x7f\r\n\udcff\ud800\u202e\u200f\u0301 .<>@"\\=?;')),
)
ANY_TEXT = st.text(ANY_CHAR, max_size=40)
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # C0 but tab, and DEL
_ENCODED_WORD = re.compile(r"=\?utf-8\?b\?([A-Za-z0-9+/=]*)\?=", re.IGNORECASE)
_RFC2231_PIECE = re.compile(r"(\w+)\*(\d+)\*=(?:utf-8'')?([^;\s]*)")


def check_header_text(text: str, where: str) -> None:
    assert not _CONTROL.search(text), (where, text)
    assert not re.search(r"[\ud800-\udfff]", text), (where, text)


def check_headers_are_clean(raw: bytes, smtputf8: bool) -> None:
    """The invariant: every header a reader sees (raw, RFC 2047 words, RFC 2231 parameters) is valid UTF-8 (ASCII
    unless SMTPUTF8) with no C0 control but tab and no DEL; text parts decode as UTF-8 with no NUL."""
    text = raw.decode("utf-8" if smtputf8 else "ascii")  # strict: raises on invalid UTF-8
    msg = email.message_from_string(text, _class=MimeMessage, policy=policy.compat32)
    for part in msg.walk():
        for name, value in part.raw_items():
            check_header_text(str(value).replace("\r\n", ""), name)
            for word in _ENCODED_WORD.findall(str(value)):
                check_header_text(base64.b64decode(word).decode("utf-8"), name)
            pieces: dict[str, list[tuple[int, str]]] = {}
            for param, index, piece in _RFC2231_PIECE.findall(str(value)):
                pieces.setdefault(param, []).append((int(index), piece))
            for param, parts in pieces.items():
                joined = "".join(p for _, p in sorted(parts))
                check_header_text(urllib.parse.unquote_to_bytes(joined).decode("utf-8"), f"{name}; {param}")
        if part.get_content_maintype() == "text":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            assert "\x00" not in payload.decode("utf-8")


PLACES = ["subject", "sender", "to", "reply_to", "body", "html", "attachment", "content_id", *sorted(ALLOWED_HEADERS)]


def place(where: str, text: str) -> tuple[dict[str, object], str]:
    """Fields with ``text`` in one place, and the field name an error about it must start with."""
    quoted = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if where in ("subject", "body", "html"):
        return {where: text}, where
    if where in ("sender", "to", "reply_to"):
        return {where: f"{quoted} <{where.replace('_', '')}@example.com>"}, where
    if where == "attachment":
        return {"attachments": [(text, b"x")]}, "attachments"
    if where == "content_id":
        return {"attachments": [("a.png", b"x", text)]}, "attachments"
    return {"headers": {where: text}}, f"headers[{ALLOWED_HEADERS[where]}]"


@settings(max_examples=400, deadline=None)
@given(where=st.sampled_from(PLACES), text=ANY_TEXT)
def test_any_text_in_any_field_is_refused_naming_the_field_or_goes_out_clean(where: str, text: str) -> None:
    fields, field = place(where, text)
    try:
        out = build(**fields)
    except Error as refused:
        assert str(refused).startswith(f"{field}: "), (field, str(refused))
    else:
        check_headers_are_clean(out.raw, out.smtputf8)


CLEAN_STEM = st.text(st.characters(exclude_categories=("Cs", "Cc", "Cf")), max_size=20)
TRAILER = st.text(st.sampled_from([".", " ", "\t", "\xa0", "\u3000"]), min_size=1, max_size=8)


@settings(max_examples=200, deadline=None)
@given(stem=CLEAN_STEM, ext=st.sampled_from(sorted(BLOCKED_EXTENSIONS)), upper=st.booleans(), tail=TRAILER)
def test_a_blocked_extension_with_any_run_of_trailing_dots_and_spaces_is_always_refused(
    stem: str, ext: str, upper: bool, tail: str
) -> None:
    name = f"{stem}.{ext.upper() if upper else ext}{tail}"
    with pytest.raises(InvalidAttachmentTypeError, match=rf"^attachments: .* is blocked: \.{ext} files"):
        checked(name, b"MZ")


@settings(max_examples=300, deadline=None)
@given(
    name=st.one_of(
        ANY_TEXT, st.builds("{}.{}{}".format, ANY_TEXT, st.sampled_from(sorted(BLOCKED_EXTENSIONS)), ANY_TEXT)
    )
)
def test_an_accepted_attachment_name_is_the_normalized_name_and_its_type_is_not_blocked(name: str) -> None:
    try:
        att = checked(name, b"x")
    except Error as refused:
        assert str(refused).startswith("attachments: ")
        return
    out = att.filename
    assert out == unicodedata.normalize("NFC", out)
    assert out and out == out.strip() and not out.endswith(".")
    assert not any(mark in out for mark in BIDI_MARKS)
    check_header_text(out, "filename")
    assert (out.rsplit(".", 1)[1].lower() if "." in out else "") not in BLOCKED_EXTENSIONS
    (part,) = parse(build(attachments=[(name, b"x")]).raw).iter_attachments()
    # The stdlib unquotes a parameter twice (in get_param, then in get_filename, which also strips), so a name
    # that is itself in quotes or angle brackets ('"a"', '<a>') reads back without them; what is written is right.
    assert part.get_filename() == email.utils.unquote(out).strip()
