"""The App Engine-style Mail API: names, behaviour, validation, and what reaches the queue."""

from __future__ import annotations

import email
import email.header
import re
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage as MimeMessage
from pathlib import Path
from typing import NamedTuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailgui import errors, mail
from mailgui.addresses import normalize_sender_pattern
from mailgui.queue import Queue

NAMES = [
    "Error",
    "BadRequestError",
    "InvalidSenderError",
    "InvalidEmailError",
    "InvalidAttachmentTypeError",
    "InvalidHeaderNameError",
    "MissingRecipientsError",
    "MissingSenderError",
    "MissingSubjectError",
    "MissingBodyError",
    "PayloadEncodingError",
    "UnknownCharsetError",
    "UnknownEncodingError",
]


def parse(raw: bytes) -> MimeMessage:
    msg = email.message_from_string(raw.decode("utf-8"), _class=MimeMessage, policy=policy.SMTPUTF8)
    assert isinstance(msg, MimeMessage)
    return msg


def lf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def message(**kw: object) -> mail.EmailMessage:
    fields: dict[str, object] = {
        "sender": "Ann <ann@example.com>",
        "to": "bob@example.org",
        "subject": "Hello",
        "body": "Hi",
    }
    fields.update(kw)
    # None leaves a field unset: assigning None to an address field is an error, as in App Engine.
    return mail.EmailMessage(**{name: value for name, value in fields.items() if value is not None})


def count(queue: Queue) -> int:
    return queue.count_messages()


# -- names ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_every_app_engine_error_is_importable_from_mail_and_errors(name: str) -> None:
    assert getattr(mail, name) is getattr(errors, name)
    assert issubclass(getattr(mail, name), mail.Error)


def test_the_errors_derive_as_app_engines_do() -> None:
    # google.appengine.api.mail_errors: every error derives from Error directly, but the two encoding ones.
    for name in [*NAMES[1:10], "PayloadEncodingError"]:
        assert getattr(mail, name).__bases__ == (mail.Error,), name
    assert mail.UnknownEncodingError.__bases__ == (mail.PayloadEncodingError,)
    assert mail.UnknownCharsetError.__bases__ == (mail.PayloadEncodingError,)


def test_mail_exposes_the_app_engine_functions_and_classes() -> None:
    for name in ("send_mail", "EmailMessage", "Attachment", "is_email_valid", "check_email_valid"):
        assert callable(getattr(mail, name))
    assert mail.invalid_email_reason("bob@", "to") is not None


# -- sending ----------------------------------------------------------------------------------------


def test_send_mail_queues_a_message_with_every_field(authorized: Queue) -> None:
    new_id = mail.send_mail(
        "Ann <ann@example.com>",
        "Albert Johnson <Albert.Johnson@example.org>, carol@example.org",
        "Report",
        "See attached.",
        cc=["dave@example.org"],
        bcc="Eve <eve@example.org>",
        reply_to="help@example.com",
        html="<p>See attached.</p>",
        attachments=[("r.csv", b"a,b\n1,2\n"), mail.Attachment("logo.png", b"\x89PNG", content_id="logo")],
        headers={"In-Reply-To": "<prev@example.com>", "List-Id": "<team.example.com>"},
    )
    detail = authorized.get_message(new_id)
    s = detail.summary
    assert s.status == "queued"
    assert s.sender == "ann@example.com"
    assert s.subject == "Report"
    assert [(r.address, r.kind, r.status) for r in s.recipients] == [
        ("Albert.Johnson@example.org", "to", "pending"),
        ("carol@example.org", "to", "pending"),
        ("dave@example.org", "cc", "pending"),
        ("eve@example.org", "bcc", "pending"),
    ]
    msg = parse(detail.raw)
    assert msg["Message-ID"] == s.message_id
    assert msg["Reply-To"] == "help@example.com"
    assert msg["In-Reply-To"] == "<prev@example.com>"
    assert "Bcc" not in msg and b"eve@example.org" not in detail.raw
    assert [p.get_filename() for p in msg.iter_attachments()] == ["r.csv", "logo.png"]


