"""Attachments: the name a file goes out under, the types that are blocked, and the Content-ID of an inline part.

Pure: no I/O.
"""

from __future__ import annotations

import mimetypes
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence, Sized
from dataclasses import dataclass
from typing import Any

from mailgui.addresses import check_header_text
from mailgui.errors import InvalidAttachmentError, InvalidAttachmentTypeError, InvalidHeaderValueError
from mailgui.payload import EncodedPayload

# App Engine's map of extensions to types (google.appengine.api.mail.EXTENSION_MIME_MAP), as it is.
EXTENSION_MIME_MAP: dict[str, str] = {
    "aif": "audio/x-aiff",
    "aifc": "audio/x-aiff",
    "aiff": "audio/x-aiff",
    "asc": "text/plain",
    "au": "audio/basic",
    "avi": "video/x-msvideo",
    "bmp": "image/x-ms-bmp",
    "c": "text/plain",
    "css": "text/css",
    "csv": "text/csv",
    "doc": "application/msword",
    "docx": "application/msword",
    "diff": "text/plain",
    "flac": "audio/flac",
    "gif": "image/gif",
    "gzip": "application/x-gzip",
    "htm": "text/html",
    "html": "text/html",
    "ics": "text/calendar",
    "jpe": "image/jpeg",
    "jpeg": "image/jpeg",
    "jpg": "image/jpeg",
    "kml": "application/vnd.google-earth.kml+xml",
    "kmz": "application/vnd.google-earth.kmz",
    "log": "text/plain",
    "m4a": "audio/mp4",
    "mid": "audio/mid",
    "mov": "video/quicktime",
    "mp3": "audio/mpeg",
    "mp4": "video/mp4",
    "mpe": "video/mpeg",
    "mpeg": "video/mpeg",
    "mpg": "video/mpeg",
    "odp": "application/vnd.oasis.opendocument.presentation",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "odt": "application/vnd.oasis.opendocument.text",
    "oga": "audio/ogg",
    "ogg": "audio/ogg",
    "ogv": "video/ogg",
    "patch": "text/plain",
    "pdf": "application/pdf",
    "png": "image/png",
    "pot": "text/plain",
    "pps": "application/vnd.ms-powerpoint",
    "ppt": "application/vnd.ms-powerpoint",
    "pptx": "application/vnd.ms-powerpoint",
    "qt": "video/quicktime",
    "rmi": "audio/mid",
    "rss": "text/rss+xml",
    "snd": "audio/basic",
    "sxc": "application/vnd.sun.xml.calc",
    "sxw": "application/vnd.sun.xml.writer",
    "text": "text/plain",
    "tif": "image/tiff",
    "tiff": "image/tiff",
    "txt": "text/plain",
    "vcf": "text/directory",
    "wav": "audio/x-wav",
    "wbmp": "image/vnd.wap.wbmp",
    "webm": "video/webm",
    "webp": "image/webp",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.ms-excel",
    "zip": "application/zip",
}

# App Engine's blocked extensions (EXTENSION_BLACKLIST), as it is.
EXTENSION_BLACKLIST: list[str] = [
    "ade",
    "adp",
    "bat",
    "chm",
    "cmd",
    "com",
    "cpl",
    "exe",
    "hta",
    "ins",
    "isp",
    "jse",
    "lib",
    "mde",
    "msc",
    "msp",
    "mst",
    "pif",
    "scr",
    "sct",
    "shb",
    "sys",
    "vb",
    "vbe",
    "vbs",
    "vxd",
    "wsc",
    "wsf",
    "wsh",
]

# What mailgui blocks: App Engine's list, plus script and installer types that arrived after it was written.
BLOCKED_EXTENSIONS = frozenset(EXTENSION_BLACKLIST) | {"app", "jar", "js", "lnk", "msi", "ps1", "psm1", "reg", "scf"}

# Marks that change the order a name is shown in: "invoice\u202efdp.exe" shows as "invoiceexe.pdf".
_BIDI_MARKS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Windows drops trailing dots and spaces when it saves a file ("a.exe." is saved as "a.exe"); any trailing
# whitespace goes, so the type checked is the type the reader's system sees.
_TRAILING = re.compile(r"[\s.]+\Z")


