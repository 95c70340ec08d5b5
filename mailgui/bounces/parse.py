"""Bytes in, a report out: what a message is (bounce, delay, auto-reply, complaint, other) and, for a report, the
recipients it is about. Pure: no I/O, no logging; never raises on any input (tests fuzz it)."""

from __future__ import annotations

import re
from dataclasses import replace
from email import policy
from email.message import Message
from email.parser import Parser

from mailgui.bounces import fields, plain
from mailgui.bounces.classify import Command, classify, command
from mailgui.bounces.kinds import addresses, looks_like_bounce, says_auto_reply, sender_is_system
from mailgui.bounces.reading import (
    attached_messages,
    content_type,
    header,
    param,
    parse_bytes,
    part_text,
    recovered,
    report_parts,
)
from mailgui.bounces.report import Kind, Reason, Recipient, Report
from mailgui.bounces.ses import read_ses

_DSN_TYPES = ("message/delivery-status", "message/global-delivery-status")
_HEADERS_TYPES = ("text/rfc822-headers", "text/global-headers")
_MESSAGE_ID = re.compile(r"^message-id:[ \t]*(<[^<>\s]+>)", re.IGNORECASE | re.MULTILINE)


def parse_report(data: bytes) -> Report:
    """Read one message (its bytes as received) and say what it is."""
    return _printable(_parse(parse_bytes(data)))


def _parse(msg: Message, nested: bool = False) -> Report:
    parts = list(report_parts(msg))
    texts = [part_text(p) for p in parts if _is_text(p)]
    human = "\n".join(texts)
    original = _original(msg, parts, human)
    message_id = _original_message_id(msg, original, parts, human)

    for part in parts:
        if content_type(part) == "message/feedback-report":
            return _complaint(part, original, message_id)

    blocks = [b for p in parts if content_type(p) in _DSN_TYPES for b in fields.parse_blocks(part_text(p))]
    dsn = fields.recipients(blocks)
    if not dsn and (looks_like_bounce(msg) or param(msg, "report-type").lower() == "delivery-status"):
        dsn = fields.recipients(fields.parse_blocks(human))  # DSN fields sent as text
    if dsn:
        report = _from_dsn(msg, dsn, human, message_id)
        if report is not None:
            return report

    ses = read_ses(human)
    if ses is not None:
        return ses

    if says_auto_reply(msg, strong_only=True):
        return Report(Kind.AUTO_REPLY, (), _in_reply_to(msg))
    if looks_like_bounce(msg):
        forwarded = None if nested else _forwarded_report(msg, human, original)
        if forwarded is not None:
            return forwarded
        recipients = _from_text(msg, human, original)
        if recipients:
            kind = Kind.DELAY if plain.only_delayed(plain.explanation(human)) else Kind.BOUNCE
            return Report(kind, tuple(recipients), message_id)
    if says_auto_reply(msg) and not sender_is_system(msg):  # a bounce we could not read says auto-replied too
        return Report(Kind.AUTO_REPLY, (), _in_reply_to(msg))
    return Report(Kind.OTHER, (), message_id if dsn else None)


def _forwarded_report(msg: Message, human: str, original: Message | None) -> Report | None:
    """A mail system's notice that names nobody and attaches another mail system's bounce (a gateway passing on
    the bounce it got): the attached bounce's report. A person's forward is never read this way."""
    if original is None or not sender_is_system(original):
        return None
    if plain.candidates(plain.explanation(human), _own(msg)):
        return None  # the notice names its own failed addresses
    report = _parse(original, nested=True)
    return report if report.kind in (Kind.BOUNCE, Kind.DELAY) else None


def _is_text(part: Message) -> bool:
    ctype = content_type(part)
    if ctype.startswith("multipart/"):
        payload = part.get_payload()  # its boundary never came, and none can be found: the body as text
        return isinstance(payload, str) and recovered(payload) is None
    return ctype.startswith("text/") and ctype not in _HEADERS_TYPES


def _from_dsn(msg: Message, dsn: list[fields.DsnRecipient], human: str, message_id: str | None) -> Report | None:
    failed = [r for r in dsn if _failed(r)]
    delayed = [r for r in dsn if r.action.startswith("delay") or (not r.action and (r.status or "").startswith("4"))]
    explanation = plain.explanation(human)
    if failed:
        by_text = {f.address.lower(): f for f in plain.scan(explanation, _own(msg))}
        out = []
        for r in failed:
            diagnostic = r.diagnostic
            if not diagnostic and r.address.lower() in by_text:
                diagnostic = by_text[r.address.lower()].diagnostic
            own = by_text[r.address.lower()].diagnostic if r.address.lower() in by_text else ""
            cmd = _command(r.address, [diagnostic, own], explanation, len(failed))
            status, said = fields.quoted_reply(r.status, diagnostic)
            reason = classify(status, said, explanation, cmd)
            if reason is Reason.OTHER and r.status == "4.4.1":
                reason = Reason.EXPIRED  # "no answer from host" until the MTA gave up: its retries ran out
            if r.action.startswith("expire") and reason is not Reason.EXPIRED and not _is_permanent(r.status):
                reason = Reason.EXPIRED  # SendGrid's "Action: expired": its retries ran out, whatever the last try said
            out.append(Recipient(r.address, status, reason, diagnostic or _first_line(explanation), r.remote_mta))
        return Report(Kind.BOUNCE, tuple(_unique(out)), message_id)
    if delayed:
        out = [
            Recipient(r.address, r.status, classify(r.status, r.diagnostic), r.diagnostic, r.remote_mta)
            for r in delayed
        ]
        return Report(Kind.DELAY, tuple(_unique(out)), message_id)
    if any(r.action for r in dsn):
        return Report(Kind.OTHER, (), message_id)  # delivered, relayed or expanded: nothing failed
    return None


