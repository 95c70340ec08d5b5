"""How many messages per second ``mail.send_mail`` queues, in a loop, on a real queue file.

    .venv/bin/python bench/enqueue.py            # 5,000 messages, the queue's own settings (WAL, synchronous=FULL)
    .venv/bin/python bench/enqueue.py -n 20000 --dir /var/tmp
    .venv/bin/python bench/enqueue.py --synchronous NORMAL   # for comparison only; mailgui itself uses FULL

Each call validates the fields, builds the MIME message and commits it to the queue (the call returns only
once the transaction is committed). Prints messages per second, time per call, and the SQLite settings in use.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mailgui import mail
from mailgui.queue import Queue

SYNC_NAMES = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-n", type=int, default=5000, help="messages to send (default 5000)")
    p.add_argument("--dir", type=Path, default=None, help="directory for the queue file (default: a temp dir)")
    p.add_argument(
        "--synchronous",
        choices=["FULL", "NORMAL"],
        default=None,
        help="override the queue's synchronous level for this run (comparison only)",
    )
    a = p.parse_args()

    with tempfile.TemporaryDirectory(dir=a.dir, prefix="mailgui-bench-") as tmp:
        db = Path(tmp) / "queue.sqlite3"
        os.environ["MAILGUI_DB"] = str(db)
        with Queue(db) as setup:
            setup.add_sender("@example.com")
        queue = mail.open_queue()  # the connection send_mail will use
        if a.synchronous:
            queue.conn.execute(f"PRAGMA synchronous = {a.synchronous}")
        sync = SYNC_NAMES[queue.conn.execute("PRAGMA synchronous").fetchone()[0]]
        journal = queue.conn.execute("PRAGMA journal_mode").fetchone()[0]

        # Warm up (imports, caches, first pages of the file), then measure.
        for i in range(50):
            mail.send_mail("Ann <ann@example.com>", "Bob <bob@example.org>", f"warm-up {i}", "body")
        per_call: list[float] = []
        start = time.perf_counter()
        for i in range(a.n):
            t0 = time.perf_counter()
            mail.send_mail(
                "Ann Example <ann@example.com>",
                "Bob Example <bob@example.org>, carol@example.org",
                f"Invoice {i} for October",
                f"Hello Bob,\n\nplease find invoice {i} below.\n\nThanks,\nAnn\n",
            )
            per_call.append(time.perf_counter() - t0)
        elapsed = time.perf_counter() - start
        assert queue.count_messages() == a.n + 50

        per_call.sort()
        print(f"queue file:      {db} ({db.stat().st_size / 1e6:.1f} MB)")
        print(f"sqlite:          {sys.modules['sqlite3'].sqlite_version}, journal_mode={journal}, synchronous={sync}")
        print(f"messages:        {a.n}")
        print(f"elapsed:         {elapsed:.2f} s")
        print(f"messages/second: {a.n / elapsed:,.0f}")
        print(
            f"per call:        mean {elapsed / a.n * 1e3:.3f} ms, median {statistics.median(per_call) * 1e3:.3f} ms,"
            f" p99 {per_call[int(len(per_call) * 0.99)] * 1e3:.3f} ms"
        )


if __name__ == "__main__":
    main()