def attachment_name(filename: str) -> str:
    """The name an attachment goes out under (NFC, no trailing dots or whitespace), or raise.

    The blocked-type check reads the normalized name, so trailing dots or spaces cannot hide a type.
    """
    if not isinstance(filename, str) or not filename.strip():
        raise InvalidAttachmentTypeError("attachments: every attachment needs a file name")
    check_header_text(filename, "attachments", f"file name {filename!r}")
    mark = _BIDI_MARKS.search(filename)
    if mark is not None:
        raise InvalidAttachmentTypeError(
            f"attachments: file name {filename!r} contains a bidirectional control character "
            f"(U+{ord(mark.group()):04X}) at position {mark.start() + 1}, which can disguise the file's type"
        )
    name = _TRAILING.sub("", unicodedata.normalize("NFC", filename).strip())
    if not name:
        raise InvalidAttachmentTypeError("attachments: every attachment needs a file name")
    # "a.exe::$DATA" is a.exe on Windows (an NTFS stream name): the type is read before the first colon too.
    for candidate in (name, _TRAILING.sub("", name.partition(":")[0].strip())):
        ext = candidate.rsplit(".", 1)[-1].lower() if "." in candidate else ""
        if ext in BLOCKED_EXTENSIONS:
            raise InvalidAttachmentTypeError(
                f"attachments: {filename!r} is blocked: .{ext} files can carry executable code"
            )
    return name


# A Content-ID is a msg-id (RFC 2392, RFC 5322 section 3.6.4): dot-atom text, or a domain literal after the @.
# The @ is not required: App Engine's own examples write content_id="<image>". Long ones would break the
# 998-character line limit (a msg-id cannot be folded).
_CONTENT_ID = re.compile(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.@\[\]]{1,900}")


def check_content_id(content_id: object, filename: str) -> None:
    """Raise InvalidHeaderValueError naming the attachment unless ``content_id`` is a msg-id (brackets optional)."""
    if content_id is None or content_id == "":
        return
    what = f"the content_id of {filename!r}"
    if not isinstance(content_id, str):
        raise InvalidHeaderValueError(f"attachments: {what} must be a string, not {type(content_id).__name__}")
    check_header_text(content_id, "attachments", what)
    inner = content_id[1:-1] if content_id.startswith("<") and content_id.endswith(">") else content_id
    if not _CONTENT_ID.fullmatch(inner):
        raise InvalidHeaderValueError(
            f"attachments: {what} is not a valid Content-ID: {content_id!r} must be like <part1@example.com>, "
            "ASCII letters, digits and !#$%&'*+-/=?^_`{|}~.@ only, no spaces, up to 900 characters"
        )


class Attachment:
    """A file to attach, as App Engine's ``mail.Attachment``: a ``(filename, payload)`` pair that can also carry a
    Content-ID (keyword only) for inline use.

    Kept as given, like a tuple: it unpacks, indexes, compares and hashes as ``(filename, payload)`` (with a
    Content-ID, it equals only the triple). The payload may be bytes, a string or an EncodedPayload. What it
    holds is checked when the message is checked or sent (:func:`attachment_part`), as App Engine does.
    """

    __slots__ = ("content_id", "filename", "payload")

    def __init__(self, filename: Any, payload: Any, *, content_id: Any = None):
        self.filename = filename
        self.payload = payload
        self.content_id = content_id

    def __eq__(self, other: object) -> bool:
        mine = (self.filename, self.payload, self.content_id)
        if isinstance(other, Attachment):
            return mine == (other.filename, other.payload, other.content_id)
        if not isinstance(other, Sized) or not isinstance(other, Iterable):
            return NotImplemented
        if len(other) == 2:
            return mine == (*other, None)
        if len(other) == 3:
            return mine == tuple(other)
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        if self.content_id:
            return hash((self.filename, self.payload, self.content_id))
        return hash((self.filename, self.payload))

    def __iter__(self) -> Iterator[Any]:
        return iter((self.filename, self.payload))

    def __getitem__(self, i: int | slice) -> Any:
        return (self.filename, self.payload)[i]

    def __contains__(self, value: object) -> bool:
        return value in (self.filename, self.payload)

    def __len__(self) -> int:
        return 2

    def __repr__(self) -> str:
        cid = f", content_id={self.content_id!r}" if self.content_id is not None else ""
        return f"Attachment({self.filename!r}, {self.payload!r}{cid})"

    @property
    def content_type(self) -> str:
        return content_type_of(self.filename)


