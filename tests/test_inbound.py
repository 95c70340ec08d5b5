"""InboundEmailMessage and BounceNotification as App Engine gives them to an application, and the round trip:
every field of EmailMessage(**fields).to_mime_message() read back by InboundEmailMessage."""

from __future__ import annotations

import io
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import getaddresses
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailgui import mail

SIMPLE = """\
MIME-Version: 1.0
Date: Mon, 17 Oct 2011 15:41:14 -0700
Message-ID: <abc@mail.example.com>
From: Donut <nobody@example.com>
To: a@example.org
Bcc:
Subject: Hello
Content-Type: text/plain

Very simple message.
"""

RFC2047 = """\
From: =?US-ASCII?Q?Keith_Moore?= <moore@cs.utk.edu>
To: =?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>
CC: =?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>, xxx@xxx.xx
Subject: =?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=
 =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=
Content-Type: text/plain

Hi.
"""


@pytest.mark.parametrize(
    "given", [SIMPLE, SIMPLE.encode(), io.StringIO(SIMPLE), io.BytesIO(SIMPLE.encode()), MIMEText("Very")]
)
def test_a_message_is_read_from_text_bytes_a_file_or_a_stdlib_message(given: Any) -> None:
    message = mail.InboundEmailMessage(given)
    assert message.original is given if isinstance(given, MIMEText) else message.original["Subject"] == "Hello"


def test_the_fields_are_read_as_app_engine_reads_them() -> None:
    message = mail.InboundEmailMessage(SIMPLE)
    assert message.sender == "Donut <nobody@example.com>"
    assert message.to == "a@example.org"
    assert message.subject == "Hello"
    assert message.date == "Mon, 17 Oct 2011 15:41:14 -0700"
    assert message.message_id == "<abc@mail.example.com>"
    assert message.body == mail.EncodedPayload(b"Very simple message.\n")
    assert message.body.decode() == b"Very simple message.\n"  # no charset: bytes, as App Engine
    for absent in ("bcc", "cc", "html", "attachments", "alternate_bodies", "reply_to"):
        assert not hasattr(message, absent), absent


def test_rfc2047_headers_are_decoded() -> None:
    message = mail.InboundEmailMessage(RFC2047)
    assert message.subject == "If you can read this you understand the example."
    assert message.sender == "Keith Moore  <moore@cs.utk.edu>"
    assert message.to == "Keld J\u00f8rn Simonsen  <keld@dkuug.dk>"
    assert message.cc == "Andr\u00e9  Pirard <PIRARD@vm1.ulg.ac.be>, xxx@xxx.xx"


def test_an_unknown_charset_in_an_encoded_word_is_read_with_replacements_not_an_exception() -> None:
    message = mail.InboundEmailMessage("Subject: =?x-klingon?Q?Qapla=FF?=\n\nbody\n")
    assert message.subject == "Qapla\ufffd"


def test_without_a_mime_message_there_is_no_original() -> None:
    with pytest.raises(AttributeError, match="no original"):
        _ = mail.InboundEmailMessage().original


def test_update_from_mime_message_reads_the_date_and_message_id() -> None:
    message = mail.InboundEmailMessage()
    message.update_from_mime_message("Date: Whatever the date is\nMessage-id: Some id\n\n")
    assert (message.date, message.message_id) == ("Whatever the date is", "Some id")


def test_extra_bodies_go_to_alternate_bodies_in_document_order() -> None:
    mime = MIMEMultipart(
        _subparts=[MIMEText("body1"), MIMEText("h1", "html"), MIMEText("body2"), MIMEText("<x/>", "xml")]
    )
    message = mail.InboundEmailMessage(mime)
    assert message.body.decode() == "body1"
    assert message.html.decode() == "h1"
    assert [(t, p.decode()) for t, p in message.alternate_bodies] == [("text/plain", "body2"), ("text/xml", "<x/>")]
    assert [t for t, _ in message.bodies()] == ["text/html", "text/plain", "text/plain", "text/xml"]
    assert [t for t, _ in message.bodies("text")] == ["text/html", "text/plain", "text/plain", "text/xml"]
    assert [t for t, _ in message.bodies("text/plain")] == ["text/plain", "text/plain"]
    assert [t for t, _ in message.bodies("text/xml")] == ["text/xml"]
    assert list(message.bodies("image")) == []


def test_attachments_keep_their_encoded_payload_name_and_content_id() -> None:
    mime = MIMEMultipart()
    mime.attach(MIMEText("see attached"))
    part = MIMEText("ü data", "plain", "utf-8")
    part.add_header("Content-Disposition", "attachment", filename=("utf-8", "", "résumé.txt"))
    part.add_header("Content-ID", "<r1@example.com>")
    mime.attach(part)
    (attachment,) = mail.InboundEmailMessage(mime.as_string()).attachments
    assert attachment.filename == "résumé.txt"
    assert attachment.content_id == "<r1@example.com>"
    assert isinstance(attachment.payload, mail.EncodedPayload)
    assert (attachment.payload.charset, attachment.payload.encoding) == ("utf-8", "base64")
    assert attachment.payload.decode() == "ü data"


