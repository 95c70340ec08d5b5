"""Where mail goes: the relay's address, security and login, read from the ``relay.*`` settings."""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field

from mailgui.errors import InvalidSettingError
from mailgui.settings import SETTINGS, Settings, check_setting, get_password

SECURITY_MODES = ("none", "starttls", "tls")
_HOSTNAME = re.compile(
    r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


def local_hostname() -> str:
    """The name this computer gives in EHLO and in reports. Never a DNS lookup (socket.getfqdn can hang)."""
    name = socket.gethostname().strip().rstrip(".")
    return name if name and _HOSTNAME.match(name) else "localhost"


@dataclass(frozen=True)
class RelayTarget:
    """One SMTP relay. ``security``: none, starttls (upgrade on 587) or tls (implicit TLS on 465)."""

    host: str
    port: int
    security: str = "starttls"
    username: str = ""
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0  # seconds for each network step
    ca_file: str = ""  # extra CA bundle to trust; certificate checks stay on
    connections: int = 4
    helo_name: str = field(default_factory=local_hostname)

    def __post_init__(self) -> None:
        if not self.host:
            raise InvalidSettingError("relay.host: no relay host is set")
        if not 0 < self.port < 65536:
            raise InvalidSettingError(f"relay.port: {self.port} is not valid: expected a number from 1 to 65535")
        if self.security not in SECURITY_MODES:
            raise InvalidSettingError(f"relay.security: {self.security!r} is not valid: expected none, starttls or tls")
        if self.timeout <= 0:
            raise InvalidSettingError(f"relay.timeout: {self.timeout} is not valid: expected a positive number")
        if self.connections < 1:
            raise InvalidSettingError(f"worker.connections: {self.connections} is not valid: expected at least 1")

    @property
    def name(self) -> str:
        """'smtp.example.com:587', as the attempt log and reports show it."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def is_loopback(self) -> bool:
        if self.host.lower() == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host.strip("[]")).is_loopback
        except ValueError:
            return False


def local_relay_target(port: int, *, timeout: float = 30.0, connections: int = 4) -> RelayTarget:
    """The built-in relay on this computer: plain SMTP on loopback, no login."""
    return RelayTarget("127.0.0.1", port, "none", timeout=timeout, connections=connections)


def relay_from_settings(settings: Settings) -> RelayTarget:
    """The ``relay.*`` SMTP relay as configured (whatever ``relay.mode`` says), password from the keyring."""
    return RelayTarget(
        host=settings.get("relay.host"),
        port=settings.get_int("relay.port"),
        security=settings.get("relay.security"),
        username=settings.get("relay.username"),
        password=get_password(settings) if settings.get("relay.username") else None,
        timeout=settings.get_float("relay.timeout"),
        ca_file=settings.get("relay.ca_file"),
        connections=settings.get_int("worker.connections"),
    )


def relay_from_values(values: Mapping[str, str], *, password: str | None = None) -> RelayTarget:
    """A relay from settings as typed in a form (not yet saved): each value checked like ``config set``."""

    def get(key: str) -> str:
        raw = values.get(key)
        return SETTINGS[key].default if raw is None else check_setting(key, raw)

    return RelayTarget(
        host=get("relay.host"),
        port=int(get("relay.port")),
        security=get("relay.security"),
        username=get("relay.username"),
        password=password,
        timeout=float(get("relay.timeout")),
        ca_file=get("relay.ca_file"),
        connections=int(get("worker.connections")),
    )
