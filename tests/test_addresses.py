"""Address parsing and validation: syntax only, internationalized addresses accepted, errors name the field."""

from __future__ import annotations

import pytest

from mailgui import mail
from mailgui.addresses import (
    normalize_sender_pattern,
    parse_address_list,
    parse_mailbox,
    sender_matches,
)
from mailgui.errors import InvalidEmailError, InvalidHeaderValueError


@pytest.mark.parametrize(
    "addr",
    ["bob@example.com", "Bob.Smith+tag@mail.example.org", "josé@example.com", "用户@例子.广告", "ann@localhost"],
)
def test_valid_addresses_are_accepted(addr: str) -> None:
    assert mail.is_email_valid(addr)
    assert mail.invalid_email_reason(addr, "to") is None
    mail.check_email_valid(addr, "to")


@pytest.mark.parametrize(
    ("addr", "why"),
    [
        ("bob@", "after the @"),
        ("@example.com", "before the @"),
        ("bob", "@"),
        ("bob smith@example.com", "invalid characters"),
        ("bob@example.com\r\nBcc: eve@example.com", "line breaks"),
    ],
)
def test_invalid_addresses_give_a_reason_naming_the_field(addr: str, why: str) -> None:
    assert not mail.is_email_valid(addr)
    reason = mail.invalid_email_reason(addr, "cc")
    assert reason is not None
    assert reason.startswith("cc: ")
    assert why in reason
    with pytest.raises(InvalidEmailError, match=r"^cc: "):
        mail.check_email_valid(addr, "cc")


@pytest.mark.parametrize(
    ("addr", "reason"),
    [
        (None, "None email address for to."),
        ("", "Empty email address for to."),
        ("   ", "Empty email address for to."),
        (42, "Invalid email address type for to: expected a string, got int."),
    ],
)
def test_what_app_engine_checks_is_worded_as_app_engine_words_it(addr: object, reason: str) -> None:
    assert not mail.is_email_valid(addr)
    assert mail.invalid_email_reason(addr, "to") == reason
    with pytest.raises(InvalidEmailError) as refused:
        mail.check_email_valid(addr, "to")
    assert str(refused.value) == reason


class User:
    """App Engine's users.User, as far as the Mail API reads it: an object with an email() method."""

    def __init__(self, address: str):
        self.address = address

    def email(self) -> str:
        return self.address


def test_an_object_with_an_email_method_stands_for_its_address() -> None:
    assert mail.is_email_valid(User("ann@example.com"))
    assert mail.invalid_email_reason(User(""), "sender") == "Empty email address for sender."
    assert not mail.is_email_valid(User("ann@"))


def test_one_address_with_a_display_name_is_valid_and_a_list_is_not_one_address() -> None:
    assert mail.is_email_valid("Ann <ann@example.com>")
    reason = mail.invalid_email_reason("ann@example.com, bob@example.org", "sender")
    assert reason == "sender: 'ann@example.com, bob@example.org' must be exactly one address"


def test_no_dns_lookup_is_made_for_an_unknown_domain() -> None:
    # A syntactically valid address on a domain that does not exist: syntax only, so it is valid.
    assert mail.is_email_valid("nobody@no-such-domain-mailgui.invalid-tld-zz")


def test_internationalized_address_is_marked_smtputf8_and_ascii_is_not() -> None:
    assert parse_mailbox("josé@example.com", "to").smtputf8
    assert parse_mailbox("用户@例子.广告", "to").smtputf8
    assert not parse_mailbox("jose@example.com", "to").smtputf8


def test_display_name_is_kept_and_domain_normalized() -> None:
    m = parse_mailbox("Albert Johnson <Albert.Johnson@EXAMPLE.com>", "to")
    assert m.name == "Albert Johnson"
    assert m.address == "Albert.Johnson@example.com"


def test_comma_separated_string_with_display_names_gives_every_address() -> None:
    got = parse_address_list(
        'Albert Johnson <Albert.Johnson@example.com>, "Smith, Jane" <jane@example.org>, bob@example.net', "to"
    )
    assert [(m.name, m.address) for m in got] == [
        ("Albert Johnson", "Albert.Johnson@example.com"),
        ("Smith, Jane", "jane@example.org"),
        ("", "bob@example.net"),
    ]


