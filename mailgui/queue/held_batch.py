"""A batch of attempts on messages the worker holds, written with a few statements instead of a few per message.

Why: the worker writes on a thread of its own, and ``sqlite3`` lets go of the GIL around every statement and every
row it steps. Each let-go hands the GIL to the event loop and each take-back waits for it, so a write of three or
four statements a message cost the loop far more than the SQL did (its ``recv`` calls took 18 µs instead of 1.5,
waiting for the GIL). Rows go in as multi-row ``VALUES`` with bound parameters (so times stay exact floats; SQLite
before 3.43 may round a number read from JSON text), in chunks of fixed sizes so the statements stay cached.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Iterator, Sequence

from mailgui.queue.records import (
    FAILING,
    Attempt,
    AttemptOutcome,
    ClaimedMessage,
    Recipient,
    RecipientStatus,
    Status,
)

_SIZES = (64, 32, 16, 8, 4, 2, 1)  # chunk sizes: a batch of 45 rows is 4 statements (32 + 8 + 4 + 1)

_MESSAGES = """WITH j(id, status, next_at, code, reply) AS (VALUES {values})
    UPDATE messages SET status = j.status, attempts = attempts + 1, next_attempt_at = j.next_at,
           lease_owner = NULL, lease_expires_at = NULL, last_code = j.code, last_reply = j.reply, updated_at = ?
      FROM j WHERE messages.id = j.id AND messages.status = 'sending' AND messages.lease_owner = ?"""
_ATTEMPTS = "INSERT INTO attempts(message_id, started_at, duration, relay, error, detail) VALUES {values}"
_RECIPIENTS = """WITH j(message_id, address, status, code, reply) AS (VALUES {values})
    UPDATE recipients SET status = j.status, code = j.code, reply = j.reply, updated_at = ?
      FROM j WHERE recipients.message_id = j.message_id AND recipients.address = j.address
       AND recipients.status = 'pending'"""
_HELD = """SELECT count(*) FROM messages WHERE id IN (SELECT value FROM json_each(?))
            AND status = 'sending' AND lease_owner = ?"""


def settle(msg: ClaimedMessage, attempt: Attempt, retry_at: float | None) -> tuple[str, tuple[str, ...]]:
    """The message's new status and the recipients left pending, from the claim's view of them (fixed while the
    lease is held) and this attempt's results. ``retry_at=None``: the lifetime is over, nothing stays pending."""
    results = {r.address: r.status for r in attempt.results}
    if retry_at is None:
        pending: tuple[str, ...] = ()
        failed = msg.failed_before or any(s != RecipientStatus.DELIVERED for s in results.values())
        failed = failed or any(a not in results for a in msg.recipients)
    else:
        pending = tuple(a for a in msg.recipients if results.get(a, RecipientStatus.PENDING) == RecipientStatus.PENDING)
        failed = msg.failed_before or any(s in FAILING for s in results.values())
    return message_status(pending, failed), pending


def message_status(pending: tuple[str, ...], failed: bool) -> str:
    if pending:
        return Status.DEFERRED
    return Status.BOUNCED if failed else Status.SENT


def last_reply(attempt: Attempt) -> tuple[int | None, str | None]:
    """The code and reply shown for the message: the whole attempt's error, else the first refusal, else the first reply."""
    if attempt.error:
        failing = [r for r in attempt.results if r.code is None or r.code >= 400]
        return (failing[0].code if failing else None), attempt.error
    for r in attempt.results:
        if r.code is not None and r.code >= 400:
            return r.code, r.reply
    if attempt.results:
        return attempt.results[0].code, attempt.results[0].reply
    return None, None


def attempt_detail(attempt: Attempt) -> str:
    return json.dumps([r.__dict__ for r in attempt.results])


def record_held(
    c: sqlite3.Connection,
    owner: str,
    items: Sequence[tuple[int | ClaimedMessage, Attempt, float | None]],
    now: float,
) -> dict[int, AttemptOutcome]:
    """Record, inside the caller's transaction, the items this owner still holds the lease on and that name their
    ClaimedMessage with a retry time; returns their outcomes by index. The rest (a message named by id, a lifetime
    that is over, a lease that was lost) are left to the caller's per-message path, which also says what went
    wrong. If any lease was lost, none is written here: the per-message path sorts them out."""
    picked = [
        (i, m, a, r)
        for i, (m, a, r) in enumerate(items)
        if isinstance(m, ClaimedMessage) and r is not None and len({x.address for x in a.results}) == len(a.results)
    ]
    ids = [m.id for _, m, _, _ in picked]
    if not picked or len(set(ids)) != len(ids):
        return {}
    if c.execute(_HELD, (json.dumps(ids), owner)).fetchone()[0] != len(ids):
        return {}
    outcomes: dict[int, AttemptOutcome] = {}
    messages: list[tuple[object, ...]] = []
    attempts: list[tuple[object, ...]] = []
    settled: list[tuple[object, ...]] = []
    failing: list[tuple[object, ...]] = []
    for index, msg, attempt, retry_at in picked:
        status, pending = settle(msg, attempt, retry_at)
        code, reply = last_reply(attempt)
        messages.append((msg.id, status, retry_at if pending else now, code, reply))
        attempts.append(
            (msg.id, attempt.started_at, attempt.duration, attempt.relay, attempt.error, attempt_detail(attempt))
        )
        for r in attempt.results:
            row = (msg.id, r.address, r.status, r.code, r.reply)
            (failing if r.status in FAILING else settled).append(row)
        outcomes[index] = AttemptOutcome(status=status, newly_failed=(), pending=pending)
    for chunk in _chunks(messages):
        c.execute(_sql(_MESSAGES, 5, len(chunk)), (*_flat(chunk), now, owner))
    for chunk in _chunks(attempts):
        c.execute(_sql(_ATTEMPTS, 6, len(chunk)), _flat(chunk))
    for chunk in _chunks(settled):
        c.execute(_sql(_RECIPIENTS, 5, len(chunk)), (*_flat(chunk), now))
    kinds: dict[tuple[int, str], str] = {}
    for chunk in _chunks(failing):
        # Only a recipient that was pending until now is newly failed (not one reported twice).
        sql = _sql(_RECIPIENTS + " RETURNING recipients.message_id, recipients.address, recipients.kind", 5, len(chunk))
        kinds.update(((mid, address), kind) for mid, address, kind in c.execute(sql, (*_flat(chunk), now)))
    if kinds:
        for index, msg, attempt, _ in picked:
            newly = tuple(
                Recipient(r.address, kinds[msg.id, r.address], r.status, r.code, r.reply, now)
                for r in attempt.results
                if (msg.id, r.address) in kinds
            )
            if newly:
                outcomes[index] = AttemptOutcome(outcomes[index].status, newly, outcomes[index].pending)
    return outcomes


def _chunks(rows: list[tuple[object, ...]]) -> Iterator[list[tuple[object, ...]]]:
    start = 0
    while start < len(rows):
        size = next(s for s in _SIZES if s <= len(rows) - start)
        yield rows[start : start + size]
        start += size


def _flat(rows: list[tuple[object, ...]]) -> list[object]:
    return [value for row in rows for value in row]


@functools.cache
def _sql(template: str, width: int, count: int) -> str:
    row = "(" + ",".join("?" * width) + ")"
    return template.format(values=",".join([row] * count))
