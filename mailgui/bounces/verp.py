"""VERP return paths (Variable Envelope Return Path): each message goes out with an envelope sender that names it,
``bounces+<queue id>-<token>@example.com`` from ``bounces.return_path``, so a bounce is matched by the address it
came back to even when it quotes nothing of the message. The token is an HMAC of the id under a key kept in the
queue, so a forged report cannot name an arbitrary message. Pure: no I/O."""

from __future__ import annotations

import hashlib
import hmac
import re

TOKEN_CHARS = 12  # hex characters of the HMAC: 48 bits, far beyond guessing a message by mail


def _token(key: bytes, message_id: int) -> str:
    return hmac.new(key, str(message_id).encode(), hashlib.sha256).hexdigest()[:TOKEN_CHARS]


def verp_address(return_path: str, message_id: int, key: bytes) -> str:
    """``bounces@example.com`` -> ``bounces+12-3f2a9c0e1b7d@example.com`` for queue id 12."""
    local, _, domain = return_path.rpartition("@")
    return f"{local}+{message_id}-{_token(key, message_id)}@{domain}"


_VERP = re.compile(rf"^(?P<local>.+)\+(?P<id>[0-9]{{1,18}})-(?P<token>[0-9a-f]{{{TOKEN_CHARS}}})@(?P<domain>.+)$")


def verp_id(address: str, return_path: str, key: bytes) -> int | None:
    """The queue id a VERP ``address`` for ``return_path`` names, or None: not such an address.

    Raises ValueError when it is one in form but its token is wrong (forged, or for another queue's key)."""
    m = _VERP.match(address.strip().strip("<>").lower())
    local, _, domain = return_path.lower().rpartition("@")
    if m is None or m["local"] != local or m["domain"] != domain:
        return None
    message_id = int(m["id"])
    if not hmac.compare_digest(m["token"], _token(key, message_id)):
        raise ValueError(f"{address!r} names message {message_id} with a token this queue did not issue")
    return message_id
