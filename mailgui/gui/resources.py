"""Icons and the style sheet, read from the ``resources/`` folder at the top of the source tree."""

from __future__ import annotations

import logging
import sys
from functools import cache
from pathlib import Path

from PySide6.QtGui import QIcon

log = logging.getLogger(__name__)


def _find_resources() -> Path:
    """The source tree's ``resources/`` (a checkout or an editable install, as ``make run`` does), else where a
    wheel's data files land (``<prefix>/share/mailgui/resources``)."""
    candidates = [
        Path(__file__).resolve().parents[2] / "resources",
        Path(sys.prefix) / "share" / "mailgui" / "resources",
    ]
    for path in candidates:
        if (path / "style.qss").is_file():
            return path
    return candidates[0]


RESOURCES_DIR = _find_resources()


@cache
def icon(name: str) -> QIcon:
    """The icon ``resources/icons/<name>.svg``; an empty icon (logged) if it is missing."""
    path = RESOURCES_DIR / "icons" / f"{name}.svg"
    if not path.is_file():
        log.error("icon %s not found at %s", name, path)
        return QIcon()
    return QIcon(str(path))


def style_sheet() -> str:
    path = RESOURCES_DIR / "style.qss"
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        log.error("style sheet %s could not be read: %s", path, exc)
        return ""
