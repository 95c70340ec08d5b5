"""A private Dovecot IMAP server for tests: ``dovecot`` (one per test module) and ``imap_mailbox`` (its test
account, emptied before each test).

Dovecot runs as a process of its own (``dovecot -F -c <config>``) with a config file written here: no system
config, no systemd. It listens on two free 127.0.0.1 ports, implicit TLS (``imaps_port``) and plain IMAP where
STARTTLS is required before login (``imap_port``), with a certificate for 127.0.0.1 made by trustme. The account
(``USER``/``PASSWORD``, a passwd-file) keeps its mail in a maildir under the module's temporary directory. Test mail
goes in by IMAP APPEND and is looked at by IMAP, so nothing depends on how Dovecot lays out its files.

    async def test_x(imap_mailbox):
        imap_mailbox.append(raw)                 # into INBOX
        imap_mailbox.messages("INBOX")           # [bytes, ...] in UID order
"""

from __future__ import annotations

import contextlib
import getpass
import imaplib
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mailgui.queue import Queue
from mailgui.settings import Settings, set_password
from tests.smtpserver import HOST, TLSFiles, make_tls
from tests.test_settings import MemoryKeyring

USER = "bounces@example.com"
PASSWORD = "imap secret 'with' \"quotes\""
START_TIMEOUT = 20.0  # seconds for Dovecot to start listening (it takes well under one here)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass
class Dovecot:
    process: subprocess.Popen[bytes]
    directory: Path
    imaps_port: int
    imap_port: int
    tls: TLSFiles
    mail_dir: Path

    @property
    def log(self) -> str:
        paths = [self.directory / "dovecot.out", self.directory / "dovecot.log"]
        return "".join(p.read_text(errors="replace") for p in paths if p.exists())

    def client(self) -> imaplib.IMAP4_SSL:
        """A logged-in IMAPS session as the test account (for the tests' own look at the mailbox)."""
        context = ssl.create_default_context(cafile=str(self.tls.ca_file))
        imap = imaplib.IMAP4_SSL(HOST, self.imaps_port, ssl_context=context, timeout=10)
        imap.login(USER, PASSWORD)
        return imap

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if not self.mail_dir.is_relative_to(self.directory):
            shutil.rmtree(self.mail_dir, ignore_errors=True)


def _mail_owner(directory: Path) -> tuple[Path, int, int]:
    """Where the maildir goes and whose it is. Dovecot never keeps mail as root (its userdb refuses uid 0), and
    pytest's temporary tree is private to the one running the tests: so as root the mail goes in a directory
    of its own under the system's temporary directory, owned by the package's ``dovecot`` user."""
    if os.getuid() != 0:
        return directory / "mail", os.getuid(), os.getgid()
    owner = pwd.getpwnam("dovecot")
    mail = Path(tempfile.mkdtemp(prefix="mailgui-dovecot-mail-"))
    os.chown(mail, owner.pw_uid, owner.pw_gid)
    return mail, owner.pw_uid, owner.pw_gid


def _config(
    directory: Path, tls: TLSFiles, imaps_port: int, imap_port: int, mail: tuple[Path, int, int], capabilities: str
) -> str:
    mail_dir, uid, gid = mail
    cert, key = directory / "server.pem", directory / "server.key"
    [chain] = [tls.ca.issue_cert(HOST, "localhost")]
    chain.private_key_pem.write_to_path(str(key))
    with cert.open("wb") as f:
        for blob in chain.cert_chain_pems:
            f.write(blob.bytes())
    (directory / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
    me = getpass.getuser()
    root = os.getuid() == 0
    # As root, Dovecot drops its login and internal processes to the package's own unprivileged users; as anyone
    # else it cannot change user, so every process runs as the one who started it. The auth process runs as the
    # one who started Dovecot either way: it reads the passwd-file inside pytest's private (0700) temporary tree.
    login_user, internal_user = ("dovenull", "dovecot") if root else (me, me)
    return f"""
base_dir = {directory}/run
state_dir = {directory}/state
log_path = {directory}/dovecot.log
instance_name = mailgui-test-{imaps_port}
protocols = imap
listen = {HOST}
ssl = required
ssl_cert = <{cert}
ssl_key = <{key}
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = yes
auth_failure_delay = 0
{f"imap_capability = {capabilities}" if capabilities else ""}
# The local port in each login line, so a test can tell a STARTTLS login (imap_port) from an IMAPS one.
login_log_format_elements = user=<%u> method=%m rip=%r lip=%l lport=%{{lport}} mpid=%e %c session=<%{{session}}>
auth_mechanisms = plain login
default_login_user = {login_user}
default_internal_user = {internal_user}
first_valid_uid = {uid}
first_valid_gid = {gid}
mail_location = maildir:{mail_dir}/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {directory}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={mail_dir}/%u
}}
namespace inbox {{
  inbox = yes
  separator = .
}}
service imap-login {{
  inet_listener imap {{
    address = {HOST}
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = {HOST}
    port = {imaps_port}
    ssl = yes
  }}
}}
service auth {{
  user = {me}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
"""


def _wait_listening(d: Dovecot) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if d.process.poll() is not None:
            raise RuntimeError(f"dovecot exited with {d.process.returncode}:\n{d.log}")
        try:
            with socket.create_connection((HOST, d.imap_port), timeout=1) as s:
                if s.recv(100).startswith(b"* OK"):
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"dovecot did not greet on {HOST}:{d.imap_port} within {START_TIMEOUT:g} s:\n{d.log}")
        time.sleep(0.05)  # polling a condition (the port answering) with a deadline, not waiting for time


