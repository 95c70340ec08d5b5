"""A message shown in tabs (text, HTML, headers, raw source), with no remote content ever loaded.

Shared by the queue's details pane and the Mailbox view.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage, MIMEPart
from functools import cache
from typing import Any
from urllib.parse import unquote_to_bytes

from PySide6.QtCore import QByteArray, QUrl, Signal
from PySide6.QtGui import QColor, QFont, QFontDatabase, QImage, QTextDocument
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QTabWidget, QTextBrowser, QVBoxLayout, QWidget

log = logging.getLogger(__name__)

RAW_LIMIT = 2_000_000  # characters of raw source shown; a message with big attachments is cut, and says so


@dataclass
class ParsedMessage:
    text: str | None = None
    html: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    inline: dict[str, bytes] = field(default_factory=dict)  # Content-ID → bytes, for cid: images
    attachments: list[tuple[str, str, int]] = field(default_factory=list)  # (filename, type, size)
    error: str | None = None


def parse(raw: bytes) -> ParsedMessage:
    """The parts a reader wants from a message. Never raises: a malformed message says what went wrong."""
    out = ParsedMessage()
    try:
        msg = message_from_bytes(raw, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        for name, value in msg.items():
            try:
                out.headers.append((name, " ".join(str(value).split())))
            except Exception:  # a malformed encoded word: show it undecoded rather than lose the header
                out.headers.append((name, str(msg.get_all(name, [""])[0])))
        plain = msg.get_body(preferencelist=("plain",))
        html = msg.get_body(preferencelist=("html",))
        if plain is not None:
            out.text = _content(plain)
        if html is not None:
            out.html = _content(html)
        for part in msg.walk():
            cid = part.get("Content-ID")
            if cid and not part.is_multipart():
                payload = part.get_payload(decode=True)
                if isinstance(payload, bytes):
                    out.inline[str(cid).strip().strip("<>")] = payload
        for part in msg.iter_attachments():
            payload = part.get_payload(decode=True)
            size = len(payload) if isinstance(payload, bytes) else 0
            out.attachments.append((part.get_filename() or "(unnamed)", part.get_content_type(), size))
    except Exception as exc:
        log.warning("cannot parse a message for display: %s", exc)
        out.error = f"This message could not be read completely: {exc}"
    return out


def _content(part: MIMEPart) -> str:
    try:
        return str(part.get_content())
    except (LookupError, ValueError):  # unknown charset: show the bytes as well as we can
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else str(payload)


class SafeTextBrowser(QTextBrowser):
    """Renders HTML mail without loading anything from outside the message.

    Qt asks ``loadResource`` for every image and style sheet; only ``cid:`` parts of this message and ``data:``
    URLs are answered. Everything else (http, https, ftp, file, relative paths) is refused and counted, so a
    tracking pixel never reports that the mail was read. Links are not followed inside the pane.
    """

    remoteBlocked = Signal(int)  # how many outside resources were refused so far

    def __init__(self, parent: Any = None):
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.blocked: list[str] = []
        self.inline: dict[str, bytes] = {}

    def set_message_html(self, html: str, inline: dict[str, bytes]) -> None:
        self.blocked = []
        self.inline = inline
        self.setHtml(html)

    def loadResource(self, type: int, name: QUrl | str) -> Any:
        if isinstance(name, str):
            name = QUrl(name)
        scheme = name.scheme().lower()
        if scheme == "cid":
            data = self.inline.get(unquote_to_bytes(name.path()).decode("utf-8", "replace"))
            if data is not None:
                return QByteArray(data)
        elif scheme == "data":
            data = _data_url(name.toString())
            if data is not None:
                return QByteArray(data)
        url = name.toString()
        if url not in self.blocked:
            self.blocked.append(url)
            self.remoteBlocked.emit(len(self.blocked))
        if type == QTextDocument.ResourceType.ImageResource:
            return _blocked_image()  # a quiet grey box of the image's size, not Qt's broken-image picture
        return None


@cache
def _blocked_image() -> QImage:
    image = QImage(1, 1, QImage.Format.Format_ARGB32)
    image.fill(QColor("#eceff1"))
    return image


def _data_url(url: str) -> bytes | None:
    head, sep, body = url.partition(",")
    if not sep:
        return None
    try:
        return base64.b64decode(body) if head.endswith(";base64") else unquote_to_bytes(body)
    except ValueError:
        return None


def _monospace(widget: QWidget) -> None:
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    font.setStyleHint(QFont.StyleHint.Monospace)
    widget.setFont(font)


def _reader() -> QPlainTextEdit:
    view = QPlainTextEdit()
    view.setReadOnly(True)
    view.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
    return view


class MessageTabs(QTabWidget):
    """Text, HTML, Headers and Raw source of one message; callers may add tabs of their own."""

    def __init__(self, parent: Any = None):
        super().__init__(parent)
        self.setDocumentMode(True)
        self.text_view = _reader()
        html_page = QWidget()
        html_layout = QVBoxLayout(html_page)
        html_layout.setContentsMargins(0, 0, 0, 0)
        html_layout.setSpacing(0)
        self.blocked_notice = QLabel()
        self.blocked_notice.setObjectName("noticeBar")
        self.blocked_notice.setProperty("role", "hint")
        self.blocked_notice.setContentsMargins(8, 4, 8, 4)
        self.blocked_notice.setWordWrap(True)
        self.blocked_notice.hide()
        self.html_view = SafeTextBrowser()
        self.html_view.remoteBlocked.connect(self._show_blocked)
        html_layout.addWidget(self.blocked_notice)
        html_layout.addWidget(self.html_view)
        self.headers_view = _reader()
        _monospace(self.headers_view)
        self.raw_view = _reader()
        self.raw_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        _monospace(self.raw_view)
        self.text_index = self.addTab(self.text_view, "Text")
        self.html_index = self.addTab(html_page, "HTML")
        self.headers_index = self.addTab(self.headers_view, "Headers")
        self.raw_index = self.addTab(self.raw_view, "Raw source")
        self.parsed = ParsedMessage()

    def clear_message(self) -> None:
        self.set_message(None)

    def set_message(self, raw: bytes | None) -> None:
        self.blocked_notice.hide()
        if raw is None:
            self.parsed = ParsedMessage()
            for view in (self.text_view, self.headers_view, self.raw_view):
                view.clear()
            self.html_view.set_message_html("", {})
            return
        self.parsed = p = parse(raw)
        text = p.text if p.text is not None else "(This message has no plain-text part; see the HTML tab.)"
        if p.attachments:
            listing = "\n".join(f"  {name} ({ctype}, {size_text(size)})" for name, ctype, size in p.attachments)
            text += f"\n\n── Attachments ──\n{listing}"
        if p.error:
            text = f"{p.error}\n\n{text}"
        self.text_view.setPlainText(text)
        self.setTabEnabled(self.html_index, p.html is not None)
        if p.html is not None:
            self.html_view.set_message_html(p.html, p.inline)
        else:
            self.html_view.set_message_html("", {})
        self.headers_view.setPlainText("\n".join(f"{k}: {v}" for k, v in p.headers))
        source = raw.decode("utf-8", "replace")
        if len(source) > RAW_LIMIT:
            source = source[:RAW_LIMIT] + f"\n\n[… {len(source) - RAW_LIMIT:,} more characters not shown]"
        self.raw_view.setPlainText(source)
        if p.text is None and p.html is not None and self.currentIndex() == self.text_index:
            self.setCurrentIndex(self.html_index)
        # Lay the HTML out now, so refused resources are counted before anyone looks.
        document: QTextDocument = self.html_view.document()
        document.setTextWidth(max(self.html_view.viewport().width(), 400))
        document.size()

    def _show_blocked(self, count: int) -> None:
        self.blocked_notice.setText(
            f"Remote content blocked ({count} item{'s' if count != 1 else ''}): images and styles from the "
            "internet are never loaded, so senders cannot see when you read this."
        )
        self.blocked_notice.show()


def size_text(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n / (1024 * 1024):.1f} MB"


def text_of(raw: bytes) -> str:
    """The readable text of a message: its plain part, plus any delivery-status part (for bounce reports)."""
    try:
        msg = message_from_bytes(raw, policy=policy.default)
    except Exception as exc:
        return f"(could not read the report: {exc})"
    chunks: list[str] = []
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "text/plain" and not part.get_filename():
            chunks.append(_content(part))
        elif ctype == "message/delivery-status":
            status = []
            for block in part.get_payload():
                if hasattr(block, "items"):
                    status.append("\n".join(f"{k}: {v}" for k, v in block.items()))
            chunks.append("── Delivery status ──\n" + "\n\n".join(status))
    return "\n\n".join(c.strip("\n") for c in chunks) or "(no readable text)"