def test_fields_can_be_set_after_construction_and_with_update(authorized: Queue) -> None:
    m = mail.EmailMessage()
    m.sender = "ann@example.com"
    m.to = ["bob@example.org"]
    m.update(subject="Set later", body="body")
    m.cc = "cc@example.org"
    new_id = m.send()
    s = authorized.get_message(new_id).summary
    assert s.subject == "Set later"
    assert [r.address for r in s.recipients] == ["bob@example.org", "cc@example.org"]
    assert (m.sender, m.subject, m.body) == ("ann@example.com", "Set later", "body")


def test_unknown_field_is_an_attribute_error_in_the_constructor_update_and_setattr() -> None:
    with pytest.raises(AttributeError, match="'EmailMessage' has no attribute 'colour' \\(fields: amp_html, "):
        mail.EmailMessage(colour="red")
    m = message()
    with pytest.raises(AttributeError, match="'subjet'"):
        m.subjet = "typo"
    with pytest.raises(AttributeError, match="'sendr'"):
        m.update(sendr="x@example.com")
    with pytest.raises(AttributeError):
        mail.send_mail("ann@example.com", "bob@example.org", "s", "b", bogus=1)


def test_sending_one_instance_twice_queues_two_messages_with_different_message_ids(authorized: Queue) -> None:
    m = message()
    first = m.send()
    m.subject = "Changed"
    second = m.send()
    assert first != second
    a, b = authorized.get_message(first), authorized.get_message(second)
    assert a.summary.message_id != b.summary.message_id
    assert (a.summary.subject, b.summary.subject) == ("Hello", "Changed")
    assert parse(a.raw)["Message-ID"] != parse(b.raw)["Message-ID"]


@pytest.mark.parametrize(
    ("missing", "error", "field"),
    [
        ({"sender": None}, mail.MissingSenderError, "sender"),
        ({"to": None}, mail.MissingRecipientsError, "to"),
        ({"subject": None}, mail.MissingSubjectError, "subject"),
        ({"body": None}, mail.MissingBodyError, "body"),
    ],
)
def test_check_initialized_raises_each_missing_field_error(
    missing: dict[str, object], error: type[Exception], field: str, authorized: Queue
) -> None:
    m = message(**missing)
    assert not m.is_initialized()
    with pytest.raises(error, match=rf"^{field}: "):
        m.check_initialized()
    with pytest.raises(error):
        m.send()
    assert count(authorized) == 0


def test_an_empty_message_is_missing_its_recipients_first_as_in_app_engine() -> None:
    with pytest.raises(mail.MissingRecipientsError):
        mail.EmailMessage().check_initialized()
    with pytest.raises(mail.MissingSenderError):
        mail.EmailMessage(to="bob@example.org").check_initialized()


def test_a_complete_message_is_initialized_without_touching_the_queue(db_path: Path) -> None:
    m = message()
    assert m.is_initialized()
    m.check_initialized()
    assert not db_path.exists()


def test_html_alone_is_a_body() -> None:
    assert message(body=None, html="<p>x</p>").is_initialized()


def test_to_mime_message_gives_a_stdlib_message_with_the_fields() -> None:
    m = message(cc="Cé <ce@example.org>", subject="Über", body="plain", html="<i>h</i>", attachments=[("a.txt", b"A")])
    mime = m.to_mime_message()
    assert isinstance(mime, email.message.Message)
    assert mime["Subject"] == "Über"
    assert mime["From"] == "Ann <ann@example.com>"
    assert mime["Cc"] == "Cé <ce@example.org>"
    assert mime["Message-ID"]
    plain = mime.get_body(preferencelist=("plain",))
    assert plain is not None and lf(plain.get_content()) == "plain"
    assert [p.get_filename() for p in mime.iter_attachments()] == ["a.txt"]


