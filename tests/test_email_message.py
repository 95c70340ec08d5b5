"""EmailMessage and AdminEmailMessage against App Engine's documented behaviour (google.appengine.api.mail and its
unit tests): fields stored as assigned, what is checked on assignment and with which error, the admins, and every
public name and CamelCase alias App Engine exports."""

from __future__ import annotations

import logging

import pytest

from mailgui import mail
from mailgui.queue import Queue

VALID = {"sender": "ann@example.com", "to": "bob@example.org", "subject": "Hello", "body": "Hi"}


class User:
    """App Engine's users.User as the Mail API reads it: an object with an email() method."""

    def __init__(self, address: str):
        self._address = address

    def email(self) -> str:
        return self._address


# -- names --------------------------------------------------------------------------------------------------------

APP_ENGINE_NAMES = [
    # google.appengine.api.mail's public names (those that need no App Engine runtime) and mail_errors'
    "EXTENSION_MIME_MAP", "EXTENSION_BLACKLIST", "HEADER_WHITELIST", "INCOMING_MAIL_URL_PATTERN",
    "BOUNCE_NOTIFICATION_URL_PATH", "invalid_email_reason", "InvalidEmailReason", "is_email_valid", "IsEmailValid",
    "check_email_valid", "CheckEmailValid", "is_ascii", "invalid_headers_reason", "check_headers_valid",
    "send_mail", "SendMail", "send_mail_to_admins", "SendMailToAdmins", "Attachment", "EncodedPayload",
    "EmailMessage", "AdminEmailMessage", "InboundEmailMessage", "BounceNotification",
    "Error", "BadRequestError", "InvalidSenderError", "InvalidEmailError", "InvalidAttachmentTypeError",
    "InvalidHeaderNameError", "MissingRecipientsError", "MissingSenderError", "MissingSubjectError",
    "MissingBodyError", "PayloadEncodingError", "UnknownEncodingError", "UnknownCharsetError",
]  # fmt: skip


@pytest.mark.parametrize("name", APP_ENGINE_NAMES)
def test_every_app_engine_name_is_in_mail_and_in_all(name: str) -> None:
    assert hasattr(mail, name)
    assert name in mail.__all__


def test_the_camel_case_aliases_are_the_same_functions() -> None:
    assert mail.InvalidEmailReason is mail.invalid_email_reason
    assert mail.IsEmailValid is mail.is_email_valid
    assert mail.CheckEmailValid is mail.check_email_valid
    assert mail.SendMail is mail.send_mail
    assert mail.SendMailToAdmins is mail.send_mail_to_admins


def test_the_constants_are_app_engines() -> None:
    assert mail.INCOMING_MAIL_URL_PATTERN == "/_ah/mail/.+"
    assert mail.BOUNCE_NOTIFICATION_URL_PATH == "/_ah/bounce"
    assert len(mail.HEADER_WHITELIST) == 9 and "In-Reply-To" in mail.HEADER_WHITELIST
    assert isinstance(mail.HEADER_WHITELIST, frozenset)
    assert "X-Priority" not in mail.HEADER_WHITELIST
    assert mail.EXTENSION_MIME_MAP["docx"] == "application/msword"  # App Engine's entry, as it is
    assert mail.EXTENSION_MIME_MAP["png"] == "image/png"
    assert len(mail.EXTENSION_MIME_MAP) == 64
    assert mail.EXTENSION_BLACKLIST[:3] == ["ade", "adp", "bat"] and len(mail.EXTENSION_BLACKLIST) == 29


def test_is_ascii() -> None:
    assert mail.is_ascii("References")
    assert not mail.is_ascii("Référence")


# -- fields: stored as assigned -----------------------------------------------------------------------------------


def test_a_new_message_has_no_field_set() -> None:
    for message in (mail.EmailMessage(), mail.AdminEmailMessage()):
        assert not message.is_initialized()
        for name in message.PROPERTIES:
            assert not hasattr(message, name), name


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("to", "email@nowhere.com"),
        ("to", ("email1@nowhere.com", "email2@nowhere.com")),
        ("cc", ["a@nowhere.com", "B <b@nowhere.com>"]),
        ("bcc", "a@nowhere.com, b@nowhere.com"),
        ("sender", "Ann <ann@example.com>"),
        ("reply_to", "help@example.com"),
        ("subject", ""),
        ("body", ""),
        ("html", "<b>x</b>"),
        ("attachments", ("file.html", "<body>")),
        ("attachments", (("file1.html", "<body>"), ("file2.txt", "body"))),
        ("headers", {"References": "<a@example.com>"}),
    ],
)
def test_a_field_reads_back_exactly_what_was_assigned_and_can_be_deleted(name: str, value: object) -> None:
    message = mail.EmailMessage()
    setattr(message, name, value)
    assert getattr(message, name) is value
    delattr(message, name)
    assert not hasattr(message, name)


