"""What every report must be, whatever the input: the invariants the corpus and fuzz tests check."""

from __future__ import annotations

import json
import re

from mailgui.bounces import Kind, Reason, Report, report_json

STATUS = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}$")


def assert_valid(report: Report) -> None:
    assert isinstance(report.kind, Kind)
    if report.kind in (Kind.AUTO_REPLY, Kind.OTHER):
        assert report.recipients == ()
    for r in report.recipients:
        assert "@" in r.address and r.address == r.address.strip()
        assert r.status is None or STATUS.match(r.status), r.status
        assert isinstance(r.reason, Reason)
        assert isinstance(r.diagnostic, str) and len(r.diagnostic) <= 1000
    assert len({r.address.lower() for r in report.recipients}) == len(report.recipients)
    shape = report_json("f.eml", report)
    text = json.dumps(shape, ensure_ascii=False)
    text.encode("utf-8")  # no lone surrogates
    assert_json_shape(json.loads(text))


def assert_json_shape(obj: dict[str, object]) -> None:
    """The stable shape of `mailgui bounces parse --json` (issue 16): scripts rely on it."""
    assert set(obj) == {"file", "kind", "recipients", "original_message_id"}
    assert isinstance(obj["file"], str)
    assert obj["kind"] in {"bounce", "delay", "auto_reply", "complaint", "other"}
    assert obj["original_message_id"] is None or isinstance(obj["original_message_id"], str)
    assert isinstance(obj["recipients"], list)
    for r in obj["recipients"]:
        assert isinstance(r, dict)
        assert set(r) == {"address", "status", "reason", "diagnostic"}
        assert isinstance(r["address"], str)
        assert r["status"] is None or STATUS.match(r["status"])
        assert r["reason"] in {c.value for c in Reason}
        assert isinstance(r["diagnostic"], str)
