"""The relay password never lands in the queue file (attempt log, settings) or in mailgui's log output."""

from __future__ import annotations

import base64
import logging
import random
from pathlib import Path

import pytest

from mailgui.clock import FakeClock
from mailgui.delivery import RelayTarget, RetryPolicy, Worker
from mailgui.message import MessageFields, build_message
from mailgui.queue import Queue, Status
from tests.logfail import expect_relay_failures
from tests.smtpserver import SMTPTestServer, TLSFiles

SECRET = "Tr0ub4dor-and-3-horses"


def forms(secret: str) -> list[bytes]:
    """The secret as text, and as AUTH PLAIN / LOGIN would put it on the wire."""
    return [
        secret.encode(),
        base64.b64encode(secret.encode()),
        base64.b64encode(b"\0ann\0" + secret.encode()),
    ]


def file_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


@pytest.mark.parametrize("password", [SECRET, "wrong-" + SECRET])
@expect_relay_failures
async def test_login_right_or_wrong_leaves_no_password_in_the_queue_file_or_logs(
    authorized: Queue,
    clock: FakeClock,
    db_path: Path,
    smtp_tls: TLSFiles,
    caplog: pytest.LogCaptureFixture,
    password: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    msg = build_message(
        MessageFields(sender="ann@example.com", to="bob@example.org", subject="Hi", body="b"), now=clock.now()
    )
    mid = authorized.enqueue(msg)
    async with SMTPTestServer(tls=smtp_tls, starttls=True, users={"ann": SECRET}) as server:
        target = RelayTarget(
            "127.0.0.1", server.port, "starttls", "ann", password, timeout=5, ca_file=str(smtp_tls.ca_file)
        )
        worker = Worker(
            authorized, clock=clock, relay=target, owner="w", policy=RetryPolicy(jitter=0.0), rng=random.Random(1)
        )
        try:
            await worker.run_once()
        finally:
            await worker.aclose()
    status = authorized.get_message(mid).summary.status
    assert status == (Status.SENT if password == SECRET else Status.DEFERRED)
    assert "ann" in repr(target) and password not in repr(target)

    # Our own process's log: mailgui and the SMTP client library it drives (the test server's own log,
    # aiosmtpd's "mail.log", is the far side of the wire, not mailgui).
    ours = "\n".join(
        f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records if not r.name.startswith("mail.log")
    )
    assert ours, "expected some log output to check"
    on_disk = file_bytes(db_path)
    for form in forms(password):
        assert form.decode() not in ours
        assert form not in on_disk
