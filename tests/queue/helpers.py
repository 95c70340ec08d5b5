"""Building messages for queue tests."""

from __future__ import annotations

from mailgui.message import MessageFields, OutgoingMessage, build_message


def outgoing(
    sender: str = "Ann <ann@example.com>",
    to: str | list[str] = "bob@example.org",
    subject: str = "Hello",
    *,
    cc: str | list[str] | None = None,
    bcc: str | list[str] | None = None,
    now: float = 1_800_000_000.0,
) -> OutgoingMessage:
    return build_message(MessageFields(sender=sender, to=to, cc=cc, bcc=bcc, subject=subject, body="body"), now=now)