@dataclass(frozen=True)
class AttachmentPart:
    """An attachment checked for sending: the name it goes out under, its bytes, and its Content-ID."""

    filename: str
    payload: bytes
    content_id: str | None = None

    @property
    def content_type(self) -> str:
        return content_type_of(self.filename)


def content_type_of(filename: str) -> str:
    """App Engine's type for the file's extension; for one it does not map, the type Python's mimetypes knows
    (App Engine sends those as application/octet-stream)."""
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    mapped = EXTENSION_MIME_MAP.get(ext)
    if mapped is not None:
        return mapped
    guessed, _ = mimetypes.guess_type(filename, strict=False)
    return guessed or "application/octet-stream"


def attachment_part(attachment: Attachment) -> AttachmentPart:
    """Check one attachment for sending (name, blocked type, Content-ID, payload); raise naming the attachment."""
    name = attachment_name(attachment.filename)
    check_content_id(attachment.content_id, name)
    payload = attachment.payload
    if isinstance(payload, EncodedPayload):
        payload = payload.decode_for(f"attachments: {name!r}")
    if isinstance(payload, str):
        try:
            data = payload.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidAttachmentTypeError(
                f"attachments: the text of {name!r} holds a lone surrogate (not a character: bytes decoded "
                "with surrogateescape?); pass the bytes themselves"
            ) from None
    elif isinstance(payload, (bytes, bytearray, memoryview)):
        data = bytes(payload)
    else:
        # bytes(3) would be three NUL bytes: a number is never an attachment's data.
        raise InvalidAttachmentError(
            f"attachments: the data of {name!r} must be bytes, a string or an EncodedPayload, "
            f"not {type(payload).__name__}"
        )
    return AttachmentPart(name, data, attachment.content_id or None)


def to_attachments(value: object) -> list[Attachment]:
    """The attachments a field value stands for, as App Engine reads it: one ``(filename, payload)`` pair, or a
    collection of pairs and Attachments. Checks their shape and types (raising InvalidAttachmentError, a
    TypeError too, as App Engine does); what they hold is checked by :func:`attachment_part`."""
    if value is None:
        raise InvalidAttachmentError(
            "attachments: expected a list of Attachment or (filename, payload) pairs, got None"
        )
    if isinstance(value, Attachment):
        return [value]
    if isinstance(value, (str, bytes, bytearray, Mapping)) or not isinstance(value, Iterable):
        raise InvalidAttachmentError(
            f"attachments: expected a list of Attachment or (filename, payload) pairs, got {type(value).__name__}"
        )
    items = value if isinstance(value, Sequence) else list(value)
    if len(items) == 2 and isinstance(items[0], str):
        items = [items]  # one pair, as App Engine reads it
    result = []
    for item in items:
        if isinstance(item, Attachment):
            att = item
        elif isinstance(item, (tuple, list)) and len(item) == 2:
            att = Attachment(*item)
        else:
            raise InvalidAttachmentError(f"attachments: {item!r} is not an Attachment or (filename, payload) pair")
        if not isinstance(att.filename, str):
            raise InvalidAttachmentError(
                f"attachments: a file name must be a string, not {type(att.filename).__name__}"
            )
        if not isinstance(att.payload, (str, bytes, bytearray, memoryview, EncodedPayload)):
            raise InvalidAttachmentError(
                f"attachments: the data of {att.filename!r} must be bytes, a string or an EncodedPayload, "
                f"not {type(att.payload).__name__}"
            )
        result.append(att)
    return result
