"""Attachments: the name a file goes out under, the types that are blocked, and the Content-ID of an inline part.

Pure: no I/O.
"""

from __future__ import annotations

import mimetypes
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from mailgui.addresses import check_header_text
from mailgui.errors import InvalidAttachmentTypeError, InvalidHeaderValueError

# App Engine's blocked list, plus script and installer types that arrived after it was written.
BLOCKED_EXTENSIONS = frozenset(
    [
        "ade",
        "adp",
        "app",
        "bat",
        "chm",
        "cmd",
        "com",
        "cpl",
        "exe",
        "hta",
        "ins",
        "isp",
        "jar",
        "js",
        "jse",
        "lib",
        "lnk",
        "mde",
        "msc",
        "msi",
        "msp",
        "mst",
        "pif",
        "ps1",
        "psm1",
        "reg",
        "scf",
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
)

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
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
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


@dataclass(frozen=True)
class Attachment:
    """A file to attach: name, bytes, and an optional Content-ID for inline use."""

    filename: str
    payload: bytes
    content_id: str | None = None

    def __init__(self, filename: str, payload: bytes | str, content_id: str | None = None):
        name = attachment_name(filename)
        check_content_id(content_id, name)
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
            raise InvalidAttachmentTypeError(
                f"attachments: the data of {name!r} must be bytes or a string, not {type(payload).__name__}"
            )
        object.__setattr__(self, "filename", name)
        object.__setattr__(self, "payload", data)
        object.__setattr__(self, "content_id", content_id)

    # App Engine's Attachment unpacks like a (filename, payload) pair.
    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter((self.filename, self.payload))

    def __len__(self) -> int:
        return 2

    def __getitem__(self, i: int) -> str | bytes:
        return (self.filename, self.payload)[i]

    @property
    def content_type(self) -> str:
        guessed, _ = mimetypes.guess_type(self.filename, strict=False)
        return guessed or "application/octet-stream"


def to_attachments(value: object) -> list[Attachment]:
    if value is None:
        return []
    if isinstance(value, Attachment):
        return [value]
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
        return [Attachment(value[0], value[1])]
    if not isinstance(value, Iterable) or isinstance(value, (str, bytes)):
        raise InvalidAttachmentTypeError("attachments: expected a list of Attachment or (filename, payload) pairs")
    result = []
    for item in value:
        if isinstance(item, Attachment):
            result.append(item)
        elif isinstance(item, (tuple, list)) and len(item) in (2, 3):
            result.append(Attachment(*item))
        else:
            raise InvalidAttachmentTypeError(f"attachments: {item!r} is not an Attachment or (filename, payload) pair")
    return result