def _command(address: str, texts: list[str], explanation: str, recipients: int) -> Command | None:
    """The command a recipient's refusal answered: from a session transcript, its own texts, or the report's
    when it is about that recipient alone."""
    said = plain.transcript_command(explanation, address, alone=recipients == 1)
    if said in ("CONNECT", "DATA", "RCPT", "MAIL"):
        return Command(said.lower())
    for text in texts:
        found = command(text)
        if found is not None:
            return found
    return command(explanation) if recipients == 1 else None


def _is_permanent(status: str | None) -> bool:
    return (status or "").startswith("5")


def _failed(r: fields.DsnRecipient) -> bool:
    # OpenSMTPD writes "error", SendGrid "expired" (not RFC 3464's words, but final all the same)
    if r.action.startswith(("fail", "error", "bounce", "reject", "expire")):
        return True
    return not r.action and (r.status or "").startswith("5")


def _from_text(msg: Message, human: str, original: Message | None) -> list[Recipient]:
    explanation = plain.explanation(human)
    exclude = _own(msg) | {a.lower() for a in addresses(original, "from", "sender", "return-path", "reply-to")}
    found = plain.scan(explanation, exclude)
    if not found:
        # Mail sent to oneself bounces to the failed address: take the sender's own address only where it stands
        # alone on a line, as the failed addresses of a list do.
        alone = {a for a in _own(msg) if plain.stands_alone(explanation, a)}
        found = plain.scan(explanation, exclude - alone) if alone else []
    failed_header = addresses(msg, "x-failed-recipients")
    if failed_header:
        known = {f.address.lower(): f for f in found}
        found = [
            known.get(a.lower()) or plain.Found(a, plain.best_status(explanation), _flat(explanation))
            for a in failed_header
        ]
    if not found:
        # The explanation names nobody (the address is only in the returned message): the original's recipient.
        to = addresses(original, "to")
        if len(to) == 1:
            found = [plain.Found(to[0], plain.best_status(explanation), _flat(explanation))]
    out = [
        Recipient(
            f.address,
            f.status,
            classify(f.status, f.diagnostic, explanation, _command(f.address, [f.diagnostic], explanation, len(found))),
            f.diagnostic[:1000],
        )
        for f in found
    ]
    return _unique(out)


def _complaint(part: Message, original: Message | None, message_id: str | None) -> Report:
    block: dict[str, str] = {}
    for b in fields.parse_blocks(part_text(part)):
        block = {**b, **block}
    feedback = block.get("feedback-type", "abuse").strip().lower() or "abuse"
    rcpts = re.findall(r"^original-rcpt-to:[ \t]*<?([^<>\s]+@[^<>\s]+?)>?\s*$", part_text(part), re.I | re.M)
    if not rcpts:
        rcpts = addresses(original, "to")
    recipients = tuple(Recipient(a, None, Reason.OTHER, f"complaint: {feedback}") for a in rcpts)
    return Report(Kind.COMPLAINT, tuple(_unique(list(recipients))), message_id, feedback)


def _original(msg: Message, parts: list[Message], human: str) -> Message | None:
    """The returned message, or its headers: attached, as a headers part, or pasted below the explanation."""
    for attached in attached_messages(msg):
        return attached
    for part in parts:
        if content_type(part) in _HEADERS_TYPES:
            return _headers(part_text(part))
    rest = human[len(plain.explanation(human)) :]
    start = re.search(r"^[A-Za-z][\w-]*:", rest, re.MULTILINE)
    return _headers(rest[start.start() :]) if start else None


def _headers(text: str) -> Message:
    return Parser(policy=policy.compat32).parsestr(text.lstrip(), headersonly=True)


def _original_message_id(msg: Message, original: Message | None, parts: list[Message], human: str) -> str | None:
    own = header(msg, "message-id")
    candidates = [header(original, "message-id")] if original is not None else []
    candidates += _MESSAGE_ID.findall(human)
    for value in candidates:
        m = re.search(r"<[^<>\s]+>", value)
        if m and m.group(0) != own:
            return m.group(0)
    return None


def _own(msg: Message) -> set[str]:
    """The bounce's own addresses (its sender, and the original sender it is addressed to): never failed ones."""
    return {a.lower() for a in addresses(msg, "from", "to", "cc", "sender", "return-path", "reply-to")}


def _unique(recipients: list[Recipient]) -> list[Recipient]:
    seen: set[str] = set()
    out = []
    for r in recipients:
        if r.address.lower() not in seen:
            seen.add(r.address.lower())
            out.append(r)
    return out


def _flat(text: str) -> str:
    return " ".join(text.split())[:1000]


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")[:1000]


def _in_reply_to(msg: Message) -> str | None:
    """An auto-reply names the message it answers in In-Reply-To (RFC 3834 section 3.1.5)."""
    m = re.search(r"<[^<>\s]+>", header(msg, "in-reply-to"))
    return m.group(0) if m else None


def _printable(report: Report) -> Report:
    """Every text valid Unicode: bytes that were not text reach here as lone surrogates, which no encoder takes."""
    return replace(
        report,
        recipients=tuple(
            replace(
                r,
                address=_text(r.address),
                diagnostic=_text(r.diagnostic),
                status=r.status,
                remote_mta=_text(r.remote_mta) if r.remote_mta is not None else None,
            )
            for r in report.recipients
        ),
        original_message_id=_text(report.original_message_id) if report.original_message_id else None,
        feedback_type=_text(report.feedback_type) if report.feedback_type else None,
    )


def _text(value: str) -> str:
    return value.encode("utf-8", "replace").decode("utf-8")
