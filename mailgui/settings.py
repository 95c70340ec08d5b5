"""Validated settings over the queue's key/value table, and the passwords (relay, bounce mailbox) in the OS
keyring."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mailgui.addresses import invalid_email_reason, parse_address_list, split_addresses
from mailgui.errors import Error, InvalidSettingError, SecretStoreError
from mailgui.queue import SettingsAndSenders

log = logging.getLogger(__name__)

KEYRING_SERVICE = "mailgui"


def _int(lo: int, hi: int) -> Callable[[str], str]:
    def check(value: str) -> str:
        try:
            n = int(value)
        except ValueError:
            raise ValueError("expected a whole number") from None
        if not lo <= n <= hi:
            raise ValueError(f"expected a number from {lo} to {hi}")
        return str(n)

    return check


def _seconds(lo: float, hi: float) -> Callable[[str], str]:
    def check(value: str) -> str:
        try:
            n = float(value)
        except ValueError:
            raise ValueError("expected a number of seconds") from None
        if not lo <= n <= hi:
            raise ValueError(f"expected seconds from {lo:g} to {hi:g}")
        return f"{n:g}"

    return check


def _choice(*options: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if value.lower() not in options:
            raise ValueError(f"expected one of: {', '.join(options)}")
        return value.lower()

    return check


_HOST = re.compile(r"^[A-Za-z0-9._:\-\[\]]*$")


def _host(value: str) -> str:
    value = value.strip()
    if not _HOST.match(value):
        raise ValueError("expected a host name or IP address")
    return value


def _text(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError("line breaks are not allowed")
    return value.strip()


def _file(value: str) -> str:
    value = value.strip()
    if value and not Path(value).expanduser().is_file():
        raise ValueError(f"no such file: {value}")
    return value


def _folder(value: str) -> str:
    """An IMAP folder, levels separated by '/' (the reader uses the server's own separator)."""
    value = _text(value)
    if not value:
        raise ValueError("expected a folder name")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise ValueError("control characters are not allowed")
    if any(part == "" for part in value.split("/")):
        raise ValueError("a level of the folder name is empty (two '/' in a row, or one at an end)")
    if "*" in value or "%" in value:
        raise ValueError("'*' and '%' are IMAP wildcards, not allowed in a folder name")
    return value


def _addresses(value: str) -> str:
    """Comma-separated addresses (``Name <addr>`` or bare), each checked as the Mail API checks a recipient."""
    try:
        parse_address_list(value, "admins")
    except Error as exc:
        raise ValueError(str(exc).removeprefix("admins: ")) from None
    return ", ".join(split_addresses(value))


def _return_path(value: str) -> str:
    """Empty, or one bare address without a '+' (VERP adds its own ``+<id>-<token>``)."""
    value = value.strip()
    if not value:
        return ""
    reason = invalid_email_reason(value, "address")
    if reason is not None:
        raise ValueError(reason.removeprefix("address: "))
    if "+" in value.partition("@")[0]:
        raise ValueError(f"{value!r} has a '+' in its local part: VERP adds its own")
    return value


def _webhook_url(value: str) -> str:
    """Empty (off), an https URL, or an http one to this computer only (events are not sent in clear text)."""
    value = value.strip()
    if not value:
        return ""
    url = urlsplit(value)
    if url.scheme not in ("https", "http") or not url.hostname or "\r" in value or "\n" in value:
        raise ValueError(f"{value!r} is not an http(s) URL")
    if url.scheme == "http" and url.hostname not in ("127.0.0.1", "::1", "localhost"):
        raise ValueError("http sends events in clear text: use https, or http to 127.0.0.1 only")
    return value


@dataclass(frozen=True)
class SettingSpec:
    default: str
    check: Callable[[str], str]
    help: str


SETTINGS: dict[str, SettingSpec] = {
    "relay.mode": SettingSpec("local", _choice("local", "smtp"), "local: the built-in relay; smtp: the relay.* server"),
    "relay.host": SettingSpec("", _host, "SMTP relay host name"),
    "relay.port": SettingSpec("587", _int(1, 65535), "SMTP relay port"),
    "relay.security": SettingSpec("starttls", _choice("none", "starttls", "tls"), "none, starttls or tls"),
    "relay.username": SettingSpec("", _text, "user name for AUTH (empty: no AUTH)"),
    "relay.timeout": SettingSpec("30", _seconds(1, 600), "seconds allowed for each network step"),
    "relay.ca_file": SettingSpec("", _file, "extra CA bundle to trust (certificate checks stay on)"),
    "retry.min_backoff": SettingSpec("300", _seconds(1, 86400), "seconds before the first retry"),
    "retry.max_backoff": SettingSpec("4000", _seconds(1, 7 * 86400), "longest gap between retries"),
    "retry.lifetime": SettingSpec("432000", _seconds(60, 60 * 86400), "give up after this many seconds"),
    "worker.connections": SettingSpec("4", _int(1, 64), "SMTP connections used at once"),
    "worker.lease": SettingSpec(
        "300", _seconds(1, 86400), "seconds a worker holds a message; then another may take it over"
    ),
    "bounce.delay_warning": SettingSpec("0", _seconds(0, 60 * 86400), "warn the sender after this delay (0: off)"),
    "local_relay.port": SettingSpec("0", _int(0, 65535), "port of the built-in relay (0: any free port)"),
    "admins": SettingSpec(
        "", _addresses, "the administrators: where send_mail_to_admins sends (addresses separated by commas)"
    ),
    "bounces.imap.host": SettingSpec("", _host, "IMAP server where bounce mail arrives (empty: not read)"),
    "bounces.imap.port": SettingSpec("993", _int(1, 65535), "IMAP port (993 for tls, 143 for starttls)"),
    "bounces.imap.security": SettingSpec(
        "tls", _choice("tls", "starttls", "none"), "tls, starttls, or none (plain text: a loopback host only)"
    ),
    "bounces.imap.username": SettingSpec("", _text, "IMAP login"),
    "bounces.imap.folder": SettingSpec("INBOX", _folder, "folder where bounce mail arrives"),
    "bounces.imap.processed_folder": SettingSpec(
        "mailgui/processed", _folder, "matched reports are moved here (never deleted); made if missing"
    ),
    "bounces.imap.poll_interval": SettingSpec("300", _seconds(30, 86400), "seconds between reads of the folder"),
    "bounces.imap.ca_file": SettingSpec("", _file, "extra CA bundle to trust for IMAP (certificate checks stay on)"),
    "events.webhook.url": SettingSpec("", _webhook_url, "each event is POSTed here as signed JSON (empty: off)"),
    "bounces.return_path": SettingSpec(
        "", _return_path, "VERP: bounces come back to this address plus the message's id (empty: off, the sender's)"
    ),
}


@dataclass(frozen=True)
class SecretSpec:
    """A password kept in the OS keyring for the account ``<prefix><user>@<host>`` its settings name."""

    user_key: str
    host_key: str
    prefix: str = ""  # keeps two passwords for one user@host apart (an SMTP and an IMAP login)


SECRETS: dict[str, SecretSpec] = {
    "relay.password": SecretSpec("relay.username", "relay.host"),
    "bounces.imap.password": SecretSpec("bounces.imap.username", "bounces.imap.host", "imap:"),
    "events.webhook.secret": SecretSpec("events.webhook.url", "events.webhook.url", "webhook:"),  # signs each POST
}
SECRET_KEYS = set(SECRETS)

# Pairs of settings where the first may not exceed the second, each with why, for the error that names both.
ORDERED: list[tuple[str, str, str]] = [
    (
        "retry.min_backoff",
        "retry.max_backoff",
        "the first retry cannot wait longer than the longest gap between retries",
    ),
]


def check_setting(key: str, value: str) -> str:
    """Return the canonical form of ``value`` for ``key``, or raise InvalidSettingError naming both."""
    spec = SETTINGS.get(key)
    if spec is None:
        if key in SECRET_KEYS:
            raise InvalidSettingError(f"{key}: a secret; set it with `mailgui config set {key} --stdin`")
        raise InvalidSettingError(f"{key}: unknown setting (known: {', '.join(SETTINGS)})")
    try:
        return spec.check(value)
    except ValueError as exc:
        raise InvalidSettingError(f"{key}: {value!r} is not valid: {exc}") from None


def check_related(values: Mapping[str, str], changed: Collection[str] | None = None) -> None:
    """Raise InvalidSettingError, naming both fields, if two related settings in ``values`` (canonical values:
    every setting as it would be stored) contradict each other, as ``retry.min_backoff > retry.max_backoff``
    does. With ``changed``, only pairs that one of those keys is in (an old contradiction does not block an
    unrelated change)."""
    for low, high, why in ORDERED:
        if low not in values or high not in values or float(values[low]) <= float(values[high]):
            continue
        if changed is not None and low not in changed and high not in changed:
            continue
        if changed is None or low in changed:
            hint = f"; raise {high} first" if changed is not None and high not in changed else ""
            raise InvalidSettingError(f"{low}: {values[low]} is more than {high} ({values[high]}): {why}{hint}")
        raise InvalidSettingError(
            f"{high}: {values[high]} is less than {low} ({values[low]}): {why}; lower {low} first"
        )


class Settings:
    """Typed access to the settings stored in one queue."""

    def __init__(self, queue: SettingsAndSenders):
        self.queue = queue

    def get(self, key: str) -> str:
        if key not in SETTINGS:
            raise InvalidSettingError(f"{key}: unknown setting")
        value = self.queue.get_setting(key)
        return SETTINGS[key].default if value is None else value

    def get_int(self, key: str) -> int:
        return int(self.get(key))

    def get_float(self, key: str) -> float:
        return float(self.get(key))

    def set(self, key: str, value: str) -> str:
        """Check and store one setting; returns its canonical form."""
        return self.set_many({key: value})[key]

    def set_many(self, values: Mapping[str, str]) -> dict[str, str]:
        """Check every value, and related ones against each other as they will be, then store them; nothing is
        stored if any is refused. Returns the canonical forms. Changing the relay's user or host forgets the
        password kept for the old account (it is not sent to another server)."""
        canonical = {key: check_setting(key, value) for key, value in values.items()}
        before = self.all()
        check_related(before | canonical, changed=canonical)
        for key, value in canonical.items():
            self.queue.set_setting(key, value)
        _account_changed(before, self.all())
        return canonical

    def all(self) -> dict[str, str]:
        stored = self.queue.all_settings()
        return {key: stored.get(key, spec.default) for key, spec in SETTINGS.items()}


def _keyring(key: str = "relay.password"):  # type: ignore[no-untyped-def]
    import keyring
    from keyring.backends import fail

    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring) or getattr(backend, "priority", 1) <= 0:
        raise SecretStoreError(
            f"{key}: no OS keyring is available here, so the password was not stored "
            "(mailgui never writes it in plain text); install or unlock a keyring service and try again"
        )
    return keyring


