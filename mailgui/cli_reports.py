"""``mailgui bounces read|reports`` and ``mailgui suppressions``: reports received later and the suppression list,
on the command line. Output is English and stable (scripts parse it); ``--json`` prints one object a line."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from mailgui.addresses import check_email_valid, check_header_text
from mailgui.bounces import parse_report
from mailgui.errors import Error
from mailgui.queue import QueueBackend, ReceivedReport, Suppression


def add_parsers(bounces: argparse._SubParsersAction, sub: argparse._SubParsersAction) -> None:
    """Add ``bounces read``, ``bounces reports`` (under ``bounces``) and ``suppressions`` (under the top level)."""
    br = bounces.add_parser("read", help="record report files (bounces, complaints, ...) in the queue, matched to mail")
    br.add_argument("--json", action="store_true", help="one JSON object per file, in the order given")
    br.add_argument("files", nargs="+", type=Path, metavar="FILE")
    bl = bounces.add_parser("reports", help="list the reports received, newest first")
    bl.add_argument("--unmatched", action="store_true", help="only those about no message of this queue")
    bl.add_argument("--json", action="store_true")
    bl.add_argument("--limit", type=int, default=100)

    s = sub.add_parser("suppressions", help="list, add or lift suppressed addresses (mail to them is not sent)")
    s_sub = s.add_subparsers(dest="action", required=True)
    sl = s_sub.add_parser("list")
    sl.add_argument("--json", action="store_true")
    sl.add_argument("--search", default="", help="only addresses containing this text")
    sa = s_sub.add_parser("add")
    sa.add_argument("address", metavar="ADDR")
    sa.add_argument("--reason", default="added by hand")
    s_sub.add_parser("remove").add_argument("addresses", nargs="+", metavar="ADDR")


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def report_json(r: ReceivedReport) -> dict[str, object]:
    return {
        "id": r.id,
        "received_at": _iso(r.received_at),
        "source": r.source,
        "kind": r.kind,
        "message": r.message_id,
        "original_message_id": r.original_message_id,
        "recipients": [
            {
                "address": x.address,
                "status": x.status,
                "reason": x.reason,
                "diagnostic": x.diagnostic,
                "applied": x.applied,
            }
            for x in r.recipients
        ],
        "duplicate": r.duplicate,
    }


def _report_line(name: str, r: ReceivedReport) -> str:
    about = f"message {r.message_id}" if r.message_id is not None else "unmatched"
    seen = " (seen before: nothing changed)" if r.duplicate else ""
    people = "; ".join(f"{x.address} {x.reason}{'' if x.applied else ' (not applied)'}" for x in r.recipients)
    return f"{name}: {r.kind} about {about}{seen}" + (f": {people}" if people else "")


def read_reports(queue: QueueBackend, files: list[Path], *, as_json: bool) -> int:
    """Record each file as a report received; a file that cannot be read is one line on stderr, the others are
    still recorded, and the exit status is then 1."""
    unreadable = 0
    for path in files:
        name = os.fsencode(path).decode("utf-8", "backslashreplace")
        try:
            raw = path.read_bytes()
        except OSError as exc:
            print(f"mailgui: bounces read: cannot read {name}: {exc.strerror or exc}", file=sys.stderr)
            unreadable += 1
            continue
        got = queue.record_report(raw, parse_report(raw), f"file {name}")
        print(
            json.dumps({"file": name, **report_json(got)}, ensure_ascii=False) if as_json else _report_line(name, got)
        )
    return 1 if unreadable else 0


def list_reports(queue: QueueBackend, a: argparse.Namespace) -> int:
    if a.limit < 1:
        raise Error(f"limit: {a.limit} is not valid: expected 1 or more")
    for r in queue.list_reports(unmatched=a.unmatched, limit=a.limit):
        print(
            json.dumps(report_json(r), ensure_ascii=False)
            if a.json
            else f"#{r.id} {_iso(r.received_at)} " + _report_line(r.source, r)
        )
    return 0


def suppression_json(s: Suppression) -> dict[str, object]:
    return {
        "address": s.address,
        "reason": s.reason,
        "since": _iso(s.added_at),
        "source": s.source,
        "message": s.message_id,
    }


def suppressions(queue: QueueBackend, a: argparse.Namespace) -> int:
    if a.action == "list":
        for s in queue.list_suppressions(a.search):
            print(
                json.dumps(suppression_json(s), ensure_ascii=False)
                if a.json
                else f"{s.address}  {_iso(s.added_at)}  {s.source}  {s.reason}"
            )
    elif a.action == "add":
        check_email_valid(a.address, "address")
        check_header_text(a.reason, "reason")
        address = a.address.strip()
        print(("suppressed " if queue.add_suppression(address, a.reason) else "already suppressed: ") + address)
    else:
        lifted = queue.remove_suppressions([x.strip() for x in a.addresses])
        if not lifted:
            raise Error(f"address: none of {', '.join(a.addresses)} is suppressed")
        print(f"lifted {lifted} suppression{'s' if lifted != 1 else ''}")
    return 0


def warn_suppressed(queue: QueueBackend, recipients: list[str]) -> None:
    """`mailgui send`: a line on stderr for each suppressed recipient (the message is queued all the same)."""
    for address in recipients:
        s = queue.suppression_of(address)
        if s is not None:
            print(
                f"mailgui: warning: {address} is suppressed since {_iso(s.added_at)} ({s.reason}): "
                "mail to it is not sent",
                file=sys.stderr,
            )
