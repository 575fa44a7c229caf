"""Workflow items in ``platform.workflow_items`` and their steps in ``platform.workflow_history``:
every statement of the engine, and the functions that run them on the caller's connection.

A transition locks the item's row (``SELECT … FOR UPDATE``) and then checks If-Match, the state
and the guards against what it locked, so two callers firing at once serialise on the lock and
the second sees the first's result. The move, its history row and its audit row are written in
the caller's transaction: they exist together or not at all. A refusal raises before anything
is written, so a refused transition changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, tzinfo
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geoplatform import audit
from geoplatform.audit import Actor
from geoplatform.workflow.calendar import china_calendar
from geoplatform.workflow.errors import (
    GuardRefused,
    ItemExists,
    NotPermitted,
    StaleItem,
    TransitionNotAllowed,
    UnknownItem,
    UnknownTransition,
)
from geoplatform.workflow.machine import (
    ANY_ROLE,
    TimeLimit,
    Transition,
    TransitionRequest,
    Workflow,
)

_ITEM_COLUMNS = "workflow, item_id, state, version, entered_at, due_at, created_at"

_START = text(
    f"""
    INSERT INTO platform.workflow_items (workflow, item_id, state, entered_at, due_at)
    VALUES (:workflow, :item_id, :state, :entered_at, :due_at)
    ON CONFLICT (workflow, item_id) DO NOTHING
    RETURNING {_ITEM_COLUMNS}
    """
)

_ITEM = text(
    f"""
    SELECT {_ITEM_COLUMNS}
      FROM platform.workflow_items
     WHERE workflow = :workflow AND item_id = :item_id
    """
)

_LOCK = text(
    f"""
    SELECT {_ITEM_COLUMNS}
      FROM platform.workflow_items
     WHERE workflow = :workflow AND item_id = :item_id
       FOR UPDATE
    """
)

_MOVE = text(
    f"""
    UPDATE platform.workflow_items
       SET state = :state, version = version + 1, entered_at = :entered_at, due_at = :due_at
     WHERE workflow = :workflow AND item_id = :item_id
    RETURNING {_ITEM_COLUMNS}
    """
)

_STEP = text(
    """
    INSERT INTO platform.workflow_history
           (workflow, item_id, transition, from_state, to_state, department, role, key_id,
            entered_at, due_at, acted_at, note, attachments, request_id)
    VALUES (:workflow, :item_id, :transition, :from_state, :to_state, :department, :role,
            :key_id, :entered_at, :due_at, :acted_at, :note, CAST(:attachments AS jsonb),
            :request_id)
    """
)

_HISTORY = text(
    """
    SELECT id, transition, from_state, to_state, department, role, key_id, entered_at, due_at,
           acted_at, note, attachments, request_id
      FROM platform.workflow_history
     WHERE workflow = :workflow AND item_id = :item_id
     ORDER BY acted_at, id
    """
)

_OVERDUE = text(
    f"""
    SELECT {_ITEM_COLUMNS}
      FROM platform.workflow_items
     WHERE workflow = :workflow
       AND due_at < :now
       AND state <> ALL(:terminal)
     ORDER BY due_at, item_id
    """
)


@dataclass(frozen=True)
class ItemState:
    """Where an item stands; ``version`` is its ETag."""

    workflow: str
    item_id: str
    state: str
    version: int
    entered_at: datetime
    due_at: datetime | None
    created_at: datetime

    @property
    def etag(self) -> str:
        return f'"{self.version}"'

    def is_overdue(self, now: datetime) -> bool:
        return self.due_at is not None and self.due_at < now


@dataclass(frozen=True)
class Step:
    """One row of an item's history: its start (``transition`` None) or a transition."""

    id: int
    transition: str | None
    from_state: str | None
    to_state: str
    department: str | None
    role: str | None
    key_id: int | None
    entered_at: datetime
    due_at: datetime | None
    acted_at: datetime
    note: str | None
    attachments: list[dict[str, Any]]
    request_id: str | None

    def to_json(self, zone: tzinfo | None = None) -> dict[str, Any]:
        """As JSON, its times in ``zone`` (as stored, UTC, without)."""
        return {
            "transition": self.transition,
            "from": self.from_state,
            "to": self.to_state,
            "department": self.department,
            "role": self.role,
            "keyId": self.key_id,
            "enteredAt": iso_time(self.entered_at, zone),
            "dueAt": iso_time(self.due_at, zone),
            "actedAt": iso_time(self.acted_at, zone),
            "onTime": self.due_at is None or self.acted_at <= self.due_at,
            "note": self.note,
            "attachments": self.attachments,
            "requestId": self.request_id,
        }


