"""Reports that come back by mail to an IMAP mailbox (``bounces.imap.*``): read, recorded in the queue, filed.

A relay answers ``250`` and the bounce arrives later, as mail to the envelope sender. :func:`fetch_once` logs in,
reads every message of ``bounces.imap.folder`` (``BODY.PEEK[]``: nothing is marked read), parses each
(:func:`mailgui.bounces.parse_report`) and records every report in the queue (``record_report``: the same bytes
twice change nothing twice). What happens to the message then:

- a bounce, delay or complaint that matched a message of this queue is moved to
  ``bounces.imap.processed_folder`` (made if missing; ``MOVE`` where offered, else ``COPY``, ``\\Deleted`` and
  ``UID EXPUNGE`` of that one UID). Nothing is ever deleted. It moves only once the queue has committed it: a
  crash in between leaves it where it was, and the next read finds it recorded already and moves it then.
- a report that matched nothing stays where it is. The mailbox may be a person's, shared with their own mail
  program: a bounce about mail they sent themselves is theirs to see, and a forged report must not be able to
  make mailgui file mail away. It is kept in the queue's unmatched list all the same.
- an auto-reply (recorded: shown, never a bounce) and anything that is not a report stay where they are: a
  person wrote them, or they are not ours.
- a message over 10 MiB is not read (one log line) and stays where it is.

The client is the standard library's ``imaplib``, each network step on a thread (``asyncio.to_thread``), one
step at a time; why not an asyncio client is in docs/DESIGN.md.
"""

from __future__ import annotations

import asyncio
import base64
import imaplib
import ipaddress
import logging
import re
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol, TypeVar

from mailgui.bounces import Kind, Report, is_own_report, parse_report
from mailgui.delivery.reporting import late_report_writer
from mailgui.delivery.target import local_hostname
from mailgui.errors import MailboxError
from mailgui.queue import ReceivedReport
from mailgui.queue.late_reports import ReportWriter
from mailgui.settings import Settings, get_password

log = logging.getLogger(__name__)

# Matched by VERP, a bounce went to the VERP address: mailgui tells the sender itself.
_SENDER_REPORTS = late_report_writer(local_hostname())

MAX_REPORT_SIZE = 10 * 1024 * 1024  # bytes; a larger message is not read (a report is a few KiB plus what it returns)
STEP_TIMEOUT = 30.0  # seconds for each network step (connect, each read)
MOVED_KINDS = frozenset({Kind.BOUNCE, Kind.DELAY, Kind.COMPLAINT})
_PASSWORD_KEY = "bounces.imap.password"

T = TypeVar("T")


class ReportRecorder(Protocol):
    """Where reports go: the queue (``Queue.record_report``)."""

    def record_report(
        self,
        raw: bytes,
        report: Report,
        source: str,
        *,
        verp_id: int | None = None,
        report_writer: ReportWriter | None = None,
    ) -> ReceivedReport:
        """Keep ``report`` and apply it to the message it is about."""
        ...