def test_list_of_strings_each_may_hold_several_addresses() -> None:
    got = parse_address_list(["a@example.com, b@example.com", "C <c@example.com>"], "bcc")
    assert [m.address for m in got] == ["a@example.com", "b@example.com", "c@example.com"]


def test_one_bad_address_in_a_list_names_the_field_and_the_address() -> None:
    with pytest.raises(InvalidEmailError, match=r"^to: 'bob@' is not a valid address"):
        parse_address_list(["ann@example.com", "bob@"], "to")


def test_non_string_in_address_list_is_refused() -> None:
    with pytest.raises(InvalidEmailError, match=r"^to: expected a string address, got int"):
        parse_address_list(["ann@example.com", 7], "to")  # type: ignore[list-item]


@pytest.mark.parametrize("text", ["Eve\r\nBcc: x@example.com <eve@example.com>", "Eve\n <eve@example.com>"])
def test_line_break_in_display_name_is_refused(text: str) -> None:
    with pytest.raises(InvalidHeaderValueError, match=r"^reply_to: line breaks"):
        parse_address_list(text, "reply_to")


@pytest.mark.parametrize(
    ("address", "pattern", "matches"),
    [
        ("ann@example.com", "ann@example.com", True),
        ("ann@EXAMPLE.com", "ann@example.com", True),
        ("Ann@example.com", "ann@example.com", False),  # local parts compare exactly
        ("ann@example.com", "@example.com", True),
        ("bob@Example.COM", "@example.com", True),
        ("bob@sub.example.com", "@example.com", False),
        ("bob@example.org", "@example.com", False),
        ("bob@notexample.com", "@example.com", False),
    ],
)
def test_sender_matches_exact_address_or_whole_domain(address: str, pattern: str, matches: bool) -> None:
    assert sender_matches(address, pattern) is matches


def test_sender_patterns_are_normalized_and_bad_ones_refused() -> None:
    assert normalize_sender_pattern(" @Example.COM ") == "@example.com"
    assert normalize_sender_pattern("Ann <ann@Example.com>") == "ann@example.com"
    with pytest.raises(InvalidEmailError, match=r"^sender: '@' is not a valid domain entry"):
        normalize_sender_pattern("@")
    with pytest.raises(InvalidEmailError, match=r"^sender: "):
        normalize_sender_pattern("not-an-address")


@pytest.mark.parametrize("text", ["bob@, ann@example.com", "ann@example.com, bob@", "ann@example.com bob@example.com"])
def test_a_malformed_piece_of_a_list_is_refused_not_silently_dropped(text: str) -> None:
    with pytest.raises(InvalidEmailError, match=r"^to: "):
        parse_address_list(text, "to")


def test_empty_pieces_between_commas_are_ignored() -> None:
    assert [m.address for m in parse_address_list("a@example.com, , b@example.com,", "to")] == [
        "a@example.com",
        "b@example.com",
    ]


def test_one_mailbox_field_refuses_several_addresses_and_trailing_text() -> None:
    with pytest.raises(InvalidEmailError, match=r"^sender: .* must be exactly one address"):
        parse_mailbox("ann@example.com, eve@example.com", "sender")
    with pytest.raises(InvalidEmailError, match=r"^sender: .*after the closing '>'"):
        parse_mailbox("Ann <ann@example.com> eve@example.com", "sender")


def test_quoted_display_name_may_hold_commas_quotes_and_angle_brackets() -> None:
    (m,) = parse_address_list(r'"Doe, \"JJ\" <x>" <jj@example.com>', "to")
    assert (m.name, m.address) == ('Doe, "JJ" <x>', "jj@example.com")


def test_ascii_local_part_on_an_internationalized_domain_goes_out_as_punycode() -> None:
    m = parse_mailbox("bob@bücher.example", "to")
    assert (m.address, m.smtputf8) == ("bob@xn--bcher-kva.example", False)


@pytest.mark.parametrize("entry", ["@bücher.example", "@BÜCHER.example", "@xn--bcher-kva.example"])
@pytest.mark.parametrize("sender", ["bob@bücher.example", "josé@bücher.example", "ann@XN--BCHER-KVA.example"])
def test_internationalized_domains_match_in_either_form(entry: str, sender: str) -> None:
    assert sender_matches(parse_mailbox(sender, "sender").address, normalize_sender_pattern(entry))
    assert sender_matches(sender, entry)
