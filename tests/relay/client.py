"""SMTP client steps for the relay tests (aiosmtplib against a LocalRelay on 127.0.0.1)."""

from __future__ import annotations

import asyncio

import aiosmtplib


class SlowGate:
    """Stands in for asyncio.sleep in slow@: records the delay asked for and holds until released."""

    def __init__(self) -> None:
        self.requested: list[float] = []
        self.waiting = asyncio.Event()
        self.released = asyncio.Event()

    async def __call__(self, seconds: float) -> None:
        self.requested.append(seconds)
        self.waiting.set()
        await self.released.wait()


async def connect(port: int) -> aiosmtplib.SMTP:
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=10)
    await client.connect()
    await client.ehlo()
    return client


async def try_rcpt(port: int, sender: str, recipient: str) -> tuple[int, str]:
    """One envelope up to RCPT on a fresh connection: the server's reply to RCPT."""
    client = await connect(port)
    try:
        mail = await client.execute_command(b"MAIL", f"FROM:<{sender}>".encode())
        assert mail.code == 250, mail
        reply = await client.execute_command(b"RCPT", f"TO:<{recipient}>".encode())
        await client.quit()
        return reply.code, reply.message
    finally:
        client.close()


async def send(port: int, sender: str, recipients: list[str], raw: bytes, **options: list[str]) -> tuple[dict, str]:
    """A whole transaction on a fresh connection (aiosmtplib.sendmail)."""
    client = await connect(port)
    try:
        result = await client.sendmail(sender, recipients, raw, **options)
        await client.quit()
        return result
    finally:
        client.close()
