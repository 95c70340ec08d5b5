"""A private Postfix for tests: ``postfix`` (one per test module), the relay mailgui sends through, which takes
mail with ``250`` and then delivers or bounces it itself, its reports going into the test Dovecot's mailbox.

Postfix runs from the Debian package as an instance of its own: ``main.cf`` and ``master.cf`` written here, its own
queue and data directories, ``master -c <config> -d`` as a child process in a session of its own (no system config,
no systemd, no ``postfix start``), stopped by its PID (the master then ends the daemons it started). It listens on
one free 127.0.0.1 port and never reaches past loopback (no DNS, outgoing SMTP bound to 127.0.0.1, any domain it
was not told about is refused by its ``error`` transport).

Where each address goes (``LOCAL_DOMAIN``, ``BOUNCE_DOMAIN``):

- ``ok@postfix.test``: delivered (the ``discard`` transport: accepted and logged ``status=sent``);
- any other ``...@postfix.test``: accepted with ``250`` at SMTP time (``local_recipient_maps =`` empty), then the
  local delivery agent bounces it: ``5.1.1 unknown user``, a DSN written by Postfix to the envelope sender;
- ``...@unreachable.test``: relayed to a closed 127.0.0.1 port; with ``maximal_queue_lifetime = 0`` the first
  failed try bounces it (a DSN saying the connection was refused);
- ``...@example.com`` (any local part, so the senders the tests use and VERP addresses ``bounces+<id>-<token>``
  too): Postfix's ``virtual`` agent writes it into the Dovecot test account's maildir, where IMAP sees it.

Postfix's master runs only as root, as in CI (``.ci/run``); elsewhere, and where Postfix is not installed, the
fixture fails loudly instead of skipping.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.realservers.dovecot import USER, Dovecot, free_port
from tests.smtpserver import HOST

LOCAL_DOMAIN = "postfix.test"
DELIVERED = f"ok@{LOCAL_DOMAIN}"
UNKNOWN = f"no-such-user@{LOCAL_DOMAIN}"
UNREACHABLE_DOMAIN = "unreachable.test"
BOUNCE_DOMAIN = USER.rpartition("@")[2]  # example.com: its mail lands in the Dovecot account
START_TIMEOUT = 30.0  # seconds for Postfix to greet (about half a second here)
MASTER = "/usr/lib/postfix/sbin/master"

# Only what the tests need, every daemon unchrooted (a chroot would need copies of /etc files in the queue).
MASTER_CF = """\
{host}:{port} inet n - n - - smtpd
pickup     unix  n - n 60    1 pickup
cleanup    unix  n - n -     0 cleanup
qmgr       unix  n - n 300   1 qmgr
rewrite    unix  - - n -     - trivial-rewrite
bounce     unix  - - n -     0 bounce
defer      unix  - - n -     0 bounce
trace      unix  - - n -     0 bounce
verify     unix  - - n -     1 verify
flush      unix  n - n 1000? 0 flush
proxymap   unix  - - n -     - proxymap
proxywrite unix  - - n -     1 proxymap
smtp       unix  - - n -     - smtp
relay      unix  - - n -     - smtp
showq      unix  n - n -     - showq
error      unix  - - n -     - error
retry      unix  - - n -     - error
discard    unix  - - n -     - discard
local      unix  - n n -     - local
virtual    unix  - n n -     - virtual
anvil      unix  - - n -     1 anvil
scache     unix  - - n -     1 scache
postlog    unix-dgram n - n - 1 postlogd
"""


@dataclass
class Postfix:
    process: subprocess.Popen[bytes]
    directory: Path  # config in etc/, queue in queue/, data in data/, its log in maillog
    port: int

    @property
    def config(self) -> Path:
        return self.directory / "etc"

    @property
    def log(self) -> str:
        paths = [self.directory / "master.out", self.directory / "maillog"]
        return "".join(p.read_text(errors="replace") for p in paths if p.exists())

    def flush(self) -> None:
        """Ask Postfix to try every deferred message now (``postqueue -f``)."""
        subprocess.run(["postqueue", "-c", str(self.config), "-f"], check=True, capture_output=True, timeout=30)

    def queue_ids(self) -> list[str]:
        """The ids of the messages still in Postfix's queue (``postqueue -j``: one JSON object a line)."""
        out = subprocess.run(
            ["postqueue", "-c", str(self.config), "-j"], check=True, capture_output=True, timeout=30
        ).stdout
        return re.findall(r'"queue_id": "([0-9A-Za-z]+)"', out.decode())

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
        """Poll ``condition`` until it holds, flushing Postfix's queue between looks; fail with its log if it
        does not within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not condition():
            if self.process.poll() is not None:
                raise AssertionError(f"postfix exited with {self.process.returncode} waiting for {what}:\n{self.log}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} within {timeout:g} s; postfix's log:\n{self.log}")
            self.flush()
            time.sleep(0.1)  # polling a condition with a deadline, not waiting for time

    def stop(self) -> None:
        """End the master by its PID; it ends its daemons (its process group). Wait for them all to be gone."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the daemons exit on the master's SIGTERM to its group
            try:
                os.killpg(self.process.pid, 0)  # signal 0: only asks whether any is left
            except ProcessLookupError:
                break
            time.sleep(0.05)
        shutil.rmtree(self.directory, ignore_errors=True)


