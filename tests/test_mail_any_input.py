"""Any value of any type in any field of the public API: ``send()`` queues the message or raises a ``mail.Error``
naming the field, and a refused message leaves nothing in the queue. Nothing else escapes (no TypeError,
UnicodeEncodeError or ValueError from deep inside), and no value is silently turned into something else."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailgui import mail
from mailgui.queue import Queue

FIELDS = ["sender", "to", "cc", "bcc", "reply_to", "subject", "body", "html", "attachments", "headers"]
VALID = {"sender": "ann@example.com", "to": "bob@example.org", "subject": "Hello", "body": "Hi Bob"}

_lone_surrogates = st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True),
    st.binary(max_size=16),
    st.text(max_size=24),
    st.tuples(st.text(max_size=8), _lone_surrogates, st.text(max_size=8)).map("".join),
    st.sampled_from(["bob@example.org", "Bob <bob@example.org>", "a.txt", "X-Tag", "", "\x00", "bob@", "@"]),
    st.builds(object),
)
ANY = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.tuples(inner, inner),
        st.tuples(inner, inner, inner),
        st.dictionaries(st.one_of(st.text(max_size=8), st.integers()), inner, max_size=2),
        st.frozensets(st.text(max_size=8), max_size=2),
    ),
    max_leaves=6,
)


@pytest.fixture(scope="module")
def queue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Queue]:
    path: Path = tmp_path_factory.mktemp("any-input") / "queue.sqlite3"
    with Queue(path) as q:
        q.add_sender("@example.com")
        yield q


def total(queue: Queue) -> int:
    return sum(queue.counts_by_status().values())


@settings(
    max_examples=int(os.environ.get("MAILGUI_FUZZ_EXAMPLES", "400")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(values=st.dictionaries(st.sampled_from(FIELDS), ANY, min_size=1, max_size=3), construct=st.booleans())
def test_any_value_in_any_field_queues_or_raises_a_mail_error_and_leaves_nothing_behind(
    values: dict[str, object], construct: bool, queue: Queue
) -> None:
    before = total(queue)
    try:
        if construct:
            message = mail.EmailMessage(**{**VALID, **values})
        else:  # assigned one by one, as App Engine code often does
            message = mail.EmailMessage(**VALID)
            for name, value in values.items():
                setattr(message, name, value)
        queued = message.send(db=queue.path)
    except mail.Error as exc:
        assert str(exc), "an error says what is wrong"
        assert total(queue) == before, "a refused message left something in the queue"
        return
    assert isinstance(queued, int)
    assert total(queue) == before + 1
    raw = queue.get_message(queued).raw
    assert b"\r\n\r\n" in raw and b"\x00" not in raw.partition(b"\r\n\r\n")[0]  # a head, and no NUL in it


@pytest.mark.parametrize(
    ("field", "value", "error", "words"),
    [
        ("sender", 123, mail.InvalidEmailError, "Invalid email address type for sender: expected a string, got int."),
        ("to", 123, mail.InvalidEmailError, "for to: expected an address or a list of addresses, got int."),
        ("cc", b"bob@example.org", mail.InvalidEmailError, "for cc: expected an address or a list of addresses"),
        ("body", 123, mail.BadRequestError, "body: expected a string, UTF-8 bytes or an EncodedPayload, got int"),
        ("html", ["<p>"], mail.BadRequestError, "html: expected a string, UTF-8 bytes or an EncodedPayload, got list"),
        (
            "headers",
            1,
            mail.InvalidHeaderNameError,
            "headers: Invalid type for headers. Should be a dictionary, not int.",
        ),
        ("headers", [("X-Tag",)], mail.InvalidEmailError, "headers: Invalid type for headers. Should be a dictionary"),
        ("attachments", [("a.txt", "lone \udc80")], mail.InvalidAttachmentTypeError, "'a.txt' holds a lone surrogate"),
        ("attachments", [("a.txt", 3)], TypeError, "the data of 'a.txt' must be bytes, a string or an EncodedPayload"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_naming_the_field(
    field: str, value: object, error: type[mail.Error], words: str, queue: Queue
) -> None:
    with pytest.raises(error, match=None) as caught:
        mail.EmailMessage(**{**VALID, field: value}).send(db=queue.path)
    assert words in str(caught.value)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    payload=st.one_of(st.binary(max_size=24), st.text(max_size=24), ANY),
    charset=st.one_of(st.none(), st.sampled_from(["utf-8", "latin-1", "us-ascii", "no-such-charset", ""]), ANY),
    encoding=st.one_of(st.none(), st.sampled_from(["base64", "quoted-printable", "7bit", "8bit", "uuencode", ""]), ANY),
    field=st.sampled_from(["body", "html"]),
)
def test_any_encoded_payload_as_a_body_queues_or_raises_a_mail_error(
    payload: object, charset: object, encoding: object, field: str, queue: Queue
) -> None:
    before = total(queue)
    try:
        body = mail.EncodedPayload(payload, charset, encoding)  # type: ignore[arg-type]
        mail.EmailMessage(**{**VALID, field: body}).send(db=queue.path)
    except mail.Error:
        assert total(queue) == before
        return
    assert total(queue) == before + 1


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(args=st.lists(ANY, min_size=4, max_size=4))
def test_send_mail_with_any_positional_values_queues_or_raises_a_mail_error(args: list[object], queue: Queue) -> None:
    before = total(queue)
    try:
        mail.send_mail(*args, db=queue.path)
    except mail.Error:
        assert total(queue) == before
        return
    assert total(queue) == before + 1


# -- the other public functions and classes -----------------------------------------------------------------------

MIME_TEXT = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300),
    st.lists(
        st.sampled_from(
            [
                "From: =?x-unknown?q?A=FF?= <a@example.com>\n",
                "To: \n",
                "To: a@example.org, =?utf-8?b?w7w=?= <b@example.org>\n",
                "Subject: =?utf-8?q?broken\n",
                "Content-Type: multipart/mixed; boundary=b\n",
                "Content-Type: text/plain; charset=x-klingon\n",
                "Content-Type: text/html; charset*=utf-8''%FF\n",
                "Content-Transfer-Encoding: base64\n",
                "Content-Transfer-Encoding: x-uuencode\n",
                "Content-Disposition: attachment; filename*=utf-8''r%C3%A9.exe\n",
                "Content-Disposition: attachment; filename*0*=bogus''%ZZ\n",
                "Content-ID: <\u00e9>\n",
                "Message-ID: <\u00e9@x>\n",
                "Date: yesterday\n",
                "Date: Mon, 17 Oct\n 2011 15:41:14 -0700\n",
                "Message-ID:\n <folded@example.com>\n",
                "\n",
                "--b\n",
                "--b--\n",
                "=C3=A9 body \udcff\n",
                "\x00\r\n",
            ]
        ),
        max_size=14,
    ).map("".join),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=MIME_TEXT)
def test_any_received_message_is_read_and_every_body_decodes_or_raises_a_mail_error(raw: str | bytes) -> None:
    message = mail.InboundEmailMessage(raw)
    for _, body in message.bodies():
        if isinstance(body, mail.EncodedPayload):
            with contextlib.suppress(mail.Error):
                body.decode()
    try:
        message.to_mime_message()
        message.check_initialized()
    except mail.Error as exc:
        assert str(exc)


@settings(max_examples=200, deadline=None)
@given(post=st.dictionaries(st.sampled_from(["original-to", "notification-text", "raw-message", "x"]), ANY | MIME_TEXT))
def test_any_bounce_form_gives_a_notification_or_a_mail_error_or_app_engines_value_error(
    post: dict[str, object],
) -> None:
    try:
        mail.BounceNotification(post)
    except mail.Error as exc:
        assert str(exc)
    except ValueError as exc:  # App Engine's own, for several raw messages
        assert "Multiple values found" in str(exc)


@settings(max_examples=300, deadline=None)
@given(value=ANY, field=st.text(max_size=8))
def test_any_value_to_the_checking_functions_gives_a_reason_or_a_mail_error(value: object, field: str) -> None:
    reason = mail.invalid_email_reason(value, field)
    assert mail.is_email_valid(value) == (reason is None) or field == ""
    header_reason = mail.invalid_headers_reason(value)
    for check in (lambda: mail.check_email_valid(value, field), lambda: mail.check_headers_valid(value)):
        try:
            check()
        except mail.Error as exc:
            assert str(exc)
    assert header_reason is None or isinstance(header_reason, str)
