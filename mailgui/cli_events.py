"""``mailgui events [--follow] [--since ID] [--json]``: the per-recipient event stream on the command line, one
event a line, resumable from an id; ``--follow`` keeps printing what happens, also when another process (the app,
a headless worker) is delivering. Output is English and stable: scripts parse it."""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime

from mailgui.errors import Error
from mailgui.queue import Event, QueueBackend

FOLLOW_POLL_SECONDS = 0.5  # how often --follow looks for new events (a cheap indexed read)


def add_parser(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser("events", help="every recipient's state changes, in order (one a line)")
    e.add_argument("--since", type=int, default=0, metavar="ID", help="only events after this id")
    e.add_argument("--follow", action="store_true", help="keep printing new events until interrupted")
    e.add_argument("--json", action="store_true", help="one JSON object a line")


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def _line(e: Event) -> str:
    detail = " ".join(x for x in (str(e.code) if e.code is not None else "", e.reason or "", e.text or "") if x)
    return f"{e.id} {_iso(e.at)} {e.kind} #{e.message_id} {e.recipient}" + (f"  {detail}" if detail else "")


def events(queue: QueueBackend, a: argparse.Namespace) -> int:
    if a.since < 0:
        raise Error(f"since: {a.since} is not valid: expected an event id, 0 or more")
    after = a.since
    while True:
        batch = queue.events_after(after, 1000)
        for e in batch:
            print(json.dumps(e.as_json(), ensure_ascii=False) if a.json else _line(e), flush=a.follow)
            after = e.id
        if len(batch) == 1000:
            continue
        if not a.follow:
            return 0
        time.sleep(FOLLOW_POLL_SECONDS)