def start_dovecot(directory: Path, capabilities: str = "") -> Dovecot:
    """Start a Dovecot; ``capabilities``: what it advertises after login instead of its own list (an older
    server's, without MOVE or UIDPLUS)."""
    binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
    if not Path(binary).exists():
        # Never a silent skip: .ci/run installs dovecot-imapd; a machine without it fails these tests loudly.
        raise RuntimeError("dovecot is not installed: apt-get install dovecot-imapd (see .ci/run)")
    directory.mkdir(parents=True, exist_ok=True)
    tls = make_tls(directory)
    imaps_port, imap_port = free_port(), free_port()
    config = directory / "dovecot.conf"
    mail = _mail_owner(directory)
    config.write_text(_config(directory, tls, imaps_port, imap_port, mail, capabilities))
    with (directory / "dovecot.out").open("wb") as out:  # what it says before its log is open (config errors)
        process = subprocess.Popen(
            [binary, "-F", "-c", str(config)], stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    d = Dovecot(process, directory, imaps_port, imap_port, tls, mail[0])
    try:
        _wait_listening(d)
    except BaseException:
        d.stop()
        raise
    return d


@pytest.fixture(scope="module")
def dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dovecot]:
    d = start_dovecot(tmp_path_factory.mktemp("dovecot"))
    yield d
    d.stop()


@pytest.fixture
def dovecot_of_its_own(tmp_path: Path) -> Iterator[Dovecot]:
    """A Dovecot for one test: for a refused login, which makes Dovecot delay every later login from 127.0.0.1
    by seconds (its auth penalty, kept by its anvil process), so it must not be the shared one."""
    d = start_dovecot(tmp_path / "dovecot")
    yield d
    d.stop()


class Mailbox:
    """The test account's mailbox, as the tests put mail in and look at it (over IMAPS, with the stdlib)."""

    def __init__(self, server: Dovecot):
        self.server = server

    def append(self, raw: bytes, folder: str = "INBOX") -> bytes:
        """Put ``raw`` in ``folder``; returns it as the server keeps it (IMAP lines end in CRLF)."""
        imap = self.server.client()
        try:
            typ, data = imap.append(folder, "", imaplib.Time2Internaldate(time.time()), raw)
            assert typ == "OK", data
        finally:
            imap.logout()
        return re.sub(rb"\r?\n", b"\r\n", raw)

    def folders(self) -> list[str]:
        imap = self.server.client()
        try:
            typ, data = imap.list()
            assert typ == "OK", data
            return sorted(line.decode().rsplit(' "." ', 1)[1].strip('"') for line in data if isinstance(line, bytes))
        finally:
            imap.logout()

    def messages(self, folder: str = "INBOX", *, deleted: bool = False) -> list[bytes]:
        """Every message in ``folder`` (none if it does not exist), in UID order, not marked deleted unless
        ``deleted`` (then those too)."""
        imap = self.server.client()
        try:
            typ, _ = imap.select(f'"{folder}"', readonly=True)
            if typ != "OK":
                return []
            typ, data = imap.uid("SEARCH", "ALL" if deleted else "UNDELETED")
            uids = data[0].split()
            out = []
            for uid in uids:
                typ, fetched = imap.uid("FETCH", uid, "(BODY.PEEK[])")
                out.extend(part[1] for part in fetched if isinstance(part, tuple))
            return out
        finally:
            imap.logout()

    def mark_deleted(self, uid: int, folder: str = "INBOX") -> None:
        """Mark one message deleted, as a mail program does before it expunges."""
        imap = self.server.client()
        try:
            assert imap.select(f'"{folder}"')[0] == "OK"
            typ, data = imap.uid("STORE", str(uid), "+FLAGS.SILENT", "(\\Deleted)")
            assert typ == "OK", data
        finally:
            imap.logout()

    def empty(self) -> None:
        """Expunge every message of every folder and delete every folder but INBOX."""
        imap = self.server.client()
        try:
            _, data = imap.list()
            names = [line.decode().rsplit(' "." ', 1)[1].strip('"') for line in data if isinstance(line, bytes)]
            for name in sorted(names, key=len, reverse=True):
                if imap.select(f'"{name}"')[0] == "OK":
                    uids = imap.uid("SEARCH", "ALL")[1][0].split()
                    if uids:
                        imap.uid("STORE", b",".join(uids).decode(), "+FLAGS.SILENT", "(\\Deleted)")
                        imap.expunge()
                    imap.close()
                if name != "INBOX":
                    with contextlib.suppress(imaplib.IMAP4.error):
                        imap.unsubscribe(f'"{name}"')
                    imap.delete(f'"{name}"')
        finally:
            imap.logout()


@pytest.fixture
def imap_mailbox(dovecot: Dovecot) -> Iterator[Mailbox]:
    mailbox = Mailbox(dovecot)
    mailbox.empty()
    yield mailbox


@pytest.fixture
def imap_settings(authorized: Queue, dovecot: Dovecot, memory_keyring: MemoryKeyring) -> Settings:
    """The queue's settings pointed at the test Dovecot over IMAPS, its password in the (in-memory) keyring."""
    settings = Settings(authorized)
    settings.set_many(
        {
            "bounces.imap.host": "127.0.0.1",
            "bounces.imap.port": str(dovecot.imaps_port),
            "bounces.imap.security": "tls",
            "bounces.imap.username": USER,
            "bounces.imap.ca_file": str(dovecot.tls.ca_file),
        }
    )
    set_password(settings, PASSWORD, "bounces.imap.password")
    return settings