# The password is keyed by the account, user@host. It used to be user@host:port, so a change of port left it
# behind where nothing read or deleted it; such an entry is moved to its new key the first time it is read.
def _account(values: Mapping[str, str], key: str = "relay.password") -> str:
    spec = SECRETS[key]
    return f"{spec.prefix}{values[spec.user_key]}@{values[spec.host_key]}"


def _account_with_port(values: Mapping[str, str]) -> str:
    return f"{values['relay.username']}@{values['relay.host']}:{values['relay.port']}"


def set_password(settings: Settings, secret: str, key: str = "relay.password") -> None:
    """Keep the password ``key`` (a key of SECRETS) in the OS keyring, under its current user and host. An empty
    one clears it."""
    if not secret:
        clear_password(settings, key)
        return
    kr = _keyring(key)
    values = settings.all()
    spec = SECRETS[key]
    if not values[spec.user_key] or not values[spec.host_key]:
        # Kept for that user on that host: stored before either is set, it would be left behind when they are.
        raise SecretStoreError(f"{key}: set {spec.user_key} and {spec.host_key} first; the password is kept for them")
    try:
        kr.set_password(KEYRING_SERVICE, _account(values, key), secret)
    except Exception as exc:  # keyring backends raise their own types
        raise SecretStoreError(f"{key}: the keyring refused to store it: {exc}") from exc
    if key == "relay.password":
        _forget(kr, [_account_with_port(values)])


