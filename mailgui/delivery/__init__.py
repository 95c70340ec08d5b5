"""The delivery worker (asyncio, no Qt): claims due messages, sends them, records outcomes, reports bounces."""

from mailgui.delivery.check import ConnectionCheck, test_connection
from mailgui.delivery.classify import Outcome, RelayError, RelayFault, enhanced_status, outcome_of
from mailgui.delivery.events import MessageEvent, StateEvent, WorkerEvent, WorkerState
from mailgui.delivery.policy import RelayBackoff, RetryPolicy
from mailgui.delivery.report import OriginalMessage, Report, ReportRecipient, build_report
from mailgui.delivery.target import RelayTarget, local_relay_target, relay_from_settings, relay_from_values
from mailgui.delivery.worker import Worker

# pytest would collect a test_* name imported into a test module; this one is a library function.
test_connection.__test__ = False  # type: ignore[attr-defined]

__all__ = [
    "ConnectionCheck",
    "MessageEvent",
    "OriginalMessage",
    "Outcome",
    "RelayBackoff",
    "RelayError",
    "RelayFault",
    "RelayTarget",
    "Report",
    "ReportRecipient",
    "RetryPolicy",
    "StateEvent",
    "Worker",
    "WorkerEvent",
    "WorkerState",
    "build_report",
    "enhanced_status",
    "local_relay_target",
    "outcome_of",
    "relay_from_settings",
    "relay_from_values",
    "test_connection",
]