@pytest.mark.parametrize("name", ["to", "cc", "bcc", "sender", "reply_to"])
@pytest.mark.parametrize("value", ["", None, []])
def test_an_empty_address_field_is_an_invalid_email_error_as_in_app_engine(name: str, value: object) -> None:
    with pytest.raises(mail.InvalidEmailError) as refused:
        setattr(mail.EmailMessage(), name, value)
    assert f"for {name}" in str(refused.value)


def test_one_empty_address_in_a_list_is_refused_naming_the_field() -> None:
    with pytest.raises(mail.InvalidEmailError, match=r"^None email address for cc\.$"):
        mail.EmailMessage().cc = ("email@nowhere.com", None)


def test_an_invalid_address_is_refused_when_assigned_with_the_reason() -> None:
    with pytest.raises(mail.InvalidEmailError, match=r"^to: 'bob@' is not a valid address"):
        mail.EmailMessage().to = "carol@example.org, bob@"
    with pytest.raises(mail.InvalidEmailError, match=r"^sender: 'a@example.com, b@example.com' must be exactly one"):
        mail.EmailMessage().sender = "a@example.com, b@example.com"


@pytest.mark.parametrize("name", ["html", "attachments", "headers"])
def test_an_empty_value_elsewhere_is_refused_as_app_engine_refuses_it(name: str) -> None:
    value = {"html": "", "attachments": [], "headers": {}}[name]
    with pytest.raises(ValueError, match=f"^{name}: May not set empty value for '{name}'$"):
        setattr(mail.EmailMessage(), name, value)
    with pytest.raises(mail.BadRequestError):
        setattr(mail.EmailMessage(), name, value)


def test_an_object_with_an_email_method_is_an_address(authorized: Queue) -> None:
    message = mail.EmailMessage(sender=User("ann@example.com"), to=[User("bob@example.org")], subject="s", body="b")
    assert message.sender.email() == "ann@example.com"
    summary = authorized.get_message(message.send()).summary
    assert (summary.sender, [r.address for r in summary.recipients]) == ("ann@example.com", ["bob@example.org"])
    with pytest.raises(mail.InvalidEmailError, match=r"^Empty email address for sender\.$"):
        mail.EmailMessage(sender=User(""))


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (None, "Headers dictionary was None."),
        ("", "Invalid type for headers. Should be a dictionary, not str."),
        ([], "Invalid type for headers. Should be a dictionary, not list."),
        ({4512: "value"}, "Header names should be strings."),
        ({"References": False}, "Header values should be strings."),
        ({"Référence": "x"}, "Header name should be an ASCII string."),
        ({"X-Priority": "1"}, 'Header "X-Priority" is not allowed.'),
        ({" References": "x"}, 'Header name " References" has spaces or characters a header name cannot have.'),
    ],
)
def test_headers_app_engine_refuses_are_an_invalid_email_error_with_its_reason(headers: object, reason: str) -> None:
    assert mail.invalid_headers_reason(headers) == reason
    with pytest.raises(mail.InvalidEmailError) as refused:
        mail.EmailMessage().headers = headers
    assert str(refused.value).startswith("headers: " + reason.rstrip("."))
    assert isinstance(refused.value, mail.InvalidHeaderNameError)  # what App Engine's service raises
    with pytest.raises(mail.InvalidEmailError):
        mail.check_headers_valid(headers)


def test_the_header_allow_list_is_compared_without_regard_to_case() -> None:
    assert mail.invalid_headers_reason({"in-reply-to": "<a@example.com>", "LIST-ID": "<l.example.com>"}) is None
    mime = mail.EmailMessage(**VALID, headers={"in-reply-to": "<a@example.com>"}).to_mime_message()
    assert mime["In-Reply-To"] == "<a@example.com>"


def test_an_unknown_field_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match=r"^'EmailMessage' has no attribute 'colour'"):
        mail.EmailMessage(colour="red")
    with pytest.raises(AttributeError, match=r"^'AdminEmailMessage' has no attribute 'headers'"):
        mail.AdminEmailMessage(headers={"References": "<a@b>"})  # App Engine's admin message has no headers


def test_attachments_of_the_wrong_shape_are_a_type_error_when_assigned() -> None:
    for value in (["just-a-name.txt"], [("a.txt", b"x", "<cid>")], [(3, b"x")], 5):
        with pytest.raises(TypeError):
            mail.EmailMessage().attachments = value
        with pytest.raises(mail.InvalidAttachmentTypeError):
            mail.EmailMessage().attachments = value


def test_an_iterator_of_attachments_is_kept_as_a_list_so_it_still_holds_them_when_sent() -> None:
    message = mail.EmailMessage(**VALID, attachments=iter([("a.txt", b"A")]))
    assert message.attachments == [("a.txt", b"A")]
    assert [p.get_filename() for p in message.to_mime_message().walk() if p.get_filename()] == ["a.txt"]


# -- checking -----------------------------------------------------------------------------------------------------


def test_a_body_is_not_needed_when_there_is_an_html_body() -> None:
    message = mail.EmailMessage(sender="a@example.com", to="b@example.org", subject="s", html="<p>x</p>")
    message.check_initialized()
    message.CheckInitialized()
    assert message.IsInitialized()