def is_loopback_host(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ImapAccount:
    """The bounce mailbox. ``folder`` and ``processed_folder`` name levels with '/', whatever the server uses."""

    host: str
    username: str
    password: str = field(repr=False)
    port: int = 993
    security: str = "tls"  # tls (implicit, 993), starttls (143), none (plain text: loopback only)
    folder: str = "INBOX"
    processed_folder: str = "mailgui/processed"
    ca_file: str = ""  # extra CA bundle to trust; certificate checks stay on
    timeout: float = STEP_TIMEOUT

    def __post_init__(self) -> None:
        if not self.host:
            raise MailboxError("bounces.imap.host: no IMAP host is set (mailgui config set bounces.imap.host ...)")
        if not self.username:
            raise MailboxError("bounces.imap.username: no IMAP user is set")
        if self.security not in ("tls", "starttls", "none"):
            raise MailboxError(f"bounces.imap.security: {self.security!r} is not valid: expected tls, starttls or none")
        if self.security == "none" and not is_loopback_host(self.host):
            raise MailboxError(
                f"bounces.imap.security: 'none' would send the password to {self.host} in plain text; "
                "it is allowed only to a loopback host (127.0.0.1, ::1, localhost): use tls or starttls"
            )

    @property
    def source(self) -> str:
        """How the queue names where a report came from: 'imap imap.example.com/INBOX'."""
        return f"imap {self.host}/{self.folder}"


def account_from_settings(settings: Settings) -> ImapAccount:
    """The ``bounces.imap.*`` mailbox as configured, its password from the OS keyring."""
    host, username = settings.get("bounces.imap.host"), settings.get("bounces.imap.username")
    password = get_password(settings, _PASSWORD_KEY) if host and username else None
    if host and username and password is None:
        raise MailboxError(
            f"{_PASSWORD_KEY}: no password is kept in the OS keyring for {username}@{host}; "
            f"set it with `mailgui config set {_PASSWORD_KEY} --stdin`"
        )
    return ImapAccount(
        host=host,
        username=username,
        password=password or "",
        port=settings.get_int("bounces.imap.port"),
        security=settings.get("bounces.imap.security"),
        folder=settings.get("bounces.imap.folder"),
        processed_folder=settings.get("bounces.imap.processed_folder"),
        ca_file=settings.get("bounces.imap.ca_file"),
    )


def tls_context(account: ImapAccount) -> ssl.SSLContext:
    """The system's trusted CAs, plus ``ca_file`` if set. Hostname and certificate checks always on."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if account.ca_file:
        try:
            context.load_verify_locations(cafile=account.ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise MailboxError(f"bounces.imap.ca_file: cannot load {account.ca_file}: {exc}") from exc
    return context


def _modified_utf7(name: str) -> str:
    """A mailbox name as IMAP writes it (RFC 3501 5.1.3): printable ASCII as is, '&' as '&-', the rest base64."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            b64 = base64.b64encode("".join(pending).encode("utf-16-be")).decode("ascii")
            out.append("&" + b64.rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    return "".join(out)


def _quoted(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _text(data: Sequence[object]) -> str:
    """The server's words in a response, for an error message."""
    parts = [d.decode("utf-8", "replace") if isinstance(d, bytes) else str(d) for d in data if d is not None]
    return " ".join(" ".join(parts).split())[:300] or "no reason given"


_UID = re.compile(rb"\bUID (\d+)")
_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")
_FLAGS = re.compile(rb"\bFLAGS \(([^)]*)\)")
_LIST_DELIMITER = re.compile(rb'^\([^)]*\) (?:"((?:[^"\\]|\\.)*)"|NIL)')


@dataclass(frozen=True)
class Listed:
    uid: int
    size: int


class MailboxSession:
    """One IMAP session with the bounce mailbox (``imaplib``; blocking: each method runs on a thread)."""

    def __init__(self, account: ImapAccount):
        self.account = account
        self.imap: imaplib.IMAP4 | None = None
        self.capabilities: frozenset[str] = frozenset()
        self.delimiter: str | None = None
        self._processed_ready = False

    @property
    def where(self) -> str:
        return f"{self.account.host}:{self.account.port}"

    # -- opening ----------------------------------------------------------------------------------------
    def open(self) -> None:
        """Connect, secure, log in and select the folder; MailboxError naming the setting if any step fails."""
        a = self.account
        try:
            if a.security == "tls":
                self.imap = imaplib.IMAP4_SSL(a.host, a.port, ssl_context=tls_context(a), timeout=a.timeout)
            else:
                self.imap = imaplib.IMAP4(a.host, a.port, timeout=a.timeout)
                if a.security == "starttls":
                    self._starttls()
        except ssl.SSLCertVerificationError as exc:
            raise MailboxError(
                f"bounces.imap.security: the certificate of {self.where} was not accepted: {exc.verify_message}"
                " (set bounces.imap.ca_file to trust a private CA)"
            ) from exc
        except (OSError, imaplib.IMAP4.error) as exc:
            self.close()
            raise MailboxError(f"bounces.imap.host: cannot connect to {self.where} ({a.security}): {exc}") from exc
        except MailboxError:
            self.close()
            raise
        self._login()
        self._select()

    def _starttls(self) -> None:
        assert self.imap is not None
        if "STARTTLS" not in self.imap.capabilities:
            raise MailboxError(
                f"bounces.imap.security: {self.where} does not offer STARTTLS; not logging in without TLS "
                "(use tls on port 993, if it has it)"
            )
        # imaplib makes a new reader on the TLS socket: whatever the server sent before the handshake, unasked,
        # is dropped rather than read as if it came over TLS (the rule of Postfix's CVE-2011-0411 fix).
        self.imap.starttls(ssl_context=tls_context(self.account))

    def _login(self) -> None:
        assert self.imap is not None
        a = self.account
        try:
            self.imap.login(a.username, a.password)
        except imaplib.IMAP4.abort as exc:
            raise MailboxError(f"bounces.imap.host: {self.where} closed the connection during login: {exc}") from exc
        except imaplib.IMAP4.error as exc:
            reason = _text([exc.args[0]] if exc.args else [])
            raise MailboxError(f"{_PASSWORD_KEY}: {self.where} refused the login of {a.username!r}: {reason}") from exc
        # The capabilities before login are not those after (MOVE, UIDPLUS come with the login).
        typ, data = self.imap.capability()
        if typ == "OK" and data and isinstance(data[0], bytes):
            self.capabilities = frozenset(data[0].decode("ascii", "replace").upper().split())
        self.delimiter = self._delimiter()

    def _delimiter(self) -> str | None:
        assert self.imap is not None
        typ, data = self.imap.list('""', '""')
        for line in data if typ == "OK" else []:
            if isinstance(line, bytes) and (m := _LIST_DELIMITER.match(line)) and m.group(1):
                return m.group(1).decode("ascii", "replace").replace("\\\\", "\\")
        return None

    def server_name(self, folder: str) -> str:
        """``folder`` (levels separated by '/') as this server names it: its separator, modified UTF-7, quoted."""
        if self.delimiter and self.delimiter != "/":
            folder = folder.replace("/", self.delimiter)
        return _quoted(_modified_utf7(folder))

    def _select(self) -> None:
        assert self.imap is not None
        typ, data = self.imap.select(self.server_name(self.account.folder))
        if typ != "OK":
            raise MailboxError(
                f"bounces.imap.folder: cannot open {self.account.folder!r} on {self.where}: {_text(data)}"
            )

    # -- reading ----------------------------------------------------------------------------------------
    def listing(self) -> list[Listed]:
        """The folder's messages not marked deleted, oldest first, with their sizes."""
        imap = self._session()
        typ, data = imap.uid("SEARCH", "UNDELETED")
        self._check(typ, data, "SEARCH")
        uids = data[0].split() if data and isinstance(data[0], bytes) else []
        if not uids:
            return []
        typ, data = imap.uid("FETCH", ",".join(u.decode() for u in uids), "(UID RFC822.SIZE FLAGS)")
        self._check(typ, data, "FETCH")
        listed = []
        for item in data:
            line = item[0] if isinstance(item, tuple) else item
            if not isinstance(line, bytes):
                continue
            uid, size, flags = _UID.search(line), _SIZE.search(line), _FLAGS.search(line)
            if uid is None or size is None or (flags is not None and b"\\Deleted" in flags.group(1)):
                continue
            listed.append(Listed(int(uid.group(1)), int(size.group(1))))
        return sorted(listed, key=lambda m: m.uid)

    def fetch(self, uid: int) -> bytes | None:
        """The message as it is (``BODY.PEEK[]``: not marked seen); None if it is gone meanwhile."""
        imap = self._session()
        typ, data = imap.uid("FETCH", str(uid), "(BODY.PEEK[])")
        self._check(typ, data, "FETCH")
        for item in data:
            if isinstance(item, tuple) and b"BODY[]" in item[0] and _uid_is(item[0], uid):
                return bytes(item[1])
        return None

    # -- filing -----------------------------------------------------------------------------------------
    def move_to_processed(self, uid: int) -> None:
        """Move one message to the processed folder. Never deletes: without MOVE it is copied first, then only
        that UID is expunged (UIDPLUS), or, on a server without UIDPLUS, left marked \\Deleted for the user's
        mail program to expunge (a plain EXPUNGE would also remove what the user marked deleted)."""
        imap = self._session()
        self._ensure_processed()
        target = self.server_name(self.account.processed_folder)
        if "MOVE" in self.capabilities:
            typ, data = imap.uid("MOVE", str(uid), target)
            self._check(typ, data, "MOVE")
            return
        typ, data = imap.uid("COPY", str(uid), target)
        self._check(typ, data, "COPY")
        typ, data = imap.uid("STORE", str(uid), "+FLAGS.SILENT", "(\\Deleted)")
        self._check(typ, data, "STORE")
        if "UIDPLUS" in self.capabilities:
            typ, data = imap.uid("EXPUNGE", str(uid))
            self._check(typ, data, "UID EXPUNGE")
        else:
            log.info(
                "imap %s: no MOVE or UIDPLUS: message UID %d copied to %s and marked deleted, not expunged",
                self.where,
                uid,
                self.account.processed_folder,
            )

    def _ensure_processed(self) -> None:
        if self._processed_ready:
            return
        imap = self._session()
        name = self.server_name(self.account.processed_folder)
        typ, data = imap.list('""', name)
        exists = typ == "OK" and any(isinstance(line, bytes) and b"\\NonExistent" not in line for line in data)
        if not exists:
            typ, data = imap.create(name)
            if typ != "OK" and b"ALREADYEXISTS" not in b" ".join(d for d in data if isinstance(d, bytes)):
                raise MailboxError(
                    f"bounces.imap.processed_folder: cannot make {self.account.processed_folder!r} on "
                    f"{self.where}: {_text(data)}"
                )
            imap.subscribe(name)  # so the user's mail program shows it; a refusal changes nothing here
            log.info("imap %s: made the folder %s for reports read", self.where, self.account.processed_folder)
        self._processed_ready = True

    # -- ending -----------------------------------------------------------------------------------------
    def close(self) -> None:
        imap, self.imap = self.imap, None
        if imap is None:
            return
        try:
            imap.logout()
        except (OSError, imaplib.IMAP4.error) as exc:  # the session is over either way
            log.debug("imap %s: logout: %s", self.where, exc)

    def _session(self) -> imaplib.IMAP4:
        if self.imap is None:
            raise MailboxError(f"imap {self.where}: not connected")
        return self.imap

    def _check(self, typ: str, data: Sequence[object], command: str) -> None:
        if typ != "OK":
            raise MailboxError(f"imap {self.where}: {command} in {self.account.folder!r} refused: {_text(data)}")


def _uid_is(line: bytes, uid: int) -> bool:
    m = _UID.search(line)
    return m is None or int(m.group(1)) == uid  # a server may leave UID out of a UID FETCH's answer: it is ours


async def _step(fn: Callable[[], T], where: str) -> T:
    """One blocking network step on a thread; a dropped connection becomes a MailboxError naming the server."""
    try:
        return await asyncio.to_thread(fn)
    except imaplib.IMAP4.abort as exc:
        raise MailboxError(f"imap {where}: the connection was lost: {exc}") from exc
    except imaplib.IMAP4.error as exc:
        raise MailboxError(f"imap {where}: the server refused a command: {exc}") from exc
    except OSError as exc:
        raise MailboxError(f"imap {where}: the connection failed: {exc}") from exc


async def read_mailbox(recorder: ReportRecorder, account: ImapAccount) -> list[ReceivedReport]:
    """Read ``account``'s folder once (see the module's doc); the reports recorded, in the folder's order
    (``duplicate`` set on those recorded before)."""
    session = MailboxSession(account)
    where = session.where
    recorded: list[ReceivedReport] = []
    try:
        await _step(session.open, where)
        for listed in await _step(session.listing, where):
            if listed.size > MAX_REPORT_SIZE:
                log.warning(
                    "imap %s/%s: message UID %d is %d bytes, over the %d MiB a report may be: not read, left there",
                    where,
                    account.folder,
                    listed.uid,
                    listed.size,
                    MAX_REPORT_SIZE >> 20,
                )
                continue
            raw = await _step(partial(session.fetch, listed.uid), where)
            if raw is None:
                log.info("imap %s/%s: message UID %d went away before it was read", where, account.folder, listed.uid)
                continue
            if is_own_report(raw):  # mailgui's own report to the sender: theirs to read, not a report received
                continue
            report = await asyncio.to_thread(parse_report, raw)
            if report.kind == Kind.OTHER:
                continue
            got = recorder.record_report(raw, report, account.source, report_writer=_SENDER_REPORTS)
            recorded.append(got)
            if got.message_id is not None and report.kind in MOVED_KINDS:
                await _step(partial(session.move_to_processed, listed.uid), where)
            log.info(
                "imap %s/%s: message UID %d is a %s report about %s%s",
                where,
                account.folder,
                listed.uid,
                report.kind,
                "no message of this queue" if got.message_id is None else f"message #{got.message_id}",
                " (recorded before)" if got.duplicate else "",
            )
    finally:
        await asyncio.to_thread(session.close)
    return recorded


async def fetch_once(recorder: ReportRecorder, settings: Settings) -> list[ReceivedReport]:
    """Read the ``bounces.imap.*`` mailbox once into ``recorder`` (the queue). MailboxError if it cannot be
    read: the message names the setting to look at."""
    return await read_mailbox(recorder, account_from_settings(settings))
