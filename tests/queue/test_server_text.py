"""What a server said is stored as data: a reply whose bytes were not UTF-8 (aiosmtplib decodes them with
surrogateescape, so they arrive as lone surrogates) is written and read back without raising, each odd byte
shown as ``\\xNN`` (mailgui/queue/server_text.py)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mailgui.clock import FakeClock
from mailgui.queue import Attempt, Queue, RecipientResult, RecipientStatus
from mailgui.queue.server_text import MAX_CHARS, escape_surrogates, storable_text
from tests.queue.helpers import outgoing

LATIN1 = b"550 5.1.1 Benutzer unbekannt: M\xfcller".decode("utf-8", "surrogateescape")  # a legacy server's 550
SHOWN = "550 5.1.1 Benutzer unbekannt: M\\xfcller"


def attempt(clock: FakeClock, address: str, status: str, code: int, reply: str, error: str | None = None) -> Attempt:
    return Attempt(clock.now(), 0.1, "relay.example:25", (RecipientResult(address, status, code, reply),), error)


def test_a_reply_with_bytes_that_are_not_utf8_is_recorded_and_reads_back(authorized: Queue, clock: FakeClock) -> None:
    # The worker's path: a batch of attempts from the ClaimedMessages they were sent from.
    ids = [authorized.enqueue(outgoing(to=f"r{n}@example.org")) for n in range(2)]
    claimed = authorized.claim_due("w", 10, 60)
    items = [
        (claimed[0], attempt(clock, claimed[0].recipients[0], RecipientStatus.FAILED, 550, LATIN1), clock.now()),
        (claimed[1], attempt(clock, claimed[1].recipients[0], RecipientStatus.PENDING, 451, LATIN1, LATIN1), 900.0),
    ]
    recorded, _ = authorized.record_and_claim("w", items)
    assert not [r for r, _ in recorded if isinstance(r, Exception)]
    for mid in ids:
        detail = authorized.get_message(mid)
        assert detail.summary.last_reply == SHOWN
        assert [r.reply for r in detail.summary.recipients] == [SHOWN]
        assert [r.reply for a in detail.attempts for r in a.results] == [SHOWN]
    assert detail.attempts[0].error == SHOWN
    assert [b.reply for b in authorized.list_bounces()] == [SHOWN]


def test_the_per_message_path_and_a_hold_store_such_replies_too(authorized: Queue, clock: FakeClock) -> None:
    first, second = authorized.enqueue(outgoing(to="a@example.org")), authorized.enqueue(outgoing(to="b@example.org"))
    by_id = {m.id: m for m in authorized.claim_due("w", 10, 60)}
    authorized.record_attempt(first, "w", attempt(clock, "a@example.org", RecipientStatus.FAILED, 550, LATIN1), None)
    assert authorized.get_message(first).summary.recipients[0].reply == SHOWN
    authorized.release(by_id[second].id, "w")
    # A relay left alone holds waiting mail with its failure as the last reply (the relay's words, too).
    assert authorized.hold_due(clock.now() + 60, "delivery temporarily suspended: " + LATIN1, 421, 10)
    assert authorized.get_message(second).summary.last_reply == "delivery temporarily suspended: " + SHOWN


def test_escaping_keeps_text_that_is_already_safe_and_never_leaves_a_surrogate() -> None:
    assert escape_surrogates("250 2.0.0 Ok: queued ✓ für dich") == "250 2.0.0 Ok: queued ✓ für dich"
    assert escape_surrogates(None) is None
    # A lone surrogate that surrogateescape did not make (it stands for no byte): shown as its code point.
    assert escape_surrogates("lone \ud800 high") == "lone \\ud800 high"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64), st.text(max_size=16))
def test_any_bytes_a_server_sends_are_storable(raw: bytes, text: str) -> None:
    decoded = raw.decode("utf-8", "surrogateescape") + text
    safe = escape_surrogates(decoded)
    assert safe is not None
    safe.encode("utf-8")  # never raises: nothing SQLite (or Qt, or a report) would choke on
    if raw.isascii():
        assert safe.startswith(raw.decode("ascii"))


def test_a_huge_reply_is_stored_cut_to_its_start_saying_how_much_was_left_out(
    authorized: Queue, clock: FakeClock
) -> None:
    # A legal 64 KiB multi-line reply, for every recipient: the queue keeps its start, not 64 KiB a recipient.
    huge = "550 5.7.1 Blocked: " + "see https://example.test/why " * 2300
    ids = [authorized.enqueue(outgoing(to=f"r{n}@example.org")) for n in range(2)]
    claimed = authorized.claim_due("w", 10, 60)
    items = [(claimed[0], attempt(clock, claimed[0].recipients[0], RecipientStatus.FAILED, 550, huge, huge), None)]
    authorized.record_and_claim("w", items)
    authorized.record_attempt(ids[1], "w", attempt(clock, "r1@example.org", RecipientStatus.FAILED, 550, huge), None)
    for mid in ids:
        detail = authorized.get_message(mid)
        stored = [detail.summary.last_reply, detail.summary.recipients[0].reply, detail.attempts[0].results[0].reply]
        for text in stored:
            assert text is not None and text.startswith("550 5.7.1 Blocked: see https://example.test/why")
            assert len(text) < MAX_CHARS + 64
            assert text.endswith(f"[{len(huge) - MAX_CHARS:,} more characters not kept]")
    assert authorized.get_message(ids[0]).attempts[0].error == storable_text(huge)
    waiting = authorized.enqueue(outgoing(to="r2@example.org"))
    assert authorized.hold_due(clock.now() + 60, huge, 421, 10)  # a hold's reason quotes the relay too
    assert authorized.get_message(waiting).summary.last_reply == storable_text(huge)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000), st.text(max_size=3000))
def test_stored_text_is_encodable_bounded_and_unchanged_when_already_short_and_valid(raw: bytes, text: str) -> None:
    decoded = raw.decode("utf-8", "surrogateescape") + text
    stored = storable_text(decoded)
    stored.encode("utf-8")
    assert len(stored) <= MAX_CHARS + 64
    if len(decoded) <= MAX_CHARS and escape_surrogates(decoded) == decoded:
        assert stored == decoded
    else:
        assert stored.startswith(escape_surrogates(decoded)[:MAX_CHARS])