def test_an_attachment_that_does_not_decode_is_found_by_check_initialized() -> None:
    message = mail.EmailMessage(**VALID)
    for payload, error in (
        (mail.EncodedPayload(b"unknown", encoding="weird_encoding"), mail.UnknownEncodingError),
        (mail.EncodedPayload(b"unknown", "weird_charset"), mail.UnknownCharsetError),
        (mail.EncodedPayload(b"bad data", encoding="base64"), mail.PayloadEncodingError),
    ):
        message.attachments = ("unknown.png", payload)
        with pytest.raises(error, match=r"^attachments: 'unknown\.png': "):
            message.check_initialized()


def test_bytes_are_read_as_utf8_text_for_a_body_or_a_subject(authorized: Queue) -> None:
    message = mail.EmailMessage(**{**VALID, "subject": "Süß".encode(), "body": "ü".encode()})
    mime = message.to_mime_message()
    assert mime["Subject"] == "Süß"
    assert mime.get_content() == "ü"
    message.body = b"\xff"
    with pytest.raises(mail.PayloadEncodingError, match=r"^body: bytes given as text must be UTF-8"):
        message.send()


def test_the_camel_case_methods_do_what_the_others_do(authorized: Queue) -> None:
    message = mail.EmailMessage()
    message.Initialize(**VALID)
    assert message.ToMIMEMessage()["To"] == "bob@example.org"
    queued = message.Send()
    assert authorized.get_message(queued).summary.subject == "Hello"


def test_send_takes_app_engines_make_sync_call_and_does_not_use_it(authorized: Queue) -> None:
    calls: list[object] = []
    queued = mail.EmailMessage(**VALID).send(lambda *a: calls.append(a))
    mail.send_mail("ann@example.com", "bob@example.org", "s", "b", lambda *a: calls.append(a))
    assert calls == [] and authorized.get_message(queued).summary.subject == "Hello"


# -- administrators -----------------------------------------------------------------------------------------------


def test_send_mail_to_admins_goes_to_the_admins_setting(authorized: Queue) -> None:
    authorized.set_setting("admins", "Root <root@example.org>, ops@example.org")
    queued = mail.send_mail_to_admins("ann@example.com", "Disk full", "It is.")
    summary = authorized.get_message(queued).summary
    assert [(r.address, r.kind) for r in summary.recipients] == [("root@example.org", "to"), ("ops@example.org", "to")]
    assert summary.subject == "Disk full"


def test_without_admins_sending_to_them_is_refused_saying_how_to_set_them(authorized: Queue) -> None:
    with pytest.raises(mail.MissingRecipientsError, match=r"^admins: no administrators are set.*config set admins"):
        mail.SendMailToAdmins("ann@example.com", "s", "b")
    assert authorized.count_messages() == 0


@pytest.mark.allow_log("mailgui.email_message", match="is not a valid property to set for AdminEmailMessage")
def test_an_admin_message_ignores_its_recipients_and_warns_as_app_engine(
    authorized: Queue, caplog: pytest.LogCaptureFixture
) -> None:
    authorized.set_setting("admins", "root@example.org")
    message = mail.AdminEmailMessage(sender="ann@example.com", subject="s", body="b")
    with caplog.at_level(logging.WARNING, "mailgui.email_message"):
        message.to = "whatever@example.org"
    assert "'to' is not a valid property to set for AdminEmailMessage.  It is unused." in caplog.text
    assert message.is_initialized()
    assert "To" not in message.to_mime_message()
    summary = authorized.get_message(message.send()).summary
    assert [r.address for r in summary.recipients] == ["root@example.org"]


# -- what the issue found leaking, and the documented differences ------------------------------------------------


def test_a_charset_named_base64_is_decoded_as_app_engines_codecs_decode_it_not_a_lookup_error() -> None:
    message = mail.EmailMessage(**{**VALID, "body": mail.EncodedPayload(b"aGk=", "base64")})
    assert message.to_mime_message().get_content() == "hi"


@pytest.mark.parametrize("content_id", ["<\u00e9@example.com>", "\u00e9", "<a\udcff>"])
def test_a_non_ascii_content_id_is_an_invalid_header_value_naming_the_attachment(content_id: str) -> None:
    message = mail.EmailMessage(**VALID, attachments=[mail.Attachment("a.png", b"x", content_id=content_id)])
    with pytest.raises(mail.InvalidHeaderValueError, match=r"^attachments: the content_id of 'a\.png'"):
        message.send()


def test_every_message_has_a_date_and_message_id_and_no_bcc_header() -> None:
    mime = mail.EmailMessage(**VALID, bcc="eve@example.org").to_mime_message()
    assert mime["Date"] and mime["Message-ID"]
    assert "Bcc" not in mime and "eve@example.org" not in mime.as_string()


def test_an_attachment_type_app_engine_does_not_map_is_the_one_python_knows() -> None:
    assert mail.Attachment("a.docx", b"").content_type == "application/msword"  # App Engine's map first
    assert mail.Attachment("a.svg", b"").content_type == "image/svg+xml"
    assert mail.Attachment("notes", b"").content_type == "application/octet-stream"
