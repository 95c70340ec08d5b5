"""Holding mail for a backed-off relay, at scale: Queue.hold_due and Queue.release_held on N queued messages.

    .venv/bin/python bench/hold.py                # N = 1,000,000
    .venv/bin/python bench/hold.py -n 200000

When the relay fails, the worker defers every message due before the relay's next try to that time, in
batches of HOLD_BATCH on its queue thread (never in the event loop). This prints the total time for N
messages, the longest single batch (how long one write transaction holds the file's lock, so how long a GUI
or a ``send_mail`` waits at worst), the cost of a second pass in the same backoff spell (nothing to do), and
the same figures for releasing the holds (a worker starting fresh).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.fill import queue_copies
from mailgui.clock import FakeClock
from mailgui.delivery.hold import HELD, HOLD_BATCH
from mailgui.queue import Queue


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1_000_000, help="queued messages (default 1,000,000)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        clock = FakeClock()
        with Queue(Path(tmp) / "q.sqlite3", clock=clock) as q:
            t = time.perf_counter()
            queue_copies(q, args.n, clock)
            print(f"queued {args.n:,} messages in {time.perf_counter() - t:.1f} s (not part of the figures)")

            reason = HELD + "cannot connect to smtp.example.com:587: Connection refused"
            until = clock.now() + 30
            total, longest, batches = 0.0, 0.0, 0
            while True:
                t = time.perf_counter()
                held = q.hold_due(until, reason, None, HOLD_BATCH)
                took = time.perf_counter() - t
                total, longest, batches = total + took, max(longest, took), batches + 1
                if len(held) < HOLD_BATCH:
                    break
            print(
                f"hold_due:     {args.n:,} held in {batches:,} batches of {HOLD_BATCH}: {total:.2f} s in all,"
                f" longest batch {longest * 1000:.1f} ms"
            )
            t = time.perf_counter()
            again = q.hold_due(until, reason, None, HOLD_BATCH)
            print(f"second pass in the same spell: {len(again)} rows, {(time.perf_counter() - t) * 1000:.2f} ms")

            total, longest, released = 0.0, 0.0, 0
            while True:
                t = time.perf_counter()
                ids = q.release_held(HELD, HOLD_BATCH)
                took = time.perf_counter() - t
                total, longest, released = total + took, max(longest, took), released + len(ids)
                if len(ids) < HOLD_BATCH:
                    break
            print(f"release_held: {released:,} released: {total:.2f} s in all, longest batch {longest * 1000:.1f} ms")


if __name__ == "__main__":
    main()
