"""``mailgui bounces fetch``: read the bounce mailbox (``bounces.imap.*``) once, record what it holds, print it.

One line a report, stable (scripts read it): ``<kind>  message <id>|unmatched  <address> <reason> <status>; ...``,
with ``(recorded before)`` at the end for a report this queue had already. ``--json`` prints one object a line.
A connection or login failure is one error line (``mailgui: bounces.imap....: ...``) and exit status 1."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from mailgui.cli_reports import report_json
from mailgui.delivery.imap_reader import fetch_once
from mailgui.queue import QueueBackend, ReceivedReport
from mailgui.settings import Settings


def add_fetch_parser(bounces: argparse._SubParsersAction[Any]) -> None:
    bf = bounces.add_parser(
        "fetch", help="read the bounce mailbox (bounces.imap.*) once: record and file the reports it holds"
    )
    bf.add_argument("--json", action="store_true", help="one JSON object per report")


def fetched_line(r: ReceivedReport) -> str:
    about = "unmatched" if r.message_id is None else f"message {r.message_id}"
    recipients = "; ".join(f"{x.address} {x.reason} {x.status or '-'}" for x in r.recipients) or "-"
    return f"{r.kind}  {about}  {recipients}" + ("  (recorded before)" if r.duplicate else "")


def fetch_reports(queue: QueueBackend, *, as_json: bool) -> int:
    for r in asyncio.run(fetch_once(queue, Settings(queue))):
        print(json.dumps(report_json(r), ensure_ascii=False) if as_json else fetched_line(r))
    return 0
