"""The queue thread's cost of one message: its claim and its attempt record, by message size.

    .venv/bin/python bench/record.py                   # 500 B, 100 KB and 1 MB bodies
    .venv/bin/python bench/record.py --size 1000000 -n 40
    .venv/bin/python bench/record.py --size 500 --batch 5 --batch 10 --batch 30 --batch 100

Queues N messages with a body of SIZE bytes, then claims and records them in batches (default 10; one
transaction each, as the worker's recorder does: ``Queue.record_and_claim``), and prints the CPU time of that
work per message and how much it wrote to the WAL.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mailgui.clock import SystemClock
from mailgui.message import MessageFields, build_message
from mailgui.queue import Attempt, Queue, RecipientResult
from mailgui.queue.bulk import enqueue_many


def measure(size: int, n: int, batch: int) -> None:
    body = ("x" * 70 + "\n") * max(1, size // 71)
    now = time.time()
    messages = [
        build_message(MessageFields(sender="ann@example.com", to=f"u{i}@example.org", subject="s", body=body), now=now)
        for i in range(n)
    ]
    with tempfile.TemporaryDirectory(prefix="mailgui-bench-") as tmp:
        path = Path(tmp) / "q.sqlite3"
        with Queue(path, clock=SystemClock()) as q:
            q.add_sender("@example.com")
            enqueue_many(q, messages)
            q.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            cpu0 = time.thread_time()
            done = 0
            claimed = q.claim_due("w", batch, 300)
            while claimed:
                group, claimed = claimed[:batch], claimed[batch:]
                items = [
                    (
                        m,
                        Attempt(
                            time.time(),
                            0.01,
                            "relay",
                            tuple(RecipientResult(a, "delivered", 250, "250 ok") for a in m.recipients),
                        ),
                        time.time(),
                    )
                    for m in group
                ]
                _, more = q.record_and_claim("w", items, None, claim=batch, lease_seconds=300)
                claimed += more
                done += len(group)
            cpu = time.thread_time() - cpu0
            wal = Path(f"{path}-wal").stat().st_size
    print(
        f"body {size:>9,} B, batches of {batch:>3}: {cpu / done * 1e3:7.3f} ms CPU a message, "
        f"WAL {wal / 1e6:5.1f} MB for {done} messages"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, action="append", help="body size in bytes (repeatable)")
    p.add_argument("-n", type=int, default=None, help="messages (default: 300, 40 for 1 MB and more)")
    p.add_argument("--batch", type=int, action="append", help="messages a transaction (repeatable; default 10)")
    a = p.parse_args()
    for size in a.size or [500, 100_000, 1_000_000]:
        for batch in a.batch or [10]:
            measure(size, a.n or (40 if size >= 1_000_000 else 300), batch)


if __name__ == "__main__":
    main()
