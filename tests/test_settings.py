"""Settings: validated keys with defaults, and the relay password kept in the OS keyring, never in the file."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import keyring
import keyring.backend
import keyring.errors
import pytest
from keyring.backends import fail

from mailgui.errors import InvalidSettingError, SecretStoreError
from mailgui.queue import Queue
from mailgui.settings import (
    KEYRING_SERVICE,
    SETTINGS,
    Settings,
    check_related,
    check_setting,
    clear_password,
    get_password,
    set_password,
)


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A real keyring backend that keeps secrets in a dict: there is no OS keyring on the test machine."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.secrets.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.secrets[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        del self.secrets[(service, username)]


class RefusingKeyring(MemoryKeyring):
    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.PasswordSetError("locked")


Install = Callable[[type[keyring.backend.KeyringBackend]], keyring.backend.KeyringBackend]


@pytest.fixture
def use_keyring() -> Iterator[Install]:
    """Install a keyring backend for one test (call it with the class), then restore the previous one."""
    previous = keyring.get_keyring()
    installed: list[keyring.backend.KeyringBackend] = []

    def install(cls: type[keyring.backend.KeyringBackend]) -> keyring.backend.KeyringBackend:
        backend = cls()
        keyring.set_keyring(backend)
        installed.append(backend)
        return backend

    yield install
    keyring.set_keyring(previous)


def file_bytes(db_path: Path) -> bytes:
    """Everything SQLite has on disk for this queue: main file, WAL and shared memory."""
    return b"".join(p.read_bytes() for p in db_path.parent.glob(db_path.name + "*"))


def test_every_key_has_a_valid_default(queue: Queue) -> None:
    s = Settings(queue)
    values = s.all()
    assert list(values) == list(SETTINGS)
    for key, value in values.items():
        assert value == SETTINGS[key].default
        assert check_setting(key, value) == value
    assert s.get("relay.mode") == "local"
    assert s.get_int("relay.port") == 587
    assert s.get("relay.security") == "starttls"
    assert s.get_float("retry.min_backoff") == 300.0
    assert s.get_float("retry.max_backoff") == 4000.0
    assert s.get_float("retry.lifetime") == 5 * 86400.0
    assert s.get_int("worker.connections") == 4


@pytest.mark.parametrize(
    ("key", "value", "stored"),
    [
        ("relay.host", " smtp.example.com ", "smtp.example.com"),
        ("relay.host", "[2001:db8::1]", "[2001:db8::1]"),
        ("relay.port", "25", "25"),
        ("relay.security", "TLS", "tls"),
        ("relay.security", "none", "none"),
        ("relay.username", "ann@example.com", "ann@example.com"),
        ("relay.timeout", "12.5", "12.5"),
        ("retry.min_backoff", "60.0", "60"),
        ("retry.max_backoff", "7200", "7200"),
        ("retry.lifetime", "86400", "86400"),
        ("worker.connections", "16", "16"),
        ("relay.mode", "SMTP", "smtp"),
        ("admins", " ann@example.com ,Bob <bob@example.org>", "ann@example.com, Bob <bob@example.org>"),
        ("admins", '"Doe, Jo" <jo@example.org>', '"Doe, Jo" <jo@example.org>'),
        ("admins", "", ""),
    ],
)
def test_valid_values_are_stored_in_canonical_form(queue: Queue, key: str, value: str, stored: str) -> None:
    s = Settings(queue)
    assert s.set(key, value) == stored
    assert s.get(key) == stored
    assert queue.get_setting(key) == stored
    assert Settings(queue).all()[key] == stored


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("relay.port", "smtp", "expected a whole number"),
        ("relay.port", "0", "expected a number from 1 to 65535"),
        ("relay.port", "70000", "expected a number from 1 to 65535"),
        ("relay.security", "ssl", "expected one of: none, starttls, tls"),
        ("relay.host", "smtp example.com", "expected a host name or IP address"),
        ("relay.username", "ann\nroot", "line breaks are not allowed"),
        ("relay.timeout", "0", "expected seconds from 1 to 600"),
        ("relay.timeout", "soon", "expected a number of seconds"),
        ("retry.min_backoff", "-5", "expected seconds from 1 to 86400"),
        ("retry.lifetime", "10", "expected seconds from 60"),
        ("worker.connections", "0", "expected a number from 1 to 64"),
        ("worker.connections", "2.5", "expected a whole number"),
        ("relay.ca_file", "/no/such/ca.pem", "no such file: /no/such/ca.pem"),
        ("admins", "ann@example.com, bob@", "'bob@' is not a valid address"),
        ("admins", "ann@example.com\nroot@example.com", "line breaks (CR or LF) are not allowed"),
    ],
)
def test_bad_values_are_refused_naming_key_value_and_problem(queue: Queue, key: str, value: str, problem: str) -> None:
    with pytest.raises(InvalidSettingError) as info:
        Settings(queue).set(key, value)
    assert str(info.value).startswith(f"{key}: {value!r} is not valid: ")
    assert problem in str(info.value)
    assert queue.get_setting(key) is None


def test_unknown_key_is_refused_listing_the_known_ones(queue: Queue) -> None:
    with pytest.raises(InvalidSettingError, match=r"^relay\.hots: unknown setting \(known: relay\.mode, relay\.host"):
        Settings(queue).set("relay.hots", "x")
    with pytest.raises(InvalidSettingError, match=r"^nope: unknown setting"):
        Settings(queue).get("nope")
    assert queue.all_settings() == {}


def test_the_password_is_not_an_ordinary_setting(queue: Queue) -> None:
    with pytest.raises(InvalidSettingError, match=r"^relay\.password: a secret; set it with .*--stdin"):
        Settings(queue).set("relay.password", "hunter2")
    assert queue.all_settings() == {}


def test_password_goes_to_the_keyring_and_never_into_the_queue_file(
    queue: Queue, db_path: Path, use_keyring: Install
) -> None:
    backend = use_keyring(MemoryKeyring)
    assert isinstance(backend, MemoryKeyring)
    s = Settings(queue)
    s.set("relay.host", "smtp.example.com")
    s.set("relay.username", "ann")
    secret = "s3cret-Пароль-" + secrets.token_hex(8)
    set_password(s, secret)
    assert backend.secrets == {(KEYRING_SERVICE, "ann@smtp.example.com"): secret}
    assert get_password(s) == secret
    assert secret not in queue.all_settings().values()
    queue.conn.execute("PRAGMA wal_checkpoint(FULL)")
    on_disk = file_bytes(db_path)
    assert b"smtp.example.com" in on_disk  # the file was really read
    assert secret.encode() not in on_disk
    assert secret.encode("utf-16-le") not in on_disk


def test_without_a_keyring_the_user_is_told_and_nothing_is_stored(
    queue: Queue, db_path: Path, use_keyring: Install
) -> None:
    use_keyring(fail.Keyring)
    s = Settings(queue)
    secret = "s3cret-" + secrets.token_hex(8)
    with pytest.raises(
        SecretStoreError, match=r"^relay\.password: no OS keyring is available .*never writes it in plain"
    ):
        set_password(s, secret)
    assert get_password(s) is None
    assert queue.all_settings() == {}
    assert secret.encode() not in file_bytes(db_path)


def test_a_keyring_that_refuses_the_secret_is_reported(queue: Queue, use_keyring: Install) -> None:
    use_keyring(RefusingKeyring)
    s = Settings(queue)
    s.set_many({"relay.host": "smtp.example.com", "relay.username": "ann"})
    with pytest.raises(SecretStoreError, match=r"^relay\.password: the keyring refused to store it: locked"):
        set_password(s, "x")
    assert "x" not in queue.all_settings().values()


# -- the password's keyring entry follows the account (user@host), and nothing is left behind ---------------------


@pytest.fixture
def relay(queue: Queue, use_keyring: Install) -> tuple[Settings, MemoryKeyring]:
    """Settings for ann on smtp.example.com (port 587), and the in-memory keyring."""
    backend = use_keyring(MemoryKeyring)
    assert isinstance(backend, MemoryKeyring)
    s = Settings(queue)
    s.set("relay.host", "smtp.example.com")
    s.set("relay.username", "ann")
    return s, backend


def entries(backend: MemoryKeyring) -> dict[str, str]:
    return {account: secret for (service, account), secret in backend.secrets.items() if service == KEYRING_SERVICE}


def test_a_change_of_port_keeps_the_password(relay: tuple[Settings, MemoryKeyring]) -> None:
    s, backend = relay
    set_password(s, "pw")
    s.set("relay.port", "2525")
    assert get_password(s) == "pw"
    assert entries(backend) == {"ann@smtp.example.com": "pw"}


def test_an_entry_keyed_with_the_port_is_moved_to_the_account_when_read(
    relay: tuple[Settings, MemoryKeyring], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "mailgui.settings")
    s, backend = relay
    backend.set_password(KEYRING_SERVICE, "ann@smtp.example.com:587", "s3cret-old")  # as mailgui stored it before
    assert get_password(s) == "s3cret-old"
    assert entries(backend) == {"ann@smtp.example.com": "s3cret-old"}
    assert "keyring entry moved from ann@smtp.example.com:587 to ann@smtp.example.com" in caplog.text
    assert "s3cret" not in caplog.text


def test_a_change_of_port_moves_an_entry_keyed_with_the_old_port(relay: tuple[Settings, MemoryKeyring]) -> None:
    s, backend = relay
    backend.set_password(KEYRING_SERVICE, "ann@smtp.example.com:587", "old")
    s.set("relay.port", "465")  # the old key would never be looked up again
    assert entries(backend) == {"ann@smtp.example.com": "old"}
    assert get_password(s) == "old"


def test_an_entry_keyed_with_the_port_beside_a_current_one_is_stale_and_deleted(
    relay: tuple[Settings, MemoryKeyring],
) -> None:
    s, backend = relay
    backend.set_password(KEYRING_SERVICE, "ann@smtp.example.com:587", "old")
    set_password(s, "new")  # storing the password again
    assert entries(backend) == {"ann@smtp.example.com": "new"}
    backend.set_password(KEYRING_SERVICE, "ann@smtp.example.com:587", "older")
    s.set("relay.port", "465")  # or a change of port
    assert entries(backend) == {"ann@smtp.example.com": "new"}
    assert get_password(s) == "new"


@pytest.mark.parametrize(
    ("key", "value"), [("relay.host", "mail.example.org"), ("relay.username", "bob"), ("relay.username", "")]
)
def test_a_change_of_user_or_host_deletes_the_old_accounts_password(
    relay: tuple[Settings, MemoryKeyring], key: str, value: str
) -> None:
    s, backend = relay
    set_password(s, "pw")
    backend.set_password(KEYRING_SERVICE, "ann@smtp.example.com:587", "older")
    s.set(key, value)
    assert entries(backend) == {}  # not sent to another server or as another user, not left behind
    assert get_password(s) is None


def test_storing_the_same_account_again_or_other_settings_keeps_the_password(
    relay: tuple[Settings, MemoryKeyring],
) -> None:
    s, backend = relay
    set_password(s, "pw")
    s.set_many({"relay.host": "smtp.example.com", "relay.username": "ann", "relay.timeout": "12"})
    assert entries(backend) == {"ann@smtp.example.com": "pw"}


def test_clearing_the_password_deletes_its_entries(relay: tuple[Settings, MemoryKeyring]) -> None:
    s, backend = relay
    set_password(s, "pw")
    backend.set_password(KEYRING_SERVICE, "ann@smtp.example.com:587", "older")
    set_password(s, "")
    assert entries(backend) == {}
    assert clear_password(s) is False  # nothing left to clear


def test_a_password_needs_the_user_and_host_it_is_kept_for(queue: Queue, use_keyring: Install) -> None:
    backend = use_keyring(MemoryKeyring)
    assert isinstance(backend, MemoryKeyring)
    s = Settings(queue)
    s.set("relay.host", "smtp.example.com")
    with pytest.raises(SecretStoreError, match=r"^relay\.password: set relay\.username and relay\.host first"):
        set_password(s, "pw")
    assert entries(backend) == {}


class UndeletableKeyring(MemoryKeyring):
    def delete_password(self, service: str, username: str) -> None:
        raise keyring.errors.PasswordDeleteError("the collection is locked")


@pytest.mark.allow_log("mailgui.settings", match=r"^relay\.password: could not delete the keyring entry for ann@")
def test_a_keyring_that_cannot_delete_does_not_stop_the_change_of_host(queue: Queue, use_keyring: Install) -> None:
    use_keyring(UndeletableKeyring)
    s = Settings(queue)
    s.set("relay.host", "smtp.example.com")
    s.set("relay.username", "ann")
    set_password(s, "pw")
    assert s.set("relay.host", "mail.example.org") == "mail.example.org"
    assert s.get("relay.host") == "mail.example.org"


# -- related settings are checked against each other ----------------------------------------------------------


def test_the_first_retry_cannot_wait_longer_than_the_longest_gap(queue: Queue) -> None:
    s = Settings(queue)
    with pytest.raises(
        InvalidSettingError,
        match=r"^retry\.min_backoff: 5000 is more than retry\.max_backoff \(4000\): the first retry cannot wait "
        r"longer than the longest gap between retries; raise retry\.max_backoff first$",
    ):
        s.set("retry.min_backoff", "5000")
    with pytest.raises(
        InvalidSettingError,
        match=r"^retry\.max_backoff: 200 is less than retry\.min_backoff \(300\): .*; lower retry\.min_backoff first$",
    ):
        s.set("retry.max_backoff", "200")
    assert queue.all_settings() == {}
    assert s.set("retry.min_backoff", "4000") == "4000"  # equal is fine


def test_related_settings_can_move_together(queue: Queue) -> None:
    s = Settings(queue)
    assert s.set_many({"retry.min_backoff": "5000", "retry.max_backoff": "9000"}) == {
        "retry.min_backoff": "5000",
        "retry.max_backoff": "9000",
    }
    with pytest.raises(
        InvalidSettingError, match=r"^retry\.min_backoff: 9500 is more than retry\.max_backoff \(9000\)"
    ):
        s.set_many({"retry.min_backoff": "9500", "relay.timeout": "12"})
    assert (s.get("retry.min_backoff"), s.get("relay.timeout")) == ("5000", "30")  # nothing of it stored


def test_an_old_contradiction_does_not_block_an_unrelated_change(queue: Queue) -> None:
    queue.set_setting("retry.min_backoff", "5000")  # stored before the check existed
    assert Settings(queue).set("relay.timeout", "12") == "12"
    with pytest.raises(InvalidSettingError, match=r"^retry\.min_backoff: 5000 is more than retry\.max_backoff"):
        check_related(Settings(queue).all())


# -- the bounce mailbox (bounces.imap.*) ---------------------------------------------------------------------------


def test_the_bounce_mailbox_settings_have_their_defaults(queue: Queue) -> None:
    values = Settings(queue).all()
    assert {k: v for k, v in values.items() if k.startswith("bounces.imap.")} == {
        "bounces.imap.host": "",
        "bounces.imap.port": "993",
        "bounces.imap.security": "tls",
        "bounces.imap.username": "",
        "bounces.imap.folder": "INBOX",
        "bounces.imap.processed_folder": "mailgui/processed",
        "bounces.imap.poll_interval": "300",
        "bounces.imap.ca_file": "",
    }


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("bounces.imap.port", "0", "expected a number from 1 to 65535"),
        ("bounces.imap.security", "ssl", "expected one of: tls, starttls, none"),
        ("bounces.imap.folder", " ", "expected a folder name"),
        ("bounces.imap.processed_folder", "mailgui//processed", "a level of the folder name is empty"),
        ("bounces.imap.processed_folder", "mailgui/*", "'*' and '%' are IMAP wildcards"),
        ("bounces.imap.folder", "In\tbox", "control characters are not allowed"),
        ("bounces.imap.poll_interval", "5", "expected seconds from 30 to 86400"),
        ("bounces.imap.host", "imap example", "expected a host name or IP address"),
    ],
)
def test_a_bounce_mailbox_setting_that_is_not_valid_is_named_with_the_problem(
    queue: Queue, key: str, value: str, problem: str
) -> None:
    with pytest.raises(InvalidSettingError) as caught:
        Settings(queue).set(key, value)
    assert str(caught.value).startswith(f"{key}: {value!r} is not valid: {problem}")
    assert queue.all_settings() == {}


def test_the_imap_password_is_kept_apart_from_the_relay_password_of_the_same_account(
    relay: tuple[Settings, MemoryKeyring],
) -> None:
    s, backend = relay
    s.set_many({"bounces.imap.host": "smtp.example.com", "bounces.imap.username": "ann"})
    set_password(s, "smtp-pw")
    set_password(s, "imap-pw", "bounces.imap.password")
    assert entries(backend) == {"ann@smtp.example.com": "smtp-pw", "imap:ann@smtp.example.com": "imap-pw"}
    assert get_password(s, "bounces.imap.password") == "imap-pw"
    assert clear_password(s, "bounces.imap.password")
    assert entries(backend) == {"ann@smtp.example.com": "smtp-pw"}


def test_a_change_of_imap_host_forgets_the_imap_password_only(relay: tuple[Settings, MemoryKeyring]) -> None:
    s, backend = relay
    s.set_many({"bounces.imap.host": "imap.example.com", "bounces.imap.username": "ann"})
    set_password(s, "smtp-pw")
    set_password(s, "imap-pw", "bounces.imap.password")
    s.set("bounces.imap.host", "mail.example.net")
    assert get_password(s, "bounces.imap.password") is None
    assert entries(backend) == {"ann@smtp.example.com": "smtp-pw"}


def test_the_imap_password_needs_its_user_and_host_first(relay: tuple[Settings, MemoryKeyring]) -> None:
    s, backend = relay
    with pytest.raises(
        SecretStoreError,
        match=r"^bounces\.imap\.password: set bounces\.imap\.username and bounces\.imap\.host first",
    ):
        set_password(s, "imap-pw", "bounces.imap.password")
    assert entries(backend) == {}
