"""Delay warnings for held mail, at scale: passes of Queue.warn_waiting over N held messages.

    .venv/bin/python bench/held_warnings.py              # N = 1,000,000
    .venv/bin/python bench/held_warnings.py -n 200000

While the relay is down, the worker looks for held mail that has waited ``bounce.delay_warning`` in windows
of WARN_WINDOW ids (at most WARN_BATCH warnings per write), on its queue thread. This prints, for N held
messages: a pass that finds none old enough (only looking), a pass that warns every one (a report built and
queued for each), and a pass after that (all warned), each with its total time and its longest single write
(how long the file's write lock is held at worst, so how long a GUI or a ``send_mail`` may wait).
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
from mailgui.delivery.classify import RelayError, RelayFault
from mailgui.delivery.hold import HELD, HOLD_BATCH, WARN_BATCH, WARN_WINDOW
from mailgui.delivery.reporting import Reporter
from mailgui.queue import ClaimedMessage, Queue
from mailgui.queue.records import NewReport

DELAY = 4 * 3600.0


def one_pass(q: Queue, build, label: str) -> None:  # type: ignore[no-untyped-def]
    after, writes, longest, warned = 0, 0, 0.0, 0
    t = time.perf_counter()
    while True:
        w = time.perf_counter()
        scan = q.warn_waiting(after, WARN_WINDOW, WARN_BATCH, DELAY, build)
        longest = max(longest, time.perf_counter() - w)
        writes += 1
        warned += len(scan.warned)
        after = scan.last_id
        if scan.done:
            break
    total = time.perf_counter() - t
    print(f"{label:<22} {warned:>9,} warned in {writes:,} writes: {total:.2f} s, longest write {longest * 1000:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1_000_000, help="held messages (default 1,000,000)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        clock = FakeClock()
        with Queue(Path(tmp) / "q.sqlite3", clock=clock) as q:
            t = time.perf_counter()
            queue_copies(q, args.n, clock)
            while len(q.hold_due(clock.now() + 30, HELD + "x", None, 50_000)) == 50_000:
                pass
            print(f"queued and held {args.n:,} messages in {time.perf_counter() - t:.1f} s (not part of the figures)")
            print(
                f"WARN_WINDOW {WARN_WINDOW} ids, WARN_BATCH {WARN_BATCH} warnings per write (HOLD_BATCH {HOLD_BATCH})"
            )

            reporter = Reporter("mailgui.bench")
            failure = RelayError(RelayFault.REFUSED, "cannot connect to smtp.example.com:587: Connection refused")

            def build(m: ClaimedMessage, last: float | None) -> NewReport | None:
                r = reporter.held_warning(m, last, failure, now=clock.now(), remote_mta="smtp.example.com")
                return None if r is None else NewReport(r.message_id, r.recipient, r.subject, r.raw, r.smtputf8, True)

            one_pass(q, build, "none old enough:")
            clock.advance(DELAY)
            one_pass(q, build, "warning every one:")
            one_pass(q, build, "all warned already:")


if __name__ == "__main__":
    main()
