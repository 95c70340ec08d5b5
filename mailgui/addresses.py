"""Email address parsing and validation (syntax only, no DNS), built on email-validator.

Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.headerregistry import Address
from email.utils import parseaddr
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

from mailgui.errors import BadRequestError, InvalidEmailError, InvalidHeaderValueError

_CRLF = re.compile(r"[\r\n]")
# What no header value may carry besides CR and LF: the other C0 controls but tab, DEL, and lone surrogates
# (not text at all: they are how Python keeps bytes that did not decode, from argv or a file name, PEP 383).
_NOT_HEADER_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
# Other text (a body) may hold any whitespace and controls (they travel quoted-printable), but not NUL
# (RFC 2045 section 2.7 keeps it out of text) nor a lone surrogate.
_NOT_TEXT = re.compile(r"[\x00\ud800-\udfff]")
# email-validator refuses "localhost" as a special-use name; on a desktop it is the natural
# domain of the built-in relay's mailbox, so it is checked through a stand-in domain instead.
_LOCAL_DOMAINS = {"localhost"}


@dataclass(frozen=True)
class Mailbox:
    """One parsed address: display name, normalized address, and whether it needs SMTPUTF8."""

    name: str
    address: str
    smtputf8: bool

    def header(self) -> Address:
        local, _, domain = self.address.rpartition("@")
        return Address(display_name=self.name, username=local, domain=domain)

    def __str__(self) -> str:
        return str(self.header())


def _found(match: re.Match[str], *, in_text: bool = False) -> str:
    """What the offending character is and where (positions count from 1, as a person reading the text does)."""
    char = match.group()
    at = f"(U+{ord(char):04X}) at position {match.start() + 1}"
    if "\ud800" <= char <= "\udfff":
        return f"contains a lone surrogate {at}, which is not valid text"
    if in_text:
        return f"contains a NUL character {at}, which is not allowed in text"
    return f"contains a control character {at}"


def header_text_problem(value: str, what: str = "") -> str | None:
    """Why ``value`` cannot be a header value (after a field name and a colon), or None if it can.

    The one rule for every header value (subject, display names, extra headers, file names, Content-IDs): no
    line break (header injection), no other C0 control but tab, no DEL, no lone surrogate. ``what`` names the
    part of the field the value is, when the field holds several ("file name 'a.txt'").
    """
    if _CRLF.search(value):
        return "line breaks (CR or LF) are not allowed in a header value" + (f" ({what})" if what else "")
    found = _NOT_HEADER_TEXT.search(value)
    if found is None:
        return None
    return f"{what} {_found(found)}" if what else _found(found)


def check_header_text(value: str, field: str, what: str = "") -> None:
    """Raise InvalidHeaderValueError naming ``field`` if ``value`` breaks :func:`header_text_problem`'s rule."""
    problem = header_text_problem(value, what)
    if problem is not None:
        raise InvalidHeaderValueError(f"{field}: {problem}")


def check_text(value: str, field: str) -> None:
    """Raise BadRequestError naming ``field`` if text (a body, a command-line argument) holds NUL or a lone
    surrogate; unlike a header value, it may hold line breaks and other controls."""
    found = _NOT_TEXT.search(value)
    if found is not None:
        raise BadRequestError(f"{field}: {_found(found, in_text=True)}")


@lru_cache(maxsize=4096)
def _validate(addr: str) -> tuple[str, bool]:
    local, sep, domain = addr.rpartition("@")
    if sep and domain.lower() in _LOCAL_DOMAINS:
        result = validate_email(f"{local}@localhost.test", check_deliverability=False, test_environment=True)
        return f"{result.local_part}@{domain.lower()}", result.smtputf8
    result = validate_email(addr, check_deliverability=False, test_environment=True, globally_deliverable=False)
    # An ASCII local part on an internationalized domain goes out in its ASCII (punycode) form, so the
    # message needs no SMTPUTF8; only a non-ASCII local part does.
    return (result.ascii_email or result.normalized), result.smtputf8


def as_address(value: object) -> object:
    """An object with an ``email()`` method (App Engine's ``users.User``) stands for the address it returns."""
    email = getattr(value, "email", None)
    if callable(email) and not isinstance(value, (str, bytes)):
        try:
            return email()
        except Exception as exc:  # a user object's own failure: report it, as an invalid address
            raise InvalidEmailError(f"{type(value).__name__}.email() failed: {exc}") from exc
    return value


def invalid_email_reason(email_address: object, field: str) -> str | None:
    """Why ``email_address`` is not one valid address (``addr`` or ``Name <addr>``) for ``field``, or None.

    Worded as App Engine's for what it checks (None, not a string, empty); mailgui also checks the syntax.
    """
    reason = app_engine_email_reason(email_address, field)
    if reason is not None:
        return reason
    try:
        parse_mailbox(str(as_address(email_address)).strip(), field)
    except (InvalidEmailError, InvalidHeaderValueError) as exc:
        return str(exc)
    return None


def app_engine_email_reason(email_address: object, field: str) -> str | None:
    """App Engine's own check, and its words: an address is a string (or a user object) that is not blank."""
    if email_address is None:
        return f"None email address for {field}."
    try:
        email_address = as_address(email_address)
    except InvalidEmailError as exc:
        return f"Invalid email address for {field}: {exc}"
    if not isinstance(email_address, str):
        return f"Invalid email address type for {field}: expected a string, got {type(email_address).__name__}."
    if not email_address.strip():
        return f"Empty email address for {field}."
    return None


def is_email_valid(email_address: object) -> bool:
    return invalid_email_reason(email_address, "") is None


