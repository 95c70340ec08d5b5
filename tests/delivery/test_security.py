"""Security: certificates are always checked (every path), the password never goes out in plain text to
another host, and never shows in a log, an error, a reply or the queue file."""

from __future__ import annotations

import base64
import logging
import ssl
from pathlib import Path

import pytest
import trustme

from mailgui.clock import FakeClock
from mailgui.delivery import RelayTarget, RetryPolicy, Worker, test_connection
from mailgui.delivery.classify import RelayError, RelayFault
from mailgui.delivery.transport import SmtpConnection, tls_context
from mailgui.queue import Queue, Status
from tests.delivery.conftest import Enqueue
from tests.logfail import expect_relay_failures
from tests.smtpserver import SMTPTestServer, TLSFiles

PASSWORD = "Pw-9f3k!zq"


def other_host_tls(directory: Path) -> TLSFiles:
    """A certificate from a CA the client is told to trust, but for another host name than 127.0.0.1."""
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("mail.example.net").configure_cert(context)
    ca_file = directory / "other-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return TLSFiles(ca_file, context, ca)


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_every_tls_context_checks_the_certificate_and_the_host_name(security: str, tls_files: TLSFiles) -> None:
    for target in (
        RelayTarget("127.0.0.1", 25, security),
        RelayTarget("127.0.0.1", 25, security, ca_file=str(tls_files.ca_file)),
    ):
        for context in (tls_context(target), SmtpConnection(target).tls_context):
            assert context is not None
            assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


@pytest.mark.parametrize("security", ["starttls", "tls"])
@pytest.mark.parametrize("trouble", ["unknown-ca", "wrong-host"])
@expect_relay_failures
async def test_an_untrusted_certificate_fails_delivery_and_test_connection(
    security: str, trouble: str, authorized: Queue, clock: FakeClock, enqueue: Enqueue, tmp_path: Path
) -> None:
    from tests.smtpserver import make_tls

    tls = make_tls(tmp_path) if trouble == "unknown-ca" else other_host_tls(tmp_path)
    async with SMTPTestServer(tls=tls, starttls=security == "starttls", implicit_tls=security == "tls") as server:
        ca_file = "" if trouble == "unknown-ca" else str(tls.ca_file)  # wrong-host: the CA is trusted
        target = RelayTarget("127.0.0.1", server.port, security, timeout=5, ca_file=ca_file, connections=1)
        worker = Worker(authorized, clock=clock, relay=target, owner="w", policy=RetryPolicy(jitter=0))
        mid = enqueue("bob@example.org")
        try:
            await worker.run_once()
        finally:
            await worker.aclose()
        summary = authorized.get_message(mid).summary
        assert summary.status == Status.DEFERRED
        assert "certificate verify failed" in (summary.last_reply or "")
        if trouble == "wrong-host":
            assert "mismatch" in (summary.last_reply or "")  # "IP address mismatch": the name is checked
        check = await test_connection(target)
        assert not check.ok and check.fault == "tls" and "certificate verify failed" in check.message
        assert server.received == [] and "MAIL" not in server.commands()


def test_the_password_goes_only_over_tls_or_to_this_computer() -> None:
    assert RelayTarget("127.0.0.1", 25, "none").is_loopback
    assert RelayTarget("127.8.0.1", 25, "none").is_loopback
    assert RelayTarget("::1", 25, "none").is_loopback
    assert RelayTarget("LocalHost", 25, "none").is_loopback
    # A name is taken at its word, never resolved: a name that points here is still "another host".
    for host in ("mail.example.net", "localhost.example.net", "192.0.2.1", "10.0.0.1"):
        assert not RelayTarget(host, 25, "none").is_loopback


async def test_auth_without_tls_to_another_host_is_refused_before_anything_is_sent() -> None:
    conn = SmtpConnection(RelayTarget("mail.example.net", 25, "none", "ann", PASSWORD))
    with pytest.raises(RelayError) as caught:
        await conn._login()  # the decision comes before any I/O: no connection was ever made
    assert caught.value.fault == RelayFault.AUTH
    assert "refusing to send the password for 'ann' to mail.example.net:25 without TLS" in str(caught.value)
    assert PASSWORD not in str(caught.value)


async def test_auth_without_tls_on_loopback_is_allowed(authorized: Queue, clock: FakeClock, enqueue: Enqueue) -> None:
    async with SMTPTestServer(users={"ann": PASSWORD}, auth_require_tls=False) as server:
        target = RelayTarget("127.0.0.1", server.port, "none", "ann", PASSWORD, timeout=5, connections=1)
        worker = Worker(authorized, clock=clock, relay=target, owner="w")
        mid = enqueue("bob@example.org")
        try:
            await worker.run_once()
        finally:
            await worker.aclose()
        assert authorized.get_message(mid).summary.status == Status.SENT
        assert server.connections[0].login == "ann" and not server.connections[0].tls


@expect_relay_failures
async def test_the_password_is_never_logged_reported_or_stored(
    authorized: Queue,
    clock: FakeClock,
    enqueue: Enqueue,
    tls_files: TLSFiles,
    db_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    forms = {
        PASSWORD,
        base64.b64encode(PASSWORD.encode()).decode(),  # AUTH LOGIN
        base64.b64encode(f"\0ann\0{PASSWORD}".encode()).decode(),  # AUTH PLAIN
        base64.b64encode(b"\0ann\0wrong-" + PASSWORD.encode()).decode(),
    }
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    async with SMTPTestServer(tls=tls_files, starttls=True, users={"ann": PASSWORD}) as server:

        def target(password: str) -> RelayTarget:
            return RelayTarget(
                "127.0.0.1", server.port, "starttls", "ann", password, timeout=5, ca_file=str(tls_files.ca_file)
            )

        wrong = f"wrong-{PASSWORD}"  # a wrong password that contains the right one: neither may show
        worker = Worker(authorized, clock=clock, relay=target(wrong), owner="w", policy=RetryPolicy(jitter=0))
        worker.subscribe(lambda e: seen.append(repr(e)))
        refused = enqueue("bob@example.org")
        await worker.run_once()
        assert authorized.get_message(refused).summary.last_code == 535
        seen.append(worker.state.reason)
        seen.append(repr(target(PASSWORD)))
        seen.append((await test_connection(target(wrong))).message)
        seen.append((await test_connection(target(PASSWORD))).message)

        worker = Worker(authorized, clock=clock, relay=target(PASSWORD), owner="w", policy=RetryPolicy(jitter=0))
        worker.subscribe(lambda e: seen.append(repr(e)))
        clock.advance(3600)
        await worker.run_once()
        await worker.aclose()
        assert authorized.get_message(refused).summary.status == Status.SENT
        assert server.connections[-1].login == "ann"

    ours = [r for r in caplog.records if not r.name.startswith("mail.log")]  # not the test server's own log
    assert any(r.levelno == logging.DEBUG or r.levelno == logging.INFO for r in ours)
    text = "\n".join([*(r.getMessage() for r in ours), *(str(r.exc_info) for r in ours), *seen])
    for form in forms:
        assert form not in text
    detail = authorized.get_message(refused)
    stored = repr(detail) + "".join(p.read_bytes().decode("latin-1") for p in db_path.parent.glob("queue.sqlite3*"))
    for form in forms:
        assert form not in stored