def test_to_mime_message_of_an_incomplete_message_raises() -> None:
    with pytest.raises(mail.MissingSubjectError):
        message(subject=None).to_mime_message()


def test_email_message_from_a_mime_message_keeps_every_field(authorized: Queue) -> None:
    original = message(
        to="A <a@example.org>, b@example.org",
        cc="c@example.org",
        reply_to="r@example.com",
        subject="Ré: hello",
        body="plain ü",
        html="<p>ü</p>",
        attachments=[("data.bin", bytes(range(256)))],
        headers={"References": "<x@example.com>"},
    ).to_mime_message()
    copy = mail.EmailMessage(mime_message=original)
    assert copy.sender == "Ann <ann@example.com>"
    assert copy.to == "A <a@example.org>, b@example.org"  # one To header: one string, as App Engine reads it
    assert copy.subject == "Ré: hello"
    assert [(a.filename, a.payload.decode()) for a in copy.attachments] == [("data.bin", bytes(range(256)))]
    assert not hasattr(copy, "headers")  # App Engine does not read the extra headers back
    sent = parse(authorized.get_message(copy.send()).raw)
    assert sent["Subject"] == "Ré: hello"
    assert sent["Message-ID"] != original["Message-ID"]
    plain = sent.get_body(preferencelist=("plain",))
    assert plain is not None and lf(plain.get_content()) == "plain ü"


def test_email_message_from_a_mime_message_can_be_overridden_by_keywords() -> None:
    original = message().to_mime_message()
    copy = mail.EmailMessage(mime_message=original, subject="Override")
    assert copy.subject == "Override"
    assert copy.sender == "Ann <ann@example.com>"


def test_bodies_yields_html_then_plain_as_app_engine_and_filters_by_type() -> None:
    m = message(body="p", html="<p>h</p>")
    assert list(m.bodies()) == [("text/html", "<p>h</p>"), ("text/plain", "p")]
    assert list(m.bodies("text/html")) == [("text/html", "<p>h</p>")]
    assert list(m.bodies("text/plain")) == [("text/plain", "p")]
    assert list(m.bodies("text")) == [("text/html", "<p>h</p>"), ("text/plain", "p")]
    assert list(m.bodies("image/png")) == []
    assert list(message(body=None, html="<b>x</b>").bodies()) == [("text/html", "<b>x</b>")]
    assert list(message(body="", html="<b>x</b>").bodies("text/plain")) == [("text/plain", "")]


def test_attachments_as_pairs_objects_or_one_pair_are_kept_as_given_and_all_go_out() -> None:
    m = message(attachments=("one.txt", b"1"))
    assert m.attachments == ("one.txt", b"1")
    assert [p.get_filename() for p in m.to_mime_message().walk() if p.get_filename()] == ["one.txt"]
    given = [("a.txt", "A"), mail.Attachment("b.txt", b"B")]
    m.attachments = given
    assert m.attachments is given
    assert [p.get_filename() for p in m.to_mime_message().walk() if p.get_filename()] == ["a.txt", "b.txt"]


def test_blocked_attachment_is_refused_when_checked_or_sent_and_nothing_is_queued(authorized: Queue) -> None:
    with pytest.raises(mail.InvalidAttachmentTypeError, match=r"^attachments: 'virus\.exe' is blocked"):
        mail.send_mail("ann@example.com", "bob@example.org", "s", "b", attachments=[("virus.exe", b"MZ")])
    m = message()
    m.attachments = [("run.BAT", b"x")]  # App Engine checks the type when the message is checked, not here
    assert not m.is_initialized()
    with pytest.raises(mail.InvalidAttachmentTypeError, match=r"^attachments: 'run\.BAT' is blocked"):
        m.check_initialized()
    with pytest.raises(mail.InvalidAttachmentTypeError):
        m.send()
    assert count(authorized) == 0