def _main_cf(directory: Path, dovecot: Dovecot) -> str:
    owner = dovecot.mail_dir.stat()
    return f"""\
compatibility_level = 3.6
queue_directory = {directory}/queue
data_directory = {directory}/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = {directory}/maillog
maillog_file_prefixes = {directory}
myhostname = relay.{LOCAL_DOMAIN}
mydomain = {LOCAL_DOMAIN}
myorigin = {LOCAL_DOMAIN}
mydestination = {LOCAL_DOMAIN}
inet_interfaces = {HOST}
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtp_bind_address = {HOST}
disable_dns_lookups = yes
smtp_host_lookup = native
smtpd_banner = $myhostname ESMTP
# Every address of {LOCAL_DOMAIN} is taken at SMTP time; the local agent bounces those that are no user. No
# aliases, no .forward files, no commands or files as destinations, and the system's mailboxes are never touched.
local_recipient_maps =
alias_maps =
alias_database =
forward_path =
allow_mail_to_commands =
allow_mail_to_files =
mail_spool_directory = {directory}/spool
home_mailbox =
mailbox_command =
transport_maps = texthash:{directory}/etc/transport
# Nothing leaves the test relay: a domain it was not told about is refused at once, without any lookup.
default_transport = error:5.1.2 no such domain on the test relay
relay_transport = error:5.1.2 no such domain on the test relay
recipient_delimiter = +
virtual_mailbox_domains = {BOUNCE_DOMAIN}
virtual_mailbox_base = {dovecot.mail_dir}
virtual_mailbox_maps = texthash:{directory}/etc/mailboxes
virtual_minimum_uid = 1
virtual_uid_maps = static:{owner.st_uid}
virtual_gid_maps = static:{owner.st_gid}
# A message the next hop never took bounces after the first failed try.
maximal_queue_lifetime = 0
bounce_queue_lifetime = 0
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
smtp_connect_timeout = 5s
"""


def _wait_listening(p: Postfix) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if p.process.poll() is not None:
            raise RuntimeError(f"postfix's master exited with {p.process.returncode}:\n{p.log}")
        try:
            with socket.create_connection((HOST, p.port), timeout=1) as s:
                if s.recv(100).startswith(b"220"):
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"postfix did not greet on {HOST}:{p.port} within {START_TIMEOUT:g} s:\n{p.log}")
        time.sleep(0.05)  # polling a condition (the port answering) with a deadline, not waiting for time


def start_postfix(dovecot: Dovecot) -> Postfix:
    """Start a Postfix whose reports to ``BOUNCE_DOMAIN`` go into ``dovecot``'s test account."""
    if not (shutil.which("postconf") and Path(MASTER).exists()):
        # Never a silent skip: .ci/run installs postfix; a machine without it fails these tests loudly.
        raise RuntimeError("postfix is not installed: apt-get install postfix (see .ci/run)")
    if os.getuid() != 0:
        raise RuntimeError("postfix's master runs only as root: run these tests as root (as .ci/run does in CI)")
    # Not under pytest's temporary tree: that is private to root, and Postfix's daemons run as its own user.
    directory = Path(tempfile.mkdtemp(prefix="mailgui-postfix-"))
    directory.chmod(0o755)
    etc = directory / "etc"
    for sub in ("etc", "queue", "data", "spool"):
        (directory / sub).mkdir()
    shutil.chown(directory / "data", "postfix")
    port = free_port()
    unreachable = free_port()  # bound and let go: nothing listens there
    (etc / "main.cf").write_text(_main_cf(directory, dovecot))
    (etc / "master.cf").write_text(MASTER_CF.format(host=HOST, port=port))
    (etc / "transport").write_text(
        f"{DELIVERED} discard:delivered by the test relay\n{UNREACHABLE_DOMAIN} smtp:[{HOST}]:{unreachable}\n"
    )
    (etc / "mailboxes").write_text(f"@{BOUNCE_DOMAIN} {USER}/\n")  # a maildir: the Dovecot account's
    # The queue's subdirectories with their owners (the package's post-install), then the master in the foreground.
    check = subprocess.run(
        ["postfix", "-c", str(etc), "check"], capture_output=True, text=True, timeout=60, check=False
    )
    if check.returncode != 0:
        log = (directory / "maillog").read_text(errors="replace") if (directory / "maillog").exists() else ""
        shutil.rmtree(directory, ignore_errors=True)
        raise RuntimeError(f"postfix check failed ({check.returncode}): {check.stdout}{check.stderr}{log}")
    with (directory / "master.out").open("wb") as out:
        # A session of its own: the master stops its daemons by signalling its process group, which must be its own.
        process = subprocess.Popen(
            [MASTER, "-c", str(etc), "-d"], stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    p = Postfix(process, directory, port)
    try:
        _wait_listening(p)
    except BaseException:
        p.stop()
        raise
    return p


@pytest.fixture(scope="module")
def postfix(dovecot: Dovecot) -> Iterator[Postfix]:
    p = start_postfix(dovecot)
    yield p
    p.stop()


def send(p: Postfix, sender: str, recipients: list[str], raw: bytes) -> None:
    """Hand one message to Postfix with the stdlib (for the fixture's own test)."""
    with smtplib.SMTP(HOST, p.port, timeout=10) as smtp:
        refused = smtp.sendmail(sender, recipients, raw)
    assert refused == {}, refused
