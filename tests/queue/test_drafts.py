"""Compose drafts in the queue file (mailgui/queue/drafts.py): saved, overwritten, listed, survive reopening."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailgui.clock import FakeClock
from mailgui.errors import StorageError, UnknownMessageError
from mailgui.queue import Queue
from mailgui.queue.drafts import DraftFields


def test_a_draft_survives_closing_and_reopening_the_file_with_attachments_intact(db_path: Path) -> None:
    fields = DraftFields(
        sender="ann@example.com",
        to="bob@example.org, bad@",
        subject="Grüße",
        body="half written",
        html="<p>x</p>",
        attachments=[("report.pdf", b"%PDF\x00\xff binary")],
    )
    with Queue(db_path) as q:
        draft_id = q.save_draft(fields)
    with Queue(db_path) as q:
        draft = q.get_draft(draft_id)
    assert draft.fields == fields


def test_saving_again_overwrites_the_same_draft_and_moves_it_to_the_top(queue: Queue, clock: FakeClock) -> None:
    first = queue.save_draft(DraftFields(subject="one"))
    clock.advance(10)
    second = queue.save_draft(DraftFields(subject="two"))
    clock.advance(10)
    assert queue.save_draft(DraftFields(subject="one, edited"), first) == first
    drafts = queue.list_drafts()
    assert [d.id for d in drafts] == [first, second]
    assert drafts[0].fields.subject == "one, edited"
    assert drafts[0].updated_at == clock.now()
    assert drafts[0].created_at == clock.now() - 20
    assert queue.count_drafts() == 2


def test_saving_over_a_deleted_draft_keeps_the_text_in_a_new_one(queue: Queue) -> None:
    draft_id = queue.save_draft(DraftFields(body="a"))
    assert queue.delete_draft(draft_id)
    assert not queue.delete_draft(draft_id)
    new_id = queue.save_draft(DraftFields(body="b"), draft_id)
    assert [d.fields.body for d in queue.list_drafts()] == ["b"]
    assert queue.get_draft(new_id).fields.body == "b"


def test_unknown_draft_is_an_error_naming_it(queue: Queue) -> None:
    with pytest.raises(UnknownMessageError, match="draft: no draft 99"):
        queue.get_draft(99)


def test_an_unreadable_stored_draft_is_reported_as_a_storage_fault(queue: Queue) -> None:
    draft_id = queue.save_draft(DraftFields(body="a"))
    queue.conn.execute("UPDATE drafts SET fields = '{not json' WHERE id = ?", (draft_id,))
    with pytest.raises(StorageError, match=f"draft {draft_id}"):
        queue.list_drafts()


def test_empty_fields_are_empty_but_any_content_is_not() -> None:
    assert DraftFields(sender="ann@example.com").is_empty()
    assert not DraftFields(attachments=[("a.txt", b"")]).is_empty()
    assert DraftFields(html="").is_empty()
    assert not DraftFields(html="<p>").is_empty()