def test_a_disguised_attachment_name_is_refused_and_the_normalized_name_goes_out() -> None:
    with pytest.raises(mail.InvalidAttachmentTypeError, match=r"^attachments: 'setup\.exe \. ' is blocked: \.exe"):
        message(attachments=[("setup.exe . ", b"MZ")]).check_initialized()
    with pytest.raises(mail.InvalidAttachmentTypeError, match=r"^attachments: file name .* bidirectional"):
        message(attachments=[("photo\u202egnp.txt", b"x")]).check_initialized()
    m = message(attachments=[("notes.txt. ", b"x")])
    assert m.attachments == [("notes.txt. ", b"x")]
    assert [p.get_filename() for p in m.to_mime_message().walk() if p.get_filename()] == ["notes.txt"]


def test_header_outside_the_allow_list_is_refused_when_set(authorized: Queue) -> None:
    with pytest.raises(mail.InvalidHeaderNameError, match=r'^headers: Header "X-Priority" is not allowed \(allowed: '):
        message(headers={"X-Priority": "1"})
    with pytest.raises(mail.InvalidHeaderNameError):
        mail.send_mail("ann@example.com", "bob@example.org", "s", "b", headers={"Bcc": "eve@example.com"})
    assert count(authorized) == 0


def test_amp_html_goes_between_the_plain_and_the_html_body_of_the_alternative() -> None:
    mime = message(body="plain", html="<p>h</p>", amp_html="<html ⚡4email></html>").to_mime_message()
    (alternative,) = [p for p in mime.walk() if p.get_content_type() == "multipart/alternative"]
    parts = alternative.get_payload()
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/x-amp-html", "text/html"]
    assert parts[1].get_payload(decode=True).decode() == "<html ⚡4email></html>"


def test_unauthorized_sender_is_refused_with_how_to_authorize_and_nothing_is_queued(authorized: Queue) -> None:
    with pytest.raises(mail.InvalidSenderError) as info:
        mail.send_mail("Mallory <mallory@evil.example>", "bob@example.org", "s", "b")
    assert str(info.value).startswith("sender: 'mallory@evil.example' is not an authorized sender")
    assert "mailgui senders add mallory@evil.example" in str(info.value)
    assert "@evil.example" in str(info.value)
    assert count(authorized) == 0


@pytest.mark.parametrize(
    "kw",
    [
        {"to": "bob@"},
        {"cc": ["ok@example.org", "not an address"]},
        {"bcc": "x@@example.org"},
        {"reply_to": "r@"},
        {"sender": "ann@"},
        {"subject": "a\r\nBcc: eve@example.com"},
        {"headers": {"References": "<a@b>\nX: y"}},
        {"attachments": [("a.txt\n", b"x")]},
        {"body": mail.EncodedPayload(b"\xff", "utf-8")},
        {"body": mail.EncodedPayload(b"x", "no-such-charset")},
        {"subject": "a\x00b"},
        {"subject": "caf\udcff"},
        {"to": "Bob\udcff <bob@example.org>"},
        {"body": "b\udcff"},
        {"html": "<p>\x00</p>"},
        {"headers": {"List-Id": "team\x0b <team.example.com>"}},
        {"attachments": [("a.exe.", b"MZ")]},
        {"attachments": [("photo\u202egnp.txt", b"x")]},
        {"attachments": [("a.png", b"x", "<\u00e9@example.com>")]},
    ],
)
def test_a_message_that_fails_validation_writes_nothing(kw: dict[str, object], authorized: Queue) -> None:
    before = authorized.data_version()
    with pytest.raises(mail.Error):
        mail.send_mail(
            **{"sender": "ann@example.com", "to": "bob@example.org", "subject": "s", "body": "b", **kw}  # type: ignore[arg-type]
        )
    assert count(authorized) == 0
    assert authorized.data_version() == before


def test_every_error_message_names_the_field() -> None:
    cases = {
        "sender": {"sender": "x"},
        "to": {"to": "x"},
        "cc": {"cc": "x"},
        "bcc": {"bcc": "x"},
        "reply_to": {"reply_to": "x"},
        "subject": {"subject": None},
        "body": {"body": None},
    }
    for field, kw in cases.items():
        with pytest.raises(mail.Error) as info:
            message(**kw).check_initialized()
        assert str(info.value).startswith(f"{field}: "), (field, str(info.value))