def test_an_email_message_from_a_mime_message_reads_its_fields_the_same_way(db_path: object) -> None:
    message = mail.EmailMessage(SIMPLE)
    assert (message.sender, message.to, message.subject) == ("Donut <nobody@example.com>", "a@example.org", "Hello")
    assert not hasattr(message, "date")  # only an inbound message has a date


def test_a_received_message_keeps_its_message_id_and_date_when_shown_as_mime() -> None:
    mime = mail.InboundEmailMessage(SIMPLE).to_mime_message()
    assert mime["Message-ID"] == "<abc@mail.example.com>"
    assert mime["Date"] == "Mon, 17 Oct 2011 15:41:14 -0700"


def test_a_folded_date_or_message_id_is_unfolded_and_a_line_break_elsewhere_refused() -> None:
    message = mail.InboundEmailMessage(SIMPLE.replace("Mon, 17 Oct 2011", "Mon, 17 Oct\n 2011"))
    assert message.date == "Mon, 17 Oct\n 2011 15:41:14 -0700"  # as it came
    assert message.to_mime_message()["Date"] == "Mon, 17 Oct 2011 15:41:14 -0700"
    message.date = "Mon, 17 Oct 2011\r\nBcc: eve@example.org"
    with pytest.raises(mail.InvalidHeaderValueError, match=r"^date: line breaks"):
        message.to_mime_message()


def test_from_environ_reads_the_posted_message() -> None:
    body = SIMPLE.encode()
    environ = {"CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body)}
    assert mail.InboundEmailMessage.from_environ(environ).subject == "Hello"


# -- the round trip -----------------------------------------------------------------------------------------------

NAME = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x2FF, exclude_characters='"\\', exclude_categories=["Cc"]),
    max_size=12,
).map(lambda s: " ".join(s.split()))
LOCAL = st.from_regex(r"[a-z][a-z0-9]{0,7}", fullmatch=True)
ADDRESS = st.builds(lambda local, domain: f"{local}@{domain}.example.org", LOCAL, LOCAL)
MAILBOX = st.builds(lambda name, addr: f'"{name}" <{addr}>' if name else addr, NAME, ADDRESS)
TEXT = st.text(st.characters(blacklist_categories=["Cs", "Cc"]), min_size=1, max_size=60).filter(str.strip)
BODY = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00\r"), max_size=200)
ATTACHMENT = st.tuples(
    st.builds(lambda stem, ext: f"{stem}.{ext}", LOCAL, st.sampled_from(["txt", "png", "pdf", "csv", "bin"])),
    st.binary(max_size=100),
)


HEADER_VALUES = {
    "Auto-Submitted": "auto-generated",
    "In-Reply-To": "<ref@example.com>",
    "List-Id": "<list.example.com>",
    "List-Unsubscribe": "<mailto:u@example.com>",
    "On-Behalf-Of": "ann@example.com",
    "References": "<r1@example.com> <r2@example.com>",
    "Resent-Date": "Mon, 17 Oct 2011 15:41:14 -0700",
    "Resent-From": "ann@example.com",
    "Resent-To": "bob@example.org",
}


def bare(mailbox: str) -> str:
    return mailbox.rpartition("<")[2].rstrip(">")


def addresses(value: str | list[str]) -> list[str]:
    return [address for _, address in getaddresses(value if isinstance(value, list) else [value])]


