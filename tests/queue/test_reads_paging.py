"""Reads the queue table's model relies on: counting newer than an id, and bulk enqueue for benches."""

from __future__ import annotations

import pytest

from mailgui.errors import InvalidSenderError
from mailgui.queue.bulk import enqueue_many
from tests.queue.helpers import outgoing


def test_count_after_id_is_the_row_of_that_message_newest_first(authorized):
    ids = [authorized.enqueue(outgoing(subject=f"m{i}")) for i in range(10)]
    authorized.cancel(ids[4])
    newest_first = [s.id for s in authorized.list_messages(limit=100)]
    for mid in ids:
        assert authorized.count_messages(after_id=mid) == newest_first.index(mid)
    assert authorized.count_messages("cancelled", after_id=ids[0]) == 1
    assert authorized.count_messages("queued", search="m9", after_id=ids[0]) == 1
    assert authorized.count_messages(after_id=ids[-1]) == 0
    for mid in ids:
        assert authorized.count_messages(before_id=mid) == len(newest_first) - 1 - newest_first.index(mid)
    assert authorized.count_messages(after_id=ids[2], before_id=ids[6]) == 3


def test_enqueue_many_stores_every_message_like_enqueue(authorized, clock):
    n = enqueue_many(
        authorized, (outgoing(subject=f"bulk {i}", to=["a@example.org", "b@example.org"]) for i in range(50))
    )
    assert n == 50
    assert authorized.count_messages("queued") == 50
    newest = authorized.list_messages(limit=1)[0]
    assert newest.subject == "bulk 49"
    assert [r.address for r in newest.recipients] == ["a@example.org", "b@example.org"]
    assert len(authorized.claim_due("w", 100, 60)) == 50


def test_enqueue_many_spreads_creation_times_and_refuses_unauthorized_senders(authorized, clock):
    enqueue_many(authorized, [outgoing(subject="old"), outgoing(subject="older")], created_at=[1000.0, 2000.0])
    assert sorted(s.created_at for s in authorized.list_messages()) == [1000.0, 2000.0]
    with pytest.raises(InvalidSenderError, match=r"sender: 'eve@evil\.example'"):
        enqueue_many(authorized, [outgoing(subject="ok"), outgoing(sender="eve@evil.example")])
    assert authorized.count_messages() == 2  # nothing of the refused batch was stored


def test_message_ids_lists_every_match_newest_first(authorized):
    ids = [authorized.enqueue(outgoing(subject=f"topic {i % 3}", to=f"r{i}@example.org")) for i in range(12)]
    authorized.cancel(ids[3])
    assert authorized.message_ids() == ids[::-1]
    assert authorized.message_ids(search="topic 1") == [i for n, i in enumerate(ids) if n % 3 == 1][::-1]
    assert authorized.message_ids(search="R7@EXAMPLE") == [ids[7]]
    assert authorized.message_ids("cancelled") == [ids[3]]
    assert authorized.message_ids(search="topic", after_id=ids[8], before_id=ids[11]) == [ids[10], ids[9]]
    assert authorized.message_ids(search="100%_") == []  # LIKE wildcards are matched literally