def test_internationalized_sender_and_recipient_are_queued_as_smtputf8(queue: Queue) -> None:
    queue.add_sender(normalize_sender_pattern("@例子.广告"))  # stored as punycode
    new_id = mail.send_mail("Zoë <用户@例子.广告>", "josé@example.org", "Ünïcode", "Grüße")
    raw = queue.get_message(new_id).raw
    msg = parse(raw)
    assert msg["From"].addresses[0].addr_spec == "用户@例子.广告"
    assert msg["From"].addresses[0].display_name == "Zoë"
    assert msg["To"].addresses[0].addr_spec == "josé@example.org"
    claimed = queue.claim_due("w", 10, 60)
    assert claimed[0].smtputf8
    assert claimed[0].recipients == ("josé@example.org",)


def test_ascii_message_is_not_smtputf8(authorized: Queue) -> None:
    mail.send_mail("Zoë <zoe@example.com>", "Ñandú <nandu@example.org>", "Ünïcode", "Grüße")
    (claimed,) = authorized.claim_due("w", 10, 60)
    assert not claimed.smtputf8
    assert claimed.raw.isascii()


def test_mailgui_db_is_read_at_each_send(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = [tmp_path / "one.sqlite3", tmp_path / "two.sqlite3"]
    for p in paths:
        with Queue(p) as q:
            q.add_sender("@example.com")
    for i, p in enumerate(paths):
        monkeypatch.setenv("MAILGUI_DB", str(p))
        mail.send_mail("ann@example.com", "bob@example.org", f"to file {i}", "b")
    for i, p in enumerate(paths):
        with Queue(p) as q:
            assert [m.subject for m in q.list_messages()] == [f"to file {i}"]


def test_send_returns_after_the_message_is_committed(authorized: Queue, db_path: Path) -> None:
    new_id = mail.send_mail("ann@example.com", "bob@example.org", "durable", "b")
    with Queue(db_path) as other:  # another connection sees it at once: the transaction is committed
        assert other.get_message(new_id).summary.subject == "durable"


def test_send_at_holds_the_message_until_then(authorized: Queue, clock: object) -> None:
    m = message()
    new_id = m.send(send_at=2_000_000_000.0)
    assert authorized.get_message(new_id).summary.next_attempt_at == 2_000_000_000.0


# -- property-based: header injection is always refused ----------------------------------------------

HEADER_FIELDS = [
    "subject",
    "sender_name",
    "to_name",
    "cc_name",
    "bcc_name",
    "reply_to_name",
    "In-Reply-To",
    "References",
    "List-Id",
    "List-Unsubscribe",
    "On-Behalf-Of",
    "Auto-Submitted",
    "Resent-From",
    "attachment_name",
]
NO_SURROGATES = st.characters(exclude_categories=("Cs",))


@st.composite
def text_with_line_break(draw: st.DrawFn) -> str:
    before = draw(st.text(NO_SURROGATES, max_size=20))
    brk = draw(st.sampled_from(["\r", "\n", "\r\n", "\n\r"]))
    after = draw(st.text(NO_SURROGATES, max_size=20))
    return before + brk + after


@pytest.fixture(scope="module")
def shared_queue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Queue]:
    path = tmp_path_factory.mktemp("prop") / "queue.sqlite3"
    with Queue(path) as q:
        yield q


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(HEADER_FIELDS), value=text_with_line_break())
def test_random_header_values_with_cr_or_lf_are_always_refused(field: str, value: str, shared_queue: Queue) -> None:
    shared_queue.add_sender("@example.com")
    kw: dict[str, object] = {"sender": "ann@example.com", "to": "bob@example.org", "subject": "s", "body": "b"}
    quoted = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if field == "subject":
        kw["subject"] = value
    elif field == "attachment_name":
        kw["attachments"] = [(value + ".txt", b"x")]
    elif field.endswith("_name"):
        name = field.removesuffix("_name")
        kw[name] = f"{quoted} <{name.replace('_', '')}@example.com>"
    else:
        kw["headers"] = {field: value}
    before = shared_queue.count_messages()
    with pytest.raises(mail.BadRequestError, match=r"line breaks"):
        mail.EmailMessage(**kw).send(db=shared_queue.path)
    assert shared_queue.count_messages() == before


