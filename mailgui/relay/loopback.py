"""The built-in relay is for this computer only: it binds to loopback and serves loopback peers only."""

from __future__ import annotations

import ipaddress

from mailgui.errors import InvalidSettingError


def is_loopback_peer(peer: object) -> bool:
    """True when a socket peer (``(host, port, ...)`` as asyncio reports it) is this computer's loopback."""
    if not isinstance(peer, tuple) or not peer or not isinstance(peer[0], str):
        return False
    host = peer[0].partition("%")[0]  # an IPv6 scope id ('fe80::1%eth0') is not part of the address
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


def format_peer(peer: object) -> str:
    """'127.0.0.1:53122' or '[::1]:53122' for display and the mailbox's peer column."""
    if isinstance(peer, tuple) and len(peer) >= 2:
        host, port = peer[0], peer[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return str(peer) if peer else "unknown"


def loopback_bind_host(host: str) -> str:
    """The address to bind for ``host``; refuses anything that is not a loopback address."""
    value = host.strip()
    if value.lower() == "localhost":
        # One literal address: 'localhost' may resolve to both ::1 and 127.0.0.1, which with port 0
        # would bind two different free ports.
        return "127.0.0.1"
    try:
        ip = ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        raise InvalidSettingError(
            f"host: {host!r} is not a loopback address; the built-in relay listens on this computer only "
            "(use 127.0.0.1, ::1 or localhost)"
        ) from None
    if not ip.is_loopback:
        raise InvalidSettingError(
            f"host: {host!r} is not a loopback address; the built-in relay listens on this computer only "
            "(use 127.0.0.1, ::1 or localhost)"
        )
    return str(ip)
