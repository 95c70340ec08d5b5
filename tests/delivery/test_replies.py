"""The reply parser (mailgui/delivery/replies.py): any bytes in, well-formed replies or a ProtocolViolation out,
bounded memory, text that is always safe to store."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailgui.delivery.replies import MAX_REPLY_BYTES, MAX_REPLY_LINES, ProtocolViolation, Reply, ReplyParser, safe_text

UNSAFE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")

codes = st.integers(2, 5).flatmap(
    lambda a: st.integers(0, 5).flatmap(lambda b: st.integers(0, 9).map(lambda c: a * 100 + b * 10 + c))
)
line_texts = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=40).map(str.strip)


@st.composite
def replies(draw: st.DrawFn) -> tuple[int, list[str]]:
    return draw(codes), draw(st.lists(line_texts, min_size=1, max_size=5))


def wire(code: int, lines: list[str]) -> bytes:
    out = b""
    for i, text in enumerate(lines):
        sep = b" " if i == len(lines) - 1 else b"-"
        out += str(code).encode() + sep + text.encode() + b"\r\n"
    return out


def chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, last = [], 0
    for p in [*points, len(data)]:
        pieces.append(data[last:p])
        last = p
    return pieces


@given(st.lists(replies(), min_size=1, max_size=8), st.lists(st.integers(0, 10_000), max_size=20))
def test_replies_split_anywhere_come_out_whole_and_in_order(sent: list[tuple[int, list[str]]], cuts: list[int]) -> None:
    data = b"".join(wire(code, lines) for code, lines in sent)
    parser = ReplyParser()
    got: list[Reply] = []
    for piece in chunks(data, cuts):
        got += parser.feed(piece)
    assert [(r.code, list(r.lines)) for r in got] == sent
    assert not parser.pending


def read_all(parser: ReplyParser, pieces: list[bytes]) -> tuple[list[Reply], bool]:
    """The replies ``pieces`` give, and whether they ended in a violation."""
    got: list[Reply] = []
    for piece in pieces:
        try:
            got += parser.feed(piece)
        except ProtocolViolation:
            return got, True
    return got, False


@given(
    st.lists(st.sampled_from([b"250 2.1.0 Ok", b"250-x", b"250 x", b"354 go", b"550 no", b"250 Ok"]), max_size=40),
    st.lists(st.integers(0, 10_000), max_size=20),
)
def test_a_parser_that_remembers_lines_it_saw_reads_the_same_replies_as_a_new_one(
    lines: list[bytes], cuts: list[int]
) -> None:
    """The parser keeps single-line replies it has parsed (SEEN_LINES): a line seen before, alone or as a line of
    a multi-line reply, reads exactly as it would the first time."""
    data = b"".join(line + b"\r\n" for line in lines)
    used = ReplyParser()
    for line in set(lines):
        used.feed(line.replace(b"-", b" ") + b"\r\n")  # it has seen each line, as a reply of its own
    assert read_all(used, chunks(data, cuts)) == read_all(ReplyParser(), chunks(data, cuts))


@settings(max_examples=300)
@given(st.lists(st.one_of(st.binary(max_size=300), st.text(max_size=40).map(str.encode)), max_size=30))
def test_any_bytes_give_replies_or_a_violation_and_the_buffer_stays_bounded(pieces: list[bytes]) -> None:
    parser = ReplyParser()
    for piece in pieces:
        try:
            out = parser.feed(piece)
        except ProtocolViolation:
            return
        for reply in out:
            assert 200 <= reply.code < 600
            assert not UNSAFE.search(reply.text.replace("\n", " "))  # the only control is the line join
            reply.text.encode("utf-8")  # never a lone surrogate: SQLite and the GUI take it as it is
        assert len(parser._buffer) <= MAX_REPLY_BYTES


def test_a_reply_that_never_ends_is_a_violation_once_past_the_cap() -> None:
    parser = ReplyParser()
    fed = 0
    with pytest.raises(ProtocolViolation, match="longer than 64 KiB"):
        while fed < 10 * MAX_REPLY_BYTES:
            parser.feed(b"250-" + b"x" * 1000 + b"\r\n")
            fed += 1006
    assert fed <= MAX_REPLY_BYTES + 1006
    parser = ReplyParser()
    with pytest.raises(ProtocolViolation):
        for _ in range(100):
            parser.feed(b"y" * 4096)  # one line, no end


def test_more_lines_than_the_cap_is_a_violation() -> None:
    parser = ReplyParser()
    with pytest.raises(ProtocolViolation, match=f"more than {MAX_REPLY_LINES} lines"):
        parser.feed(b"250-a\r\n" * (MAX_REPLY_LINES + 1))


@pytest.mark.parametrize(
    "data",
    [
        b"hello\r\n",  # not a reply line
        b"25O ok\r\n",  # not digits
        b"250ok\r\n",  # no separator
        b"150 in progress\r\n",  # RFC 5321 has no 1yz
        b"260 ok\r\n",  # second digit beyond 5
        b"250-first\r\n550 second\r\n",  # the code changed mid-reply
    ],
)
def test_malformed_replies_are_violations(data: bytes) -> None:
    with pytest.raises(ProtocolViolation):
        ReplyParser().feed(data)


def test_reply_text_that_is_not_utf8_is_shown_escaped() -> None:
    [reply] = ReplyParser().feed(b"550 5.1.1 Benutzer unbekannt: M\xfcller\x1b[31m\r\n")
    assert reply.text == "5.1.1 Benutzer unbekannt: M\\xfcller\\x1b[31m"
    assert safe_text("Grüße".encode()) == "Grüße"
    assert ReplyParser().feed(b"250\r\n")[0] == Reply(250, "", ("",))  # a bare code is a reply too


def test_only_a_452_that_says_too_many_recipients_is_the_relays_limit() -> None:
    from mailgui.delivery.transport import is_too_many_recipients

    assert is_too_many_recipients(Reply(452, "4.5.3 Error: too many recipients"))
    assert is_too_many_recipients(Reply(452, "Too many recipients"))  # no enhanced status: RFC 5321 4.5.3.1.10
    assert is_too_many_recipients(Reply(552, "5.5.3 Too many recipients"))
    assert not is_too_many_recipients(Reply(452, "4.2.2 Mailbox full"))
    assert not is_too_many_recipients(Reply(552, "5.2.2 Mailbox full"))


def test_c1_controls_and_direction_marks_in_a_reply_are_shown_escaped() -> None:
    """U+202E would make the rest of a reply read backwards in the GUI and the log; U+009B is a terminal's CSI."""
    [reply] = ReplyParser().feed("550 5.7.1 see \u202etxt.exe\u202c \x9b31m here\r\n".encode())
    assert reply.text == "5.7.1 see \\u202etxt.exe\\u202c \\x9b31m here"