# -- property-based: valid fields round-trip through to_mime_message() and the queue -------------------

LOCAL = st.one_of(
    st.from_regex(r"[a-z0-9][a-z0-9_+\-]{0,10}(\.[a-z0-9_+\-]{1,8}){0,2}", fullmatch=True),
    st.sampled_from(["josé", "用户", "zoë.smith", "δοκιμή"]),
)
DOMAIN = st.one_of(
    st.from_regex(r"[a-z][a-z0-9]{0,10}(-[a-z0-9]{1,5})?\.(com|org|net|example)", fullmatch=True),
    st.sampled_from(["例子.广告", "bücher.example"]),
)
ADDRESS = st.builds(lambda local, domain: f"{local}@{domain}", LOCAL, DOMAIN).filter(mail.is_email_valid)
# Any text a header may hold, less tab: no C0 control, no DEL and no lone surrogate (all refused).
HEADER_TEXT = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters="\r\n\x7f", min_codepoint=0x20), max_size=60
)
# Names up to 45 UTF-8 bytes: longer ones take several encoded words, and the stdlib parser used to read
# them back adds a space between those words (python/cpython#128110); test_long_display_name_... covers them.
# That parser also folds a space next to other whitespace ("  ", " \xa0") inside an encoded word into one;
# test_a_space_beside_other_whitespace_... checks those names with an RFC 2047 decoder instead.
NAME = HEADER_TEXT.map(str.strip).filter(lambda n: len(n.encode()) <= 45).filter(lambda n: not re.search(r" \s|\s ", n))
MAILBOX = st.tuples(NAME, ADDRESS)
BODY = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=300)  # both refused


def as_text(mailbox: tuple[str, str]) -> str:
    name, addr = mailbox
    if not name:
        return addr
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + f'" <{addr}>'


def canonical(addr: str) -> str:
    from mailgui.addresses import parse_mailbox

    return parse_mailbox(addr, "x").address


class Fields(NamedTuple):
    sender: tuple[str, str]
    to: list[tuple[str, str]]
    cc: list[tuple[str, str]]
    bcc: list[tuple[str, str]]
    reply_to: list[tuple[str, str]]
    subject: str
    body: str
    html: str | None


FIELDS = st.builds(
    Fields,
    sender=MAILBOX,
    to=st.lists(MAILBOX, min_size=1, max_size=3),
    cc=st.lists(MAILBOX, max_size=2),
    bcc=st.lists(MAILBOX, max_size=2),
    reply_to=st.lists(MAILBOX, max_size=2),
    subject=HEADER_TEXT,
    body=BODY,
    html=st.none() | BODY,
)


def check_round_trip(msg: MimeMessage, f: Fields) -> None:
    def mailboxes(header: str) -> list[tuple[str, str]]:
        return [(a.display_name, a.addr_spec) for a in msg[header].addresses] if msg[header] else []

    assert mailboxes("From") == [(f.sender[0], canonical(f.sender[1]))]
    assert mailboxes("To") == [(n, canonical(a)) for n, a in f.to]
    assert mailboxes("Cc") == [(n, canonical(a)) for n, a in f.cc]
    assert mailboxes("Reply-To") == [(n, canonical(a)) for n, a in f.reply_to]
    assert "Bcc" not in msg
    assert str(msg["Subject"]) == f.subject
    plain = msg.get_body(preferencelist=("plain",))
    assert plain is not None
    assert lf(plain.get_content()) == lf(f.body)
    if f.html:
        part = msg.get_body(preferencelist=("html",))
        assert part is not None
        assert lf(part.get_content()) == lf(f.html)


@settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(f=FIELDS, as_string=st.booleans())
def test_valid_random_fields_round_trip_through_to_mime_message_and_the_queue(
    f: Fields, as_string: bool, shared_queue: Queue
) -> None:
    def field(group: list[tuple[str, str]]) -> str | list[str]:
        return ", ".join(map(as_text, group)) if as_string else [as_text(m) for m in group]

    kw: dict[str, object] = {"sender": as_text(f.sender), "to": field(f.to), "subject": f.subject, "body": f.body}
    # An empty field is left unset: App Engine refuses '' or [] for an address, and '' for the HTML body.
    kw.update({name: field(group) for name, group in (("cc", f.cc), ("bcc", f.bcc)) if group})
    if f.reply_to:
        kw["reply_to"] = ", ".join(map(as_text, f.reply_to))  # one string, as App Engine's reply_to is
    if f.html:
        kw["html"] = f.html
    m = mail.EmailMessage(**kw)
    mime = m.to_mime_message()
    assert isinstance(mime, MimeMessage)
    check_round_trip(mime, f)

    shared_queue.add_sender(canonical(f.sender[1]))
    new_id = m.send(db=shared_queue.path)
    detail = shared_queue.get_message(new_id)
    assert all(len(line) <= 998 for line in detail.raw.split(b"\r\n"))
    assert not re.search(rb"[^\r]\n", detail.raw)
    check_round_trip(parse(detail.raw), f)
    assert detail.summary.subject == f.subject
    assert detail.summary.sender == canonical(f.sender[1])
    expected: list[tuple[str, str]] = []
    for kind, group in (("to", f.to), ("cc", f.cc), ("bcc", f.bcc)):
        for _, addr in group:
            if canonical(addr).lower() not in [e[0].lower() for e in expected]:
                expected.append((canonical(addr), kind))
    assert [(r.address, r.kind) for r in detail.summary.recipients] == expected


def test_long_non_ascii_display_name_is_split_into_encoded_words_that_decode_exactly() -> None:
    name = "Ünïcødé " * 12 + "名前"
    raw = message(to=f'"{name}" <long@example.org>').to_mime_message().as_bytes()
    header = re.search(rb"^To: (.*?)\r?\n(?=\S)", raw, re.S | re.M)
    assert header is not None
    assert all(len(line) <= 78 for line in header.group(0).splitlines())
    # An RFC 2047 decoder (whitespace between adjacent encoded words is dropped) gives the name back.
    decoded = str(email.header.make_header(email.header.decode_header(header.group(1).decode())))
    assert decoded == f"{name} <long@example.org>"


@pytest.mark.parametrize("name", ["a \xa0b", "0 \xa00", "x\u3000 y", "é  two spaces"])
def test_a_space_beside_other_whitespace_in_a_display_name_is_kept_exactly(name: str) -> None:
    raw = message(to=f'"{name}" <ws@example.org>').to_mime_message().as_bytes()
    header = re.search(rb"^To: (.*?)\r?\n(?=\S)", raw, re.S | re.M)
    assert header is not None
    decoded = str(email.header.make_header(email.header.decode_header(header.group(1).decode())))
    assert decoded == f"{name} <ws@example.org>"


def test_a_relative_mailgui_db_follows_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILGUI_DB", "queue.sqlite3")
    for sub in ("one", "two"):
        (tmp_path / sub).mkdir()
        monkeypatch.chdir(tmp_path / sub)
        with Queue("queue.sqlite3") as q:
            q.add_sender("@example.com")
        mail.send_mail("ann@example.com", "bob@example.org", f"in {sub}", "b")
    for sub in ("one", "two"):
        with Queue(tmp_path / sub / "queue.sqlite3") as q:
            assert [m.subject for m in q.list_messages()] == [f"in {sub}"]