def start(
    conn: Connection,
    workflow: Workflow,
    item_id: str | int,
    actor: Actor,
    now: datetime | None = None,
) -> ItemState:
    """Put a new item in the workflow's initial state, with its history and audit rows. Who may
    start an item is the module's decision (it creates the case the item stands for)."""
    item_id, now = str(item_id), _aware(now)
    due_at = _due(workflow, workflow.initial_time_limit, now)
    row = conn.execute(
        _START,
        {
            "workflow": workflow.name,
            "item_id": item_id,
            "state": workflow.initial,
            "entered_at": now,
            "due_at": due_at,
        },
    ).first()
    if row is None:
        existing = state(conn, workflow, item_id)
        raise ItemExists(f"{workflow.noun} {item_id} already exists, in state {existing.state!r}")
    started = _item(row)
    _write_step(conn, workflow, started, None, None, actor, now, None, ())
    audit.record(
        conn, actor, workflow.audit_subject, item_id, "create", "ok", None, _snapshot(started)
    )
    return started


def fire(
    conn: Connection,
    workflow: Workflow,
    item_id: str | int,
    transition: str,
    actor: Actor,
    if_match: Collection[str] | None = None,
    note: str | None = None,
    attachments: Sequence[Mapping[str, Any]] = (),
    context: Mapping[str, Any] | None = None,
    *,
    now: datetime | None = None,
) -> ItemState:
    """Move the item along ``transition`` in the caller's transaction and return where it now
    stands. ``if_match`` holds quoted ETags (``'"3"'``, or ``'*'``); None skips the check.

    Refusals, in this order: an unknown transition (400), a caller who may not fire it (403), an
    unknown item (404), a stale If-Match (412), a state that does not allow it (409), a guard's
    refusal (409)."""
    item_id = str(item_id)
    chosen = _permitted_transition(workflow, transition, actor)
    current = _locked(conn, workflow, item_id)
    if if_match is not None and "*" not in if_match and current.etag not in if_match:
        raise StaleItem(
            f"{workflow.noun} {item_id} has changed since the version If-Match names; its "
            f"current ETag is {current.etag}",
            current.etag,
        )
    if current.state not in chosen.sources:
        raise TransitionNotAllowed(_not_allowed(workflow, current))
    request = TransitionRequest(
        workflow=workflow.name,
        item_id=item_id,
        state=current.state,
        entered_at=current.entered_at,
        transition=chosen.name,
        actor=actor,
        note=note,
        attachments=tuple(attachments),
        context=context or {},
    )
    refusal = chosen.refusal(request)
    if refusal is not None:
        raise GuardRefused(refusal)
    return _move(conn, workflow, chosen, current, request, _aware(now))


def state(conn: Connection, workflow: Workflow, item_id: str | int) -> ItemState:
    """Where the item stands now (its ``etag`` for If-Match); UnknownItem if it is not there."""
    row = conn.execute(_ITEM, {"workflow": workflow.name, "item_id": str(item_id)}).first()
    if row is None:
        raise UnknownItem(f"no {workflow.noun} {item_id} in workflow {workflow.name}")
    return _item(row)


def history(conn: Connection, workflow: Workflow, item_id: str | int) -> list[Step]:
    """The item's steps, oldest first: its start, then each transition."""
    rows = conn.execute(_HISTORY, {"workflow": workflow.name, "item_id": str(item_id)})
    return [_step(row) for row in rows]


def overdue(conn: Connection, workflow: Workflow, now: datetime) -> list[ItemState]:
    """Items past the time limit of their state (``due_at < now``) and not in a terminal state,
    the longest overdue first."""
    params = {
        "workflow": workflow.name,
        "now": _aware(now),
        "terminal": list(workflow.terminal_states()),
    }
    return [_item(row) for row in conn.execute(_OVERDUE, params)]


def allowed_for(workflow: Workflow, item: ItemState, actor: Actor) -> tuple[Transition, ...]:
    """The transitions the item's state allows that this caller may fire (guards not run)."""
    return tuple(t for t in workflow.allowed_from(item.state) if t.may_fire(actor))


def _permitted_transition(workflow: Workflow, name: str, actor: Actor) -> Transition:
    chosen = workflow.get_transition(name)
    if chosen is None:
        names = ", ".join(repr(t.name) for t in workflow.transitions)
        raise UnknownTransition(
            f"transition: {name!r} is not a transition of {workflow.name}; it has {names}"
        )
    if not chosen.may_fire(actor):
        raise NotPermitted(_not_permitted(workflow, chosen, actor))
    return chosen


