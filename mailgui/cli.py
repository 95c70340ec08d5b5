"""``mailgui`` on the command line: the GUI by default, and headless verbs over the same queue."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

from mailgui import cli_events, cli_reports, mail
from mailgui.addresses import check_header_text, check_text, normalize_sender_pattern
from mailgui.attachments import Attachment
from mailgui.bounces import parse_report, report_json
from mailgui.cli_imap import add_fetch_parser, fetch_reports
from mailgui.errors import Error
from mailgui.paths import default_db_path
from mailgui.queue import MessageDetail, MessageSummary, SettingsAndSenders, Status
from mailgui.settings import SECRET_KEYS, Settings, clear_password, set_password


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def summary_json(m: MessageSummary) -> dict[str, object]:
    return {
        "id": m.id,
        "message_id": m.message_id,
        "status": m.status,
        "sender": m.sender,
        "subject": m.subject,
        "created_at": iso(m.created_at),
        "attempts": m.attempts,
        "next_attempt_at": iso(m.next_attempt_at) if m.status in (Status.QUEUED, Status.DEFERRED) else None,
        "last_code": m.last_code,
        "last_reply": m.last_reply,
        "kind": m.kind,
        "recipients": [
            {"address": r.address, "kind": r.kind, "status": r.status, "code": r.code, "reply": r.reply}
            for r in m.recipients
        ],
    }


def detail_json(d: MessageDetail) -> dict[str, object]:
    out = summary_json(d.summary)
    out["attempt_log"] = [
        {
            "started_at": iso(a.started_at),
            "duration": round(a.duration, 3),
            "relay": a.relay,
            "error": a.error,
            "recipients": [
                {"address": r.address, "status": r.status, "code": r.code, "reply": r.reply} for r in a.results
            ],
        }
        for a in d.attempts
    ]
    out["reports"] = list(d.report_ids)
    out["raw"] = d.raw.decode("utf-8", "replace")
    return out


class _Parser(argparse.ArgumentParser):
    """Usage mistakes are one line on stderr, like every other error (argparse would add a usage block)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="mailgui", description="Compose mail and manage the outgoing queue.")
    p.add_argument("--db", type=Path, help="queue file (default: $MAILGUI_DB or the user data dir)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    s = sub.add_parser("senders", help="list, add or remove authorized senders")
    s_sub = s.add_subparsers(dest="action", required=True)
    s_sub.add_parser("list")
    s_sub.add_parser("add").add_argument("pattern", metavar="ADDR_OR_@DOMAIN")
    s_sub.add_parser("remove").add_argument("pattern", metavar="ADDR_OR_@DOMAIN")

    c = sub.add_parser("config", help="read and change settings")
    c_sub = c.add_subparsers(dest="action", required=True)
    c_sub.add_parser("list")
    c_sub.add_parser("get").add_argument("key")
    cs = c_sub.add_parser("set")
    cs.add_argument("key")
    cs.add_argument("value", nargs="?")
    cs.add_argument("--stdin", action="store_true", help="read the value from standard input (for secrets)")

    snd = sub.add_parser("send", help="queue a message")
    snd.add_argument("--from", dest="sender", required=True)
    snd.add_argument("--to", action="append", default=[])
    snd.add_argument("--cc", action="append", default=[])
    snd.add_argument("--bcc", action="append", default=[])
    snd.add_argument("--reply-to", action="append", default=[])
    snd.add_argument("--subject", required=True)
    body = snd.add_mutually_exclusive_group(required=True)
    body.add_argument("--body")
    body.add_argument("--body-file", type=Path)
    snd.add_argument("--html-file", type=Path)
    snd.add_argument("--attach", action="append", default=[], type=Path)
    snd.add_argument("--header", action="append", default=[], metavar="NAME:VALUE")

    q = sub.add_parser("queue", help="list the queue")
    q.add_argument("--status", choices=[s.value for s in Status])
    q.add_argument("--search")
    q.add_argument("--limit", type=int, default=1000)
    q.add_argument("--json", action="store_true")

    sh = sub.add_parser("show", help="one message in full")
    sh.add_argument("id", type=int)
    sh.add_argument("--json", action="store_true")
    sub.add_parser("retry", help="retry a message now").add_argument("id", type=int)
    sub.add_parser("cancel", help="cancel a waiting message").add_argument("id", type=int)

    w = sub.add_parser("worker", help="deliver queued mail (headless)")
    w.add_argument("--until-idle", action="store_true", help="exit once nothing is queued, sending or deferred")
    w.add_argument(
        "-v", "--verbose", action="store_true", help="log each recipient's outcome too (the queue's attempt log has it)"
    )
    lr = sub.add_parser("local-relay", help="run the built-in local relay on its own")
    lr.add_argument("--port", type=int, default=2525)

    b = sub.add_parser("bounces", help="read bounce reports")
    b_sub = b.add_subparsers(dest="action", required=True)
    bp = b_sub.add_parser("parse", help="say what message files are (bounce, delay, auto-reply, complaint, other)")
    bp.add_argument("--json", action="store_true", help="one JSON object per file, in the order given")
    bp.add_argument("files", nargs="+", type=Path, metavar="FILE")
    add_fetch_parser(b_sub)
    cli_reports.add_parsers(b_sub, sub)
    cli_events.add_parser(sub)
    return p


def _read(path: Path, field: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise Error(f"{field}: cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise Error(f"{field}: {path} is not UTF-8 text") from None


def _read_bytes(path: Path, field: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise Error(f"{field}: cannot read {path}: {exc.strerror or exc}") from None


def _send(queue_path: Path, a: argparse.Namespace) -> int:
    headers = []
    for h in a.header:
        check_header_text(h, "header")  # before the strip below could hide a trailing line break
        name, sep, value = h.partition(":")
        if not sep:
            raise Error(f"header: {h!r} must be written NAME:VALUE")
        headers.append((name.strip(), value.strip()))
    msg = mail.EmailMessage(
        sender=a.sender,
        subject=a.subject,
        body=a.body if a.body is not None else _read(a.body_file, "body-file"),
    )
    for name in ("to", "cc", "bcc"):
        if getattr(a, name):
            setattr(msg, name, getattr(a, name))
    if a.reply_to:
        msg.reply_to = ", ".join(a.reply_to)  # one string, as App Engine's reply_to is
    if a.html_file:
        msg.html = _read(a.html_file, "html-file")
    if a.attach:
        msg.attachments = [Attachment(p.name, _read_bytes(p, "attach")) for p in a.attach]
    if headers:
        msg.headers = dict(headers)
    queued = msg.send(db=queue_path)
    print(queued)
    queue = mail.open_queue(queue_path)
    cli_reports.warn_suppressed(queue, [r.address for r in queue.get_message(queued).summary.recipients])
    return 0


def _table(rows: list[MessageSummary]) -> str:
    lines = [f"{'ID':>6}  {'STATUS':<9}  {'CREATED':<20}  {'TRIES':>5}  {'FROM':<28}  {'TO':<32}  SUBJECT"]
    for m in rows:
        to = m.recipients[0].address if m.recipients else ""
        if len(m.recipients) > 1:
            to += f" +{len(m.recipients) - 1}"
        lines.append(
            f"{m.id:>6}  {m.status:<9}  {iso(m.created_at) or '':<20}  {m.attempts:>5}  "
            f"{(m.sender or '<>')[:28]:<28}  {to[:32]:<32}  {m.subject[:60]}"
        )
    return "\n".join(lines)


def _refuse_undecodable(a: argparse.Namespace) -> None:
    """Name the option whose text did not decode, before anything stores or prints it.

    Bytes on the command line that are not text in the locale's encoding reach Python as lone surrogates
    (PEP 383). Paths may hold them (a file name can be any bytes); text options cannot.
    """
    for name, value in vars(a).items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                check_text(item, name)


def run(argv: Sequence[str] | None = None) -> int:
    a = _parser().parse_args(argv)
    _refuse_undecodable(a)
    db = a.db or default_db_path()
    if a.command is None:
        from mailgui.gui.shell.app import run_gui

        return run_gui(db)
    if a.command == "worker":
        from mailgui.service import run_worker

        return run_worker(db, until_idle=a.until_idle, verbose=a.verbose)
    if a.command == "local-relay":
        from mailgui.service import run_local_relay

        return run_local_relay(db, port=a.port)
    if a.command == "send":
        return _send(db, a)
    if a.command == "bounces" and a.action == "fetch":
        return fetch_reports(mail.open_queue(db), as_json=a.json)
    if a.command == "bounces" and a.action == "parse":
        return _parse_bounces(a.files, as_json=a.json)
    queue = mail.open_queue(db)
    if a.command == "bounces":
        if a.action == "read":
            return cli_reports.read_reports(queue, a.files, as_json=a.json)
        return cli_reports.list_reports(queue, a)
    if a.command == "suppressions":
        return cli_reports.suppressions(queue, a)
    if a.command == "events":
        return cli_events.events(queue, a)
    if a.command == "senders":
        if a.action == "list":
            for pattern in queue.list_senders():
                print(pattern)
        elif a.action == "add":
            pattern = normalize_sender_pattern(a.pattern)
            print(("added " if queue.add_sender(pattern) else "already authorized: ") + pattern)
        else:
            pattern = a.pattern.strip()
            if not queue.remove_sender(pattern) and not queue.remove_sender(normalize_sender_pattern(pattern)):
                raise Error(f"sender: {a.pattern!r} is not in the authorized list")
            print(f"removed {pattern}")
    elif a.command == "config":
        return _config(queue, a)
    elif a.command == "queue":
        rows = queue.list_messages(a.status, a.search, limit=a.limit)
        if a.json:
            for m in rows:
                print(json.dumps(summary_json(m), ensure_ascii=False))
        else:
            print(_table(rows))
    elif a.command == "show":
        detail = queue.get_message(a.id)
        if a.json:
            print(json.dumps(detail_json(detail), ensure_ascii=False, indent=2))
        else:
            _print_detail(detail)
    elif a.command == "retry":
        queue.requeue(a.id)
        print(f"message {a.id} queued for delivery now")
    elif a.command == "cancel":
        queue.cancel(a.id)
        print(f"message {a.id} cancelled")
    return 0


def _config(queue: SettingsAndSenders, a: argparse.Namespace) -> int:
    settings = Settings(queue)
    if a.action == "list":
        for key, value in settings.all().items():
            print(f"{key} = {value}")
    elif a.action == "get":
        if a.key in SECRET_KEYS:
            raise Error(f"{a.key}: secrets are kept in the OS keyring and are not shown")
        print(settings.get(a.key))
    else:
        if a.stdin:
            value = sys.stdin.readline().rstrip("\r\n")
        elif a.value is None:
            raise Error(f"{a.key}: give a value, or --stdin to read it from standard input")
        else:
            value = a.value
        if a.key in SECRET_KEYS:
            if not a.stdin:
                raise Error(f"{a.key}: pass secrets with --stdin so they stay out of shell history and ps")
            if value:
                set_password(settings, value, a.key)
                print(f"{a.key} stored in the OS keyring")
            elif clear_password(settings, a.key):
                print(f"{a.key} removed from the OS keyring")
            else:
                print(f"{a.key}: none was kept in the OS keyring")
        else:
            print(f"{a.key} = {settings.set(a.key, value)}")
    return 0


def _parse_bounces(files: list[Path], *, as_json: bool) -> int:
    """`mailgui bounces parse`: touches no queue. A file that cannot be read is one line on stderr; the others are
    still parsed, and the exit status is then 1."""
    unreadable = 0
    for path in files:
        name = os.fsencode(path).decode("utf-8", "backslashreplace")  # any file name prints, and as valid JSON
        try:
            data = path.read_bytes()
        except OSError as exc:
            print(f"mailgui: bounces parse: cannot read {name}: {exc.strerror or exc}", file=sys.stderr)
            unreadable += 1
            continue
        report = parse_report(data)
        if as_json:
            print(json.dumps(report_json(name, report), ensure_ascii=False))
            continue
        about = f" (about {report.original_message_id})" if report.original_message_id else ""
        print(f"{name}: {report.kind}{about}")
        for r in report.recipients:
            print(f"  {r.address}  {r.reason}  {r.status or '-'}  {r.diagnostic[:160]}")
    return 1 if unreadable else 0


def _print_detail(d: MessageDetail) -> None:
    m = d.summary
    print(f"Message {m.id}  {m.status}  {m.message_id}")
    print(f"From:    {m.from_header}")
    print(f"Subject: {m.subject}")
    print(f"Created: {iso(m.created_at)}   attempts: {m.attempts}")
    if m.status in (Status.QUEUED, Status.DEFERRED):
        print(f"Next attempt: {iso(m.next_attempt_at)}")
    print("Recipients:")
    for r in m.recipients:
        detail = f" {r.code} {r.reply}" if r.code is not None else ""
        print(f"  {r.status:<9} {r.kind:<3} {r.address}{detail}")
    if d.attempts:
        print("Attempts:")
        for at in d.attempts:
            print(f"  {iso(at.started_at)}  via {at.relay}  {at.duration:.2f}s  {at.error or ''}")
            for r in at.results:
                print(f"    {r.address}: {r.code} {r.reply}")
    print()
    sys.stdout.write(d.raw.decode("utf-8", "replace").replace("\r\n", "\n"))


def main(argv: Sequence[str] | None = None) -> None:
    try:
        code = run(argv)
    except Error as exc:
        print(f"mailgui: {exc}", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        # The reader went away (`mailgui queue | head`): stop quietly, not with a traceback. Point stdout
        # at devnull so the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 1
    sys.exit(code)


if __name__ == "__main__":
    main()