def check_email_valid(email_address: object, field: str) -> None:
    """Raise InvalidEmailError with :func:`invalid_email_reason` if the address is not valid."""
    reason = invalid_email_reason(email_address, field)
    if reason is not None:
        raise InvalidEmailError(reason)


def parse_mailbox(text: str, field: str) -> Mailbox:
    """Parse one ``Name <addr>`` or bare address; raise InvalidEmailError naming the field."""
    text = as_address(text)  # type: ignore[assignment]
    if not isinstance(text, str):
        raise InvalidEmailError(f"{field}: expected a string address, got {type(text).__name__}")
    check_header_text(text, field, repr(text))
    chunks = split_addresses(text)
    if len(chunks) != 1:
        raise InvalidEmailError(f"{field}: {text!r} must be exactly one address")
    return _parse_one(chunks[0], field)


def _parse_one(text: str, field: str) -> Mailbox:
    if "<" in text:
        if not text.endswith(">"):
            raise InvalidEmailError(f"{field}: {text!r} is not a valid address: text after the closing '>'")
        name = parseaddr(text)[0]
        # The address as written, not as parseaddr rebuilt it: parseaddr drops spaces and comments
        # ("bob@exa mple.com" would become "bob@example.com").
        addr = text[text.rindex("<") + 1 : -1].strip()
    else:
        name, addr = "", text
    if not addr or "@" not in addr:
        raise InvalidEmailError(f"{field}: {text!r} is not a valid address: it has no @-sign")
    try:
        normalized, smtputf8 = _validate(addr)
    except EmailNotValidError as exc:
        raise InvalidEmailError(f"{field}: {text!r} is not a valid address: {exc}") from None
    return Mailbox(name=name, address=normalized, smtputf8=smtputf8)


def split_addresses(text: str) -> list[str]:
    """Split on the commas that separate addresses (not those inside quotes, <...> or comments).

    Strict where ``email.utils.getaddresses`` is lax: it drops what it cannot parse (``"bob@, ann@x"``
    gives only ann), so a typo would silently lose a recipient. Empty pieces are skipped.
    """
    if not any(c in text for c in '"(\\'):
        # No quoting or comments: every comma separates (a comma inside <...> is invalid either way).
        return [c.strip() for c in text.split(",") if c.strip()]
    chunks: list[str] = []
    start = 0
    quoted = escaped = False
    angle = paren = 0
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif quoted:
            quoted = ch != '"'
        elif ch == '"':
            quoted = True
        elif ch == "(":
            paren += 1
        elif ch == ")" and paren:
            paren -= 1
        elif ch == "<" and not paren:
            angle += 1
        elif ch == ">" and angle:
            angle -= 1
        elif ch == "," and not (angle or paren):
            chunks.append(text[start:i])
            start = i + 1
    chunks.append(text[start:])
    return [c.strip() for c in chunks if c.strip()]


def parse_address_list(value: str | Iterable[str] | None, field: str) -> list[Mailbox]:
    """Parse a string of comma-separated addresses, or a list of such strings."""
    if value is None:
        return []
    value = as_address(value)  # type: ignore[assignment]
    if isinstance(value, str):
        items = [value]
    elif isinstance(value, Iterable) and not isinstance(value, (bytes, bytearray, Mapping)):
        items = list(value)
    else:
        raise InvalidEmailError(f"{field}: expected an address or a list of addresses, got {type(value).__name__}")
    mailboxes: list[Mailbox] = []
    for item in items:
        item = as_address(item)  # type: ignore[assignment]
        if not isinstance(item, str):
            raise InvalidEmailError(f"{field}: expected a string address, got {type(item).__name__}")
        check_header_text(item, field, repr(item))
        mailboxes.extend(_parse_one(chunk, field) for chunk in split_addresses(item))
    return mailboxes


def sender_matches(address: str, pattern: str) -> bool:
    """Does a bare address match an authorized-sender entry (exact address or ``@domain``)?

    Domains compare case-insensitively; local parts exactly, as RFC 5321 allows them to matter.
    """
    local, _, domain = address.rpartition("@")
    if pattern.startswith("@"):
        return _domain_key(domain) == _domain_key(pattern[1:])
    p_local, _, p_domain = pattern.rpartition("@")
    return local == p_local and _domain_key(domain) == _domain_key(p_domain)


@lru_cache(maxsize=1024)
def _domain_key(domain: str) -> str:
    """A domain in the one form that compares: lower case ASCII (punycode for an internationalized one),
    so ``@bücher.example`` and ``@xn--bcher-kva.example`` are the same entry."""
    if domain.isascii():
        return domain.lower()
    try:
        ascii_domain = validate_email(
            f"postmaster@{domain}", check_deliverability=False, test_environment=True, globally_deliverable=False
        ).ascii_domain
    except EmailNotValidError:
        return domain.lower()
    return str(ascii_domain).lower()


def normalize_sender_pattern(pattern: str) -> str:
    """Validate an authorized-sender entry; return it in canonical form."""
    pattern = pattern.strip()
    if pattern.startswith("@"):
        domain = pattern[1:]
        reason = invalid_email_reason(f"postmaster@{domain}", "sender")
        if not domain or reason is not None:
            raise InvalidEmailError(f"sender: {pattern!r} is not a valid domain entry (write it as @example.com)")
        return "@" + _validate(f"postmaster@{domain}")[0].rpartition("@")[2].lower()
    mailbox = parse_mailbox(pattern, "sender")
    local, _, domain = mailbox.address.rpartition("@")
    return f"{local}@{domain.lower()}"
