"""Read queries: keyset paging, filters, search, counts, details, bounces, change detection."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailgui.bounces import parse_report
from mailgui.clock import FakeClock
from mailgui.errors import UnknownMessageError
from mailgui.queue import Attempt, Queue, RecipientResult
from tests.reports import arf, dsn

from .helpers import outgoing


def fill(q: Queue, n: int) -> list[int]:
    return [q.enqueue(outgoing(subject=f"message {i}", to=f"r{i}@example.org")) for i in range(n)]


def test_keyset_paging_newest_first_gives_every_row_once(authorized: Queue) -> None:
    ids = fill(authorized, 53)
    seen: list[int] = []
    before = None
    while page := authorized.list_messages(limit=10, before_id=before):
        assert len(page) <= 10
        seen.extend(m.id for m in page)
        before = page[-1].id
    assert seen == sorted(ids, reverse=True)


def test_keyset_paging_oldest_first_with_after_id(authorized: Queue) -> None:
    ids = fill(authorized, 25)
    seen: list[int] = []
    after = None
    while page := authorized.list_messages(limit=7, after_id=after, newest_first=False):
        seen.extend(m.id for m in page)
        after = page[-1].id
    assert seen == ids


def test_offset_jumps_to_a_row(authorized: Queue) -> None:
    ids = fill(authorized, 10)
    assert [m.id for m in authorized.list_messages(limit=2, offset=3)] == sorted(ids, reverse=True)[3:5]


def test_filter_by_one_or_several_statuses_and_count(authorized: Queue, clock: FakeClock) -> None:
    ids = fill(authorized, 6)
    authorized.cancel(ids[0])
    authorized.cancel(ids[1])
    claimed = authorized.claim_due("w", 1, 60)
    assert [m.id for m in claimed] == [ids[2]]
    assert [m.id for m in authorized.list_messages("cancelled")] == [ids[1], ids[0]]
    assert {m.id for m in authorized.list_messages(["queued", "sending"])} == set(ids[2:])
    assert authorized.counts_by_status() == {"cancelled": 2, "sending": 1, "queued": 3}
    assert authorized.count_messages("queued") == 3
    assert authorized.count_messages(["queued", "cancelled"]) == 5
    assert authorized.count_messages() == 6


def test_search_by_recipient_sender_or_subject_with_like_characters_taken_literally(authorized: Queue) -> None:
    a = authorized.enqueue(outgoing(subject="Invoice 100% paid", to="carol@example.org"))
    b = authorized.enqueue(outgoing(subject="Lunch", to="dave_x@example.org", cc="erin@example.net"))
    c = authorized.enqueue(outgoing(sender="zed@example.com", subject="Other", to="frank@example.org"))
    assert [m.id for m in authorized.list_messages(search="carol")] == [a]
    assert [m.id for m in authorized.list_messages(search="erin@example.net")] == [b]  # a cc recipient
    assert [m.id for m in authorized.list_messages(search="zed@")] == [c]
    assert [m.id for m in authorized.list_messages(search="100%")] == [a]
    assert authorized.list_messages(search="0%p") == []  # % is not a wildcard
    assert [m.id for m in authorized.list_messages(search="dave_x")] == [b]
    assert authorized.list_messages(search="dave_y") == []
    assert [m.id for m in authorized.list_messages(search="INVOICE")] == [a]  # case-insensitive
    assert authorized.count_messages(search="example.org") == 3
    assert authorized.count_messages("cancelled", search="carol") == 0


def test_summaries_carry_recipients_and_can_be_refreshed_by_id(authorized: Queue) -> None:
    ids = fill(authorized, 3)
    got = authorized.get_summaries([ids[2], ids[0]])
    assert [m.id for m in got] == [ids[0], ids[2]]
    assert [r.address for r in got[0].recipients] == ["r0@example.org"]
    assert authorized.get_summaries([]) == []


def test_get_message_has_raw_attempts_and_reports(authorized: Queue, clock: FakeClock) -> None:
    msg = outgoing(to="a@example.org")
    mid = authorized.enqueue(msg)
    authorized.claim_due("w", 1, 60)
    authorized.record_attempt(
        mid,
        "w",
        Attempt(clock.now(), 2.0, "relay", (RecipientResult("a@example.org", "failed", 550, "no"),)),
        retry_at=None,
    )
    report = authorized.enqueue_report(
        parent_id=mid, message_id="<r@x>", recipient="ann@example.com", subject="Undelivered", raw=b"r"
    )
    d = authorized.get_message(mid)
    assert d.raw == msg.raw
    assert [(a.relay, a.results[0].code) for a in d.attempts] == [("relay", 550)]
    assert d.report_ids == (report,)
    with pytest.raises(UnknownMessageError, match=r"^id: no message 9999 in the queue"):
        authorized.get_message(9999)


def test_list_bounces_gives_failed_recipients_of_ordinary_messages_newest_first(
    authorized: Queue, clock: FakeClock
) -> None:
    first = authorized.enqueue(outgoing(subject="one", to="a@example.org, ok@example.org"))
    second = authorized.enqueue(outgoing(subject="two", to="b@example.org"))
    for mid, results in (
        (
            first,
            (
                RecipientResult("a@example.org", "failed", 550, "no such user"),
                RecipientResult("ok@example.org", "delivered", 250, "ok"),
            ),
        ),
        (second, (RecipientResult("b@example.org", "pending", 451, "later"),)),
    ):
        authorized.claim_due("w", 1, 60)
        authorized.record_attempt(mid, "w", Attempt(clock.now(), 1, "r", results), retry_at=None)
        clock.advance(10)
    report = authorized.enqueue_report(
        parent_id=first, message_id="<r@x>", recipient="ann@example.com", subject="Undelivered", raw=b"r"
    )
    authorized.claim_due("w", 1, 60)
    authorized.record_attempt(
        report, "w", Attempt(clock.now(), 1, "r", (RecipientResult("ann@example.com", "failed", 550, "x"),)), None
    )
    bounces = authorized.list_bounces()
    assert [(b.message_id, b.address, b.status, b.code, b.subject) for b in bounces] == [
        (second, "b@example.org", "expired", 451, "two"),
        (first, "a@example.org", "failed", 550, "one"),
    ]
    assert bounces[1].sender == "ann@example.com"
    assert authorized.count_bounces() == 2
    assert [b.address for b in authorized.list_bounces(limit=1, offset=1)] == ["a@example.org"]


def test_data_version_changes_when_another_connection_commits(authorized: Queue, db_path: Path) -> None:
    before = authorized.data_version()
    assert authorized.data_version() == before
    with Queue(db_path) as other:
        other.enqueue(outgoing())
    assert authorized.data_version() != before


def test_count_deferred_since_counts_messages_deferred_by_an_attempt_after_the_mark(
    authorized: Queue, clock: FakeClock
) -> None:
    def attempt(mid: int, status: str, code: int) -> None:
        [claimed] = authorized.claim_due("w", 1, 60)
        assert claimed.id == mid
        result = RecipientResult("bob@example.org", status, code, "reply")
        retry = clock.now() + 600 if status == "pending" else None
        authorized.record_attempt(mid, "w", Attempt(clock.now(), 1.0, "relay", (result,)), retry_at=retry)

    first = authorized.enqueue(outgoing(to="bob@example.org"))
    attempt(first, "pending", 451)
    assert authorized.count_deferred_since(0) == 1
    mark = clock.now() + 1.0  # the attempt ended then: seen up to here
    assert authorized.count_deferred_since(mark) == 0
    clock.advance(700)
    attempt(first, "pending", 451)  # deferred again after the mark: new again
    assert authorized.count_deferred_since(mark) == 1
    clock.advance(700)
    attempt(first, "sent", 250)  # no longer deferred
    assert authorized.count_deferred_since(0) == 0


def test_bounces_say_which_came_by_report_with_its_class_and_id(authorized: Queue, clock: FakeClock) -> None:
    mid = authorized.enqueue(outgoing(to=["late@example.org", "now@example.org"]))
    assert [c.id for c in authorized.claim_due("w", 10, 60)] == [mid]
    results = (
        RecipientResult("late@example.org", "delivered", 250, "2.0.0 Ok"),
        RecipientResult("now@example.org", "failed", 550, "5.1.1 no such user"),
    )
    authorized.record_attempt(mid, "w", Attempt(clock.now(), 0.1, "relay:25", results), None)
    message_id = authorized.get_message(mid).summary.message_id
    clock.advance(60)
    raw = dsn(message_id, [("late@example.org", "5.2.2", "552 5.2.2 mailbox full")])
    report = authorized.record_report(raw, parse_report(raw), "test")

    late, now = authorized.list_bounces()
    assert (late.address, late.reason, late.report_id) == ("late@example.org", "mailbox_full", report.id)
    assert (now.address, now.reason, now.report_id) == ("now@example.org", None, None)
    late_recipient = next(r for r in authorized.get_message(mid).summary.recipients if r.address == late.address)
    assert (late_recipient.reason, late_recipient.report_id) == ("mailbox_full", report.id)

    assert authorized.count_reports() == 1 and authorized.count_reports(unmatched=True) == 0
    complaint = arf("<not-ours@elsewhere.example>", "x@example.org")
    authorized.record_report(complaint, parse_report(complaint), "test")
    assert authorized.count_reports(kind="complaint") == 1
    assert authorized.count_reports(unmatched=True) == 1
    assert authorized.count_reports(unmatched=True, kind="bounce") == 0