def _move(
    conn: Connection,
    workflow: Workflow,
    chosen: Transition,
    current: ItemState,
    request: TransitionRequest,
    now: datetime,
) -> ItemState:
    """The checked transition written: the item moved, its history row and its audit row."""
    params = {
        "workflow": workflow.name,
        "item_id": current.item_id,
        "state": chosen.target,
        "entered_at": now,
        "due_at": _due(workflow, chosen.limit_for(request), now),
    }
    moved = _item(conn.execute(_MOVE, params).one())
    _write_step(
        conn,
        workflow,
        moved,
        chosen.name,
        current,
        request.actor,
        now,
        request.note,
        request.attachments,
    )
    after = {**_snapshot(moved), "transition": chosen.name, "note": request.note}
    audit.record(
        conn,
        request.actor,
        workflow.audit_subject,
        current.item_id,
        "transition",
        "ok",
        _snapshot(current),
        after,
    )
    return moved


def _locked(conn: Connection, workflow: Workflow, item_id: str) -> ItemState:
    row = conn.execute(_LOCK, {"workflow": workflow.name, "item_id": item_id}).first()
    if row is None:
        raise UnknownItem(f"no {workflow.noun} {item_id} in workflow {workflow.name}")
    return _item(row)


def _write_step(
    conn: Connection,
    workflow: Workflow,
    entered: ItemState,
    transition: str | None,
    left: ItemState | None,
    actor: Actor,
    acted_at: datetime,
    note: str | None,
    attachments: Sequence[Mapping[str, Any]],
) -> None:
    conn.execute(
        _STEP,
        {
            "workflow": workflow.name,
            "item_id": entered.item_id,
            "transition": transition,
            "from_state": left.state if left else None,
            "to_state": entered.state,
            "department": actor.department,
            "role": actor.role,
            "key_id": actor.key_id,
            # A start has no state left behind: it is entered and acted on at once.
            "entered_at": left.entered_at if left else acted_at,
            "due_at": left.due_at if left else None,
            "acted_at": acted_at,
            "note": note,
            "attachments": json.dumps(list(attachments), ensure_ascii=False),
            "request_id": actor.request_id,
        },
    )


def _due(workflow: Workflow, limit: TimeLimit | None, entered_at: datetime) -> datetime | None:
    if limit is None:
        return None
    return limit.due(workflow.calendar or china_calendar(), entered_at)


def _not_allowed(workflow: Workflow, item: ItemState) -> str:
    allowed = ", ".join(repr(t.name) for t in workflow.allowed_from(item.state))
    return (
        f"{workflow.noun} {item.item_id} is in state {item.state!r}; "
        f"allowed: {allowed or 'none (a terminal state)'}"
    )


def _not_permitted(workflow: Workflow, transition: Transition, actor: Actor) -> str:
    who = (
        "anonymous callers"
        if actor.department is None
        else f"{actor.department} {actor.role or 'key'}s"
    )
    may = ", ".join(
        f"{department} (any role)" if role == ANY_ROLE else f"{department} {role}"
        for department, role in sorted(transition.fired_by)
    )
    return f"{who} may not fire {transition.name!r} of {workflow.name}; it may be fired by {may}"


def _snapshot(item: ItemState) -> dict[str, Any]:
    return {
        "workflow": item.workflow,
        "state": item.state,
        "version": item.version,
        "enteredAt": iso_time(item.entered_at),
        "dueAt": iso_time(item.due_at),
    }


def _aware(moment: datetime | None) -> datetime:
    if moment is None:
        return datetime.now(UTC)
    if moment.tzinfo is None:
        raise ValueError(f"{moment.isoformat()} has no time zone")
    return moment


def iso_time(moment: datetime | None, zone: tzinfo | None = None) -> str | None:
    if moment is None:
        return None
    return (moment.astimezone(zone) if zone else moment).isoformat()


Row = TypeVar("Row")


def _item(row) -> ItemState:
    return _of_row(ItemState, row)


def _step(row) -> Step:
    return _of_row(Step, row)


def _of_row(kind: type[Row], row) -> Row:
    """The dataclass from the row's columns of the same names (the statements select them)."""
    values = row._mapping
    return kind(**{f.name: values[f.name] for f in fields(kind)})  # type: ignore[arg-type]
