"""Settings' Test connection: connect, secure, log in, and say exactly what happened. No mail is sent."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass

from mailgui.delivery.classify import RelayError
from mailgui.delivery.target import RelayTarget, relay_from_settings, relay_from_values
from mailgui.delivery.transport import SmtpConnection, tls_context
from mailgui.errors import Error
from mailgui.settings import Settings


@dataclass(frozen=True)
class ConnectionCheck:
    """``ok``: the relay took us as far as we asked (TLS, login). ``message``: what happened, in plain words."""

    ok: bool
    message: str
    seconds: float = 0.0
    fault: str | None = None  # refused, timeout, tls, closing, dropped, auth, protocol, settings

    def __str__(self) -> str:
        return self.message

    def __bool__(self) -> bool:
        return self.ok


async def test_connection(
    relay: RelayTarget | Settings | Mapping[str, str], *, password: str | None = None
) -> ConnectionCheck:
    """Connect to the relay, negotiate TLS, log in, QUIT. Never raises for a relay problem: it reports it.

    ``relay``: a RelayTarget, the saved Settings, or form values (``relay.*`` keys as typed; ``password``
    then comes separately, since it is never a setting).
    """
    started = time.monotonic()
    try:
        if isinstance(relay, RelayTarget):
            target = relay
        elif isinstance(relay, Settings):
            target = relay_from_settings(relay)
        else:
            target = relay_from_values(relay, password=password)
    except Error as exc:
        return ConnectionCheck(False, str(exc), fault="settings")
    conn: SmtpConnection | None = None
    try:
        conn = SmtpConnection(target, tls_context(target) if target.security != "none" else None)
        await conn.open()
    except RelayError as exc:
        return ConnectionCheck(False, str(exc), time.monotonic() - started, str(exc.fault))
    finally:
        if conn is not None:
            await asyncio.shield(conn.close())
    done = ["connected to " + target.name]
    if target.security == "tls":
        done.append("TLS verified")
    elif target.security == "starttls":
        done.append("STARTTLS verified")
    else:
        done.append("no encryption (relay.security is none)")
    if target.username:
        done.append(f"logged in as {target.username}")
    elapsed = time.monotonic() - started
    return ConnectionCheck(True, f"OK: {', '.join(done)} ({elapsed:.1f} s); no mail was sent", elapsed)
