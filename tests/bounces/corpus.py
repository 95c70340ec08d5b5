"""The labelled bounce corpus in ../shared/bounces (see its README.md): where it is, and its entries."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "bounces"


@cache
def entries() -> list[dict[str, object]]:
    manifest = CORPUS / "manifest.json"
    if not manifest.exists():
        return []
    return list(json.loads(manifest.read_text()))


def entry_params(kind: str | None = None, mta: str | None = None) -> list[object]:
    """pytest params, one per corpus message (id: its file), optionally of one `kind` or `mta`."""
    chosen = [e for e in entries() if (kind is None or e["kind"] == kind) and (mta is None or e["mta"] == mta)]
    if not chosen:
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"no bounce corpus at {CORPUS}"))]
    return [pytest.param(e, id=str(e["file"]).removeprefix("samples/")) for e in chosen]


def read(entry: dict[str, object]) -> bytes:
    return (CORPUS / str(entry["file"])).read_bytes()
