"""A message's bytes are written once: claiming it and recording its attempts rewrite only its small row."""

from __future__ import annotations

from pathlib import Path

from mailgui.clock import FakeClock
from mailgui.message import MessageFields, build_message
from mailgui.queue import Attempt, Queue, RecipientResult, Status


def test_claims_and_attempts_do_not_rewrite_a_large_message(authorized: Queue, clock: FakeClock, db_path: Path) -> None:
    body = ("x" * 70 + "\n") * 15_000  # about 1 MB
    msg = build_message(MessageFields(sender="ann@example.com", to="bob@example.org", subject="s", body=body), now=0)
    mid = authorized.enqueue(msg)
    authorized.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    wal = Path(f"{db_path}-wal")
    assert wal.stat().st_size == 0
    for _ in range(3):  # three attempts, each a claim and a record: six rewrites of the message's row
        [claimed] = authorized.claim_due("w", 1, 60)
        assert claimed.raw == msg.raw
        results = (RecipientResult("bob@example.org", "pending", 451, "451 try later"),)
        authorized.record_attempts("w", [(claimed, Attempt(clock.now(), 0.1, "relay", results), clock.now() + 300)])
        clock.advance(300)
    assert authorized.get_message(mid).summary.status == Status.DEFERRED
    # With the bytes inline every rewrite logged most of the 1 MB again (over 3 MB here); now a few pages each.
    assert wal.stat().st_size < 200_000, wal.stat().st_size
    assert authorized.get_message(mid).raw == msg.raw
