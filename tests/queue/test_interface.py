"""The queue's interface (mailgui/queue/interface.py): the SQLite queue implements every side of it, and every
public method of the queue is in some side, so a second backend that implements the Protocols has all of it."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Protocol

import pytest

from mailgui.queue import (
    Drafts,
    EnqueueSide,
    EventStream,
    LateReports,
    LocalMailbox,
    Queue,
    QueueBackend,
    QueueViews,
    SettingsAndSenders,
    UserActions,
    WorkerSide,
)

SIDES: list[type] = [
    EnqueueSide,
    WorkerSide,
    QueueViews,
    UserActions,
    SettingsAndSenders,
    Drafts,
    LocalMailbox,
    LateReports,
    EventStream,
]


def members(protocol: type) -> set[str]:
    """The public names a Protocol declares (methods and attributes), its own and its bases'."""
    names: set[str] = set()
    for cls in protocol.__mro__:
        if cls is Protocol or not getattr(cls, "_is_protocol", False):
            continue
        names |= {n for n in vars(cls) if not n.startswith("_")}
        names |= {n for n in vars(cls).get("__annotations__", {}) if not n.startswith("_")}
    return names


def queue_methods() -> set[str]:
    return {n for n, f in inspect.getmembers(Queue, inspect.isfunction) if not n.startswith("_")}


@pytest.mark.parametrize("side", [*SIDES, QueueBackend], ids=lambda p: p.__name__)
def test_the_sqlite_queue_is_each_side_of_the_interface(queue: Queue, side: type) -> None:
    assert isinstance(queue, side)


def test_mypy_sees_the_sqlite_queue_as_each_side(queue: Queue) -> None:
    # Checked by mypy (mailgui/queue/store.py checks the whole QueueBackend too); at run time, just used.
    enqueue: EnqueueSide = queue
    worker: WorkerSide = queue
    views: QueueViews = queue
    actions: UserActions = queue
    settings: SettingsAndSenders = queue
    drafts: Drafts = queue
    mailbox: LocalMailbox = queue
    backend: QueueBackend = queue
    assert views.counts_by_status() == {} and drafts.count_drafts() == 0 and mailbox.count_mailbox() == 0
    assert settings.list_senders() == [] and worker.next_due_at() is None and enqueue.clock is backend.clock
    assert actions.delete([]) == 0


def test_every_public_method_of_the_queue_is_in_some_side() -> None:
    sides = set().union(*(members(p) for p in SIDES))
    missing = queue_methods() - sides - members(QueueBackend)
    assert not missing, f"Queue methods in no Protocol of mailgui/queue/interface.py: {sorted(missing)}"


def test_the_whole_backend_is_the_sides_and_close() -> None:
    assert members(QueueBackend) == set().union(*(members(p) for p in SIDES)) | {"close"}


def test_every_side_declares_only_what_the_queue_has() -> None:
    for side in SIDES:
        assert members(side) <= queue_methods() | {"clock"}, side.__name__


def test_each_method_lies_in_one_side_only() -> None:
    seen: dict[str, str] = {}
    for side in SIDES:
        for name in members(side):
            assert name not in seen, f"{name} is in both {seen[name]} and {side.__name__}"
            seen[name] = side.__name__


@pytest.mark.parametrize("name", sorted(members(QueueBackend) - {"clock"}))
def test_each_method_takes_the_same_parameters_as_the_queue(name: str) -> None:
    # mypy checks the types; defaults and keyword-only markers it does not compare, so they are checked here.
    def parameters(fn: Callable[..., object]) -> list[tuple[str, object, object]]:
        return [(p.name, p.kind, p.default) for p in inspect.signature(inspect.unwrap(fn)).parameters.values()]

    assert parameters(getattr(QueueBackend, name)) == parameters(getattr(Queue, name))