def get_password(settings: Settings, key: str = "relay.password") -> str | None:
    try:
        kr = _keyring(key)
    except SecretStoreError:
        return None
    values = settings.all()
    try:
        value: str | None = kr.get_password(KEYRING_SERVICE, _account(values, key))
        if value is None and key == "relay.password":
            value = _adopt(kr, _account_with_port(values), _account(values))
    except Exception as exc:  # keyring backends raise their own types (locked, service gone)
        raise SecretStoreError(f"{key}: the keyring could not be read: {exc}") from exc
    return value


def clear_password(settings: Settings, key: str = "relay.password") -> bool:
    """Delete the password ``key`` kept for its current user and host; False if none was kept."""
    try:
        kr = _keyring(key)
    except SecretStoreError:
        return False  # no keyring: nothing was ever stored
    values = settings.all()
    accounts = [_account(values, key)] + ([_account_with_port(values)] if key == "relay.password" else [])
    removed = False
    try:
        for account in accounts:
            if kr.get_password(KEYRING_SERVICE, account) is not None:
                kr.delete_password(KEYRING_SERVICE, account)
                removed = True
    except Exception as exc:  # keyring backends raise their own types
        raise SecretStoreError(f"{key}: the keyring could not delete it: {exc}") from exc
    return removed


def _adopt(kr: Any, with_port: str, account: str) -> str | None:
    """Move an entry still keyed with a port to its account's key, unless the account has one already (then the
    old entry is stale and is deleted). Returns the password now kept for the account."""
    value: str | None = kr.get_password(KEYRING_SERVICE, with_port)
    if value is None:
        return kr.get_password(KEYRING_SERVICE, account)
    current: str | None = kr.get_password(KEYRING_SERVICE, account)
    if current is not None:
        _forget(kr, [with_port])
        return current
    try:
        kr.set_password(KEYRING_SERVICE, account, value)
    except Exception as exc:  # still readable where it is: use it, try again next time
        log.warning("relay.password: could not move its keyring entry from %s to %s: %s", with_port, account, exc)
        return value
    _forget(kr, [with_port])
    log.info("relay.password: keyring entry moved from %s to %s", with_port, account)
    return value


