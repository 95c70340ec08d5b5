"""Reading bounce mail: what a message is and which recipients it reports failed. Pure (bytes in, a report out),
so `mailgui bounces parse` and the mailbox readers share it."""

from mailgui.bounces.parse import parse_report
from mailgui.bounces.report import Kind, Reason, Recipient, Report, is_own_report, report_json

__all__ = ["Kind", "Reason", "Recipient", "Report", "is_own_report", "parse_report", "report_json"]
