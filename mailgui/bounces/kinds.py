"""What a message looks like before it is read in detail: sent by a mail system, an auto-reply, an ARF report."""

from __future__ import annotations

import re
from email.message import Message
from email.utils import getaddresses

from mailgui.bounces.reading import header

# Senders that are mail systems. A person's mail is never scanned for failed addresses (ordinary mail is never a
# bounce), so this and _BOUNCE_SUBJECT are what let a non-standard bounce be read at all.
_SYSTEM_SENDER = re.compile(
    r"mailer-?daemon|postmaster|post_master|mail-?daemon|mail delivery|delivery subsystem|mdaemon|mail ?administrator"
    r"|mail ?system|-admin@|\bbounces?[@+.-]|^<?>?$",
    re.IGNORECASE,
)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered|not (?:be )?delivered|delivery (?:status|failure|failed|notification|problem|report)"
    r"|failure notice|failed delivery|returned mail|returned to sender|mail delivery|non[- ]?delivery|\bbounce"
    r"|could not send|couldn't be delivered|delivery has failed|warning: could not|mail system error"
    r"|rejected|message not delivered|permanent error|unzustellbar|non remis|no entregado|配信|エラー|送信できません",
    re.IGNORECASE,
)
_REPLY_PREFIX = re.compile(r"^\s*(?:re|fwd?|aw|wg|tr|rv|sv|vs)\s*(?:\[\d+\])?\s*:", re.IGNORECASE)
_AUTO_REPLY_SUBJECT = re.compile(
    r"^\s*(?:auto(?:matic)?[ -]?(?:reply|response|antwort|ответ)|autoreply|out of (?:the )?office|vacation"
    r"|abwesenheit|absence|r[ée]ponse automatique|respuesta autom[áa]tica|risposta automatica|自動(?:応答|返信)|不在)",
    re.IGNORECASE,
)
_AUTO_REPLY_HEADERS = ("x-autoreply", "x-autorespond", "x-autoresponder", "x-vacation")


def sender_is_system(msg: Message) -> bool:
    for name in ("from", "sender"):
        value = header(msg, name)
        if name == "from" and not value:
            return True
        if value and _SYSTEM_SENDER.search(value):
            return True
    return False


def subject_says_bounce(msg: Message) -> bool:
    subject = header(msg, "subject")
    return bool(_BOUNCE_SUBJECT.search(subject))


def looks_like_bounce(msg: Message) -> bool:
    """Sent by a mail system to say mail failed: worth reading for failed addresses."""
    if msg.get("x-failed-recipients") is not None:
        return True
    if sender_is_system(msg):
        return True
    return subject_says_bounce(msg) and not _REPLY_PREFIX.match(header(msg, "subject"))


def says_auto_reply(msg: Message, strong_only: bool = False) -> bool:
    """An RFC 3834 automatic response (vacation, out of office).

    Strong signals (a subject or header only auto-responders use) first; `Auto-Submitted: auto-replied` alone is
    weak, since Exim and others put it on bounces too.
    """
    if _AUTO_REPLY_SUBJECT.match(header(msg, "subject")):
        return True
    if any(msg.get(name) is not None for name in _AUTO_REPLY_HEADERS):
        return True
    if header(msg, "x-apple-action").upper() == "VACATION" or header(msg, "precedence").lower() == "auto_reply":
        return True
    if strong_only:
        return False
    return header(msg, "auto-submitted").lower().startswith("auto-replied")


def addresses(msg: Message | None, *names: str) -> list[str]:
    if msg is None:
        return []
    values = [header(msg, name) for name in names]
    try:
        pairs = getaddresses([v for v in values if v])
    except (ValueError, IndexError):
        return []
    return [addr for _, addr in pairs if "@" in addr]