def _forget(kr: Any, accounts: list[str]) -> None:
    """Delete these keyring entries where they exist. A failure is logged, not raised: the setting or password
    the user changed is stored; what is left is an entry nothing will read."""
    for account in accounts:
        try:
            if kr.get_password(KEYRING_SERVICE, account) is not None:
                kr.delete_password(KEYRING_SERVICE, account)
        except Exception as exc:  # keyring backends raise their own types
            log.warning("relay.password: could not delete the keyring entry for %s: %s", account, exc)


def _account_changed(before: Mapping[str, str], after: Mapping[str, str]) -> None:
    """After a change of relay user or host, delete the password kept for the old account; after a change of
    port, move an entry still keyed with the old port (it would never be found again). The same for the bounce
    mailbox's user and host; the webhook's secret follows its URL."""
    _imap_account_changed(before, after)
    _webhook_url_changed(before, after)
    if not before["relay.username"] or not before["relay.host"]:
        return  # no password is kept without both (set_password refuses it)
    old, new = _account(before), _account(after)
    if old == new and before["relay.port"] == after["relay.port"]:
        return
    try:
        kr = _keyring()
    except SecretStoreError:
        return  # no keyring: nothing was ever stored
    if old != new:
        _forget(kr, [old, _account_with_port(before)])
        return
    try:
        _adopt(kr, _account_with_port(before), new)
    except Exception as exc:  # keyring backends raise their own types
        log.warning("relay.password: could not look for a keyring entry for %s: %s", _account_with_port(before), exc)


def _imap_account_changed(before: Mapping[str, str], after: Mapping[str, str]) -> None:
    key = "bounces.imap.password"
    spec = SECRETS[key]
    if not before[spec.user_key] or not before[spec.host_key]:
        return
    old = _account(before, key)
    if old == _account(after, key):
        return
    try:
        kr = _keyring(key)
    except SecretStoreError:
        return  # no keyring: nothing was ever stored
    _forget(kr, [old])


def _webhook_url_changed(before: Mapping[str, str], after: Mapping[str, str]) -> None:
    """The webhook's secret is kept under its URL: a new URL takes the secret along (the user changed where events
    go, not the key they are signed with); no URL any more forgets it."""
    key = "events.webhook.secret"
    old_url, new_url = before["events.webhook.url"], after["events.webhook.url"]
    if not old_url or old_url == new_url:
        return
    try:
        kr = _keyring(key)
        old = _account(before, key)
        secret = kr.get_password(KEYRING_SERVICE, old)
        if secret is not None and new_url:
            kr.set_password(KEYRING_SERVICE, _account(after, key), secret)
    except SecretStoreError:
        return  # no keyring: nothing was ever stored
    except Exception as exc:  # keyring backends raise their own types
        log.warning("events.webhook.secret: could not move it to the new URL: %s", exc)
        return
    _forget(kr, [old])
