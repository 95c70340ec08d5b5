"""Building the MIME message: standards-correct bytes, encodings, attachments, headers, refusals."""

from __future__ import annotations

import email
from email import policy
from email.message import EmailMessage as MimeMessage

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailgui.errors import (
    BadRequestError,
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
    BLOCKED_EXTENSIONS,
    Attachment,
    EncodedPayload,
    MessageFields,
    OutgoingMessage,
    build_message,
    fields_from_mime,
)

NOW = 1_800_000_000.0


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


def test_attachment_unpacks_like_a_pair() -> None:
    name, payload = Attachment("a.txt", "text")
    assert (name, payload) == ("a.txt", b"text")
    assert Attachment("a.txt", b"x")[0] == "a.txt"


@pytest.mark.parametrize("ext", sorted(BLOCKED_EXTENSIONS))
def test_every_blocked_attachment_type_is_refused(ext: str) -> None:
    with pytest.raises(InvalidAttachmentTypeError, match=rf"^attachments: 'setup\.{ext}' is blocked"):
        Attachment(f"setup.{ext}", b"MZ")
    with pytest.raises(InvalidAttachmentTypeError):
        build(attachments=[(f"x.{ext.upper()}", b"MZ")])


@pytest.mark.parametrize("ext", ["exe", "bat", "scr", "js", "vbs", "cmd", "com", "pif", "msi", "jar"])
def test_app_engine_blocked_types_are_in_the_list(ext: str) -> None:
    assert ext in BLOCKED_EXTENSIONS


@pytest.mark.parametrize("name", ["archive.tar.gz", "photo.JPG", "README", "exe.txt"])
def test_harmless_attachment_names_are_accepted(name: str) -> None:
    assert Attachment(name, b"x").filename == name


@pytest.mark.parametrize("bad", ["", "  "])
def test_attachment_needs_a_name(bad: str) -> None:
    with pytest.raises(InvalidAttachmentTypeError, match=r"^attachments: every attachment needs a file name"):
        Attachment(bad, b"x")


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
        Attachment("a.png", b"x", content_id="<a>\r\nX: y")


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


def test_encoded_payload_decodes_base64_quoted_printable_and_charsets() -> None:
    assert EncodedPayload(b"SGkgw7w=", "utf-8", "base64").decode() == "Hi ü"
    assert EncodedPayload(b"Hi =FC", "iso-8859-1", "quoted-printable").decode() == "Hi ü"
    assert EncodedPayload(b"plain").decode() == "plain"
    assert plain_body(parse(build(body=EncodedPayload(b"SGkgw7w=", "utf-8", "base64")).raw)) == "Hi ü"


def test_encoded_payload_errors_name_the_problem() -> None:
    with pytest.raises(UnknownEncodingError, match=r"^body: unknown transfer encoding 'rot13'"):
        EncodedPayload(b"x", "utf-8", "rot13").decode()
    with pytest.raises(UnknownCharsetError, match=r"^body: unknown charset 'klingon'"):
        EncodedPayload(b"x", "klingon").decode()
    with pytest.raises(PayloadEncodingError, match=r"^body: payload is not valid utf-8"):
        EncodedPayload(b"\xff\xfe", "utf-8").decode()
    with pytest.raises(PayloadEncodingError, match=r"^body: payload is not valid base64"):
        EncodedPayload(b"abc", "utf-8", "base64").decode()


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
    name=st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=120).filter(str.strip),
    payload=st.binary(max_size=2000),
    inline=st.booleans(),
)
def test_random_attachment_names_and_payloads_round_trip(name: str, payload: bytes, inline: bool) -> None:
    filename = name.strip() + ".bin"
    out = build(attachments=[Attachment(filename, payload, content_id="<c1@example.com>" if inline else None)])
    assert all(len(line) <= 998 for line in out.raw.split(b"\r\n"))
    (part,) = parse(out.raw).iter_attachments()
    assert part.get_filename() == filename
    assert part.get_payload(decode=True) == payload
    assert Attachment(f"  {filename} ", b"").filename == filename
    assert part.get_content_disposition() == ("inline" if inline else "attachment")