@settings(max_examples=150, deadline=None)
@given(
    sender=MAILBOX,
    to=st.lists(MAILBOX, min_size=1, max_size=3),
    cc=st.lists(MAILBOX, max_size=2),
    reply_to=st.none() | MAILBOX,
    subject=TEXT,
    body=BODY,
    html=st.none() | BODY.filter(bool),
    amp_html=st.none() | BODY.filter(bool),
    attachments=st.lists(ATTACHMENT, max_size=3, unique_by=lambda a: a[0]),
    headers=st.lists(st.sampled_from(sorted(HEADER_VALUES)), max_size=3).map(
        lambda n: {h: HEADER_VALUES[h] for h in n}
    ),
)
def test_every_field_of_a_message_round_trips_through_mime_into_an_inbound_message(
    sender: str,
    to: list[str],
    cc: list[str],
    reply_to: str | None,
    subject: str,
    body: str,
    html: str | None,
    amp_html: str | None,
    attachments: list[tuple[str, bytes]],
    headers: dict[str, str],
) -> None:
    fields: dict[str, object] = {"sender": sender, "to": to, "subject": subject, "body": body}
    optional = {"cc": cc, "reply_to": reply_to, "html": html, "amp_html": amp_html}
    optional.update({"attachments": attachments, "headers": headers})
    fields.update({name: value for name, value in optional.items() if value})
    sent = mail.EmailMessage(**fields)
    received = mail.InboundEmailMessage(sent.to_mime_message())

    assert bare(received.sender) == bare(sender)
    assert addresses(received.to) == [bare(a) for a in to]
    assert addresses(received.cc) == [bare(a) for a in cc] if cc else not hasattr(received, "cc")
    assert addresses(received.reply_to) == [bare(reply_to)] if reply_to else not hasattr(received, "reply_to")
    assert not hasattr(received, "bcc")
    assert received.subject == subject
    assert received.body.decode() == body.replace("\r\n", "\n")
    if html:
        assert received.html.decode() == html
    else:
        assert not hasattr(received, "html")
    # An AMP body is one more alternative: App Engine's InboundEmailMessage keeps it in alternate_bodies.
    amp = [p.decode() for t, p in received.__dict__.get("alternate_bodies", []) if t == "text/x-amp-html"]
    assert amp == ([amp_html] if amp_html else [])
    got = [(a.filename, a.payload.decode()) for a in received.__dict__.get("attachments", [])]
    assert got == attachments
    for name, value in headers.items():
        assert received.original[name] == value
    assert received.message_id and received.date


# -- bounce notifications -----------------------------------------------------------------------------------------

RAW = "From: ann@example.com\nTo: gone@example.org\nSubject: Report\n\nThe report.\n"


def test_a_bounce_notification_is_built_from_the_form_app_engine_posts() -> None:
    bounce = mail.BounceNotification(
        {
            "original-from": "ann@example.com",
            "original-to": "gone@example.org",
            "original-subject": "Report",
            "notification-from": "mailer-daemon@example.org",
            "notification-text": "550 no such user",
            "raw-message": RAW,
        }
    )
    assert bounce.original == {
        "to": "gone@example.org",
        "cc": "",
        "bcc": "",
        "from": "ann@example.com",
        "subject": "Report",
        "text": "",
    }
    assert bounce.notification["text"] == "550 no such user"
    assert bounce.notification["from"] == "mailer-daemon@example.org"
    assert bounce.original_raw_message.subject == "Report"
    assert bounce.original_raw_message.to == "gone@example.org"


def test_form_values_as_lists_are_kept_and_one_raw_message_is_read() -> None:
    bounce = mail.BounceNotification({"original-to": ["a@example.org", "b@example.org"], "raw-message": [RAW]})
    assert bounce.original["to"] == ["a@example.org", "b@example.org"]
    assert bounce.original_raw_message.sender == "ann@example.com"
    with pytest.raises(ValueError, match='Multiple values found for "raw-message"'):
        mail.BounceNotification({"raw-message": [RAW, RAW]})


def test_an_empty_form_gives_empty_fields_and_an_empty_message() -> None:
    bounce = mail.BounceNotification({})
    assert set(bounce.notification.values()) == {""}
    assert not hasattr(bounce.original_raw_message, "sender")


def test_from_environ_reads_a_multipart_form_with_its_transfer_encodings() -> None:
    boundary = "XyZ"
    body = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="original-to"\r\n\r\n'
        "gone@example.org\r\n"
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="notification-text"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
        "NTUwIG5vIHN1Y2ggdXNlciDDvA==\r\n"
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="raw-message"\r\n\r\n'
        f"{RAW}\r\n"
        f"--{boundary}--\r\n"
    ).encode()
    environ = {
        "CONTENT_TYPE": f"multipart/form-data; boundary={boundary}",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    bounce = mail.BounceNotification.from_environ(environ)
    assert bounce.original["to"] == "gone@example.org"
    assert bounce.notification["text"] == "550 no such user ü"
    assert bounce.original_raw_message.subject == "Report"


def test_from_environ_reads_a_url_encoded_form() -> None:
    body = b"original-to=gone%40example.org&notification-text=550+no"
    environ = {
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "CONTENT_LENGTH": "57",
        "wsgi.input": io.BytesIO(body),
    }
    bounce = mail.BounceNotification.from_environ(environ)
    assert (bounce.original["to"], bounce.notification["text"]) == ("gone@example.org", "550 no")


def test_a_blank_address_assigned_to_an_inbound_message_is_no_recipient_as_in_app_engine() -> None:
    message = mail.InboundEmailMessage()
    message.to = ""
    assert not hasattr(message, "to")
    with pytest.raises(mail.InvalidEmailError, match=r"^Empty email address for to\.$"):
        mail.EmailMessage().to = ""
    message.cc = "not an address"  # taken as it came; mailgui's syntax check waits until it is sent
    assert message.cc == "not an address"
