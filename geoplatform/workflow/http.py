"""HTTP of a workflow, for a module's blueprint to mount under its own URL prefix.

``add_workflow_routes(blueprint, engine, workflow, "/cases/<item_id>")`` adds

- ``GET  /cases/<item_id>/state``: where the item stands and the transitions the caller may fire,
  with its ETag;
- ``POST /cases/<item_id>/transitions``: ``{"transition": …, "note": …, "attachments": [...]}``
  with If-Match naming that ETag (428 without it, 412 with the current ETag when stale);
- ``GET  /cases/<item_id>/history``: its steps, oldest first.

A module that needs other routes calls ``state_response``, ``transition_response`` and
``history_response`` from its own views.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any

from flask import Blueprint, Response, jsonify, request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from geoplatform.audit import Actor
from geoplatform.auth import Principal, current_principal
from geoplatform.authn import private
from geoplatform.bodies import parse_body
from geoplatform.db import transaction
from geoplatform.errors import NotFound, PreconditionRequired, error_response
from geoplatform.etags import if_match_tags
from geoplatform.request_actor import actor_of
from geoplatform.workflow import store
from geoplatform.workflow.calendar import china_calendar
from geoplatform.workflow.errors import StaleItem
from geoplatform.workflow.machine import Workflow
from geoplatform.workflow.store import ItemState, iso_time

# As the feature edit API accepts X-Request-Id, so one request id names a request in both logs.

ContextOf = Callable[[Connection, str], Mapping[str, Any]]


class Attachment(BaseModel):
    """A file sent with a transition, stored elsewhere (a photo of the handled site)."""

    model_config = ConfigDict(extra="forbid")

    href: str = Field(min_length=1, max_length=2000)
    title: str | None = Field(default=None, max_length=200)
    type: str | None = Field(default=None, max_length=100, pattern=r"^[\w.+-]+/[\w.+-]+$")


class TransitionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    transition: str = Field(min_length=1, max_length=64)
    note: str | None = Field(default=None, max_length=4000)
    attachments: list[Attachment] = Field(default_factory=list, max_length=20)


def add_workflow_routes(
    blueprint: Blueprint,
    engine: Engine,
    workflow: Workflow,
    rule: str,
    *,
    may_read: Callable[[Principal], bool] = lambda caller: not caller.is_anonymous,
    context_of: ContextOf | None = None,
) -> None:
    """The state, transition and history routes of ``workflow`` under ``rule`` (which has an
    ``<item_id>``). ``may_read`` says who may see items (others get 404); ``context_of`` gives
    guards and time-limit rules the module's facts about the item, read in the transition's
    transaction."""

    def readable() -> Principal:
        caller = current_principal()
        if not may_read(caller):
            raise NotFound(f"no {workflow.noun} here")
        return caller

    def get_state(item_id: str):
        readable()
        return state_response(engine, workflow, item_id)

    def post_transition(item_id: str):
        readable()
        return transition_response(engine, workflow, item_id, context_of)

    def get_history(item_id: str):
        readable()
        return history_response(engine, workflow, item_id)

    endpoint = f"{workflow.name}_"
    blueprint.add_url_rule(f"{rule}/state", endpoint + "state", get_state, methods=["GET"])
    blueprint.add_url_rule(
        f"{rule}/transitions", endpoint + "transition", post_transition, methods=["POST"]
    )
    blueprint.add_url_rule(f"{rule}/history", endpoint + "history", get_history, methods=["GET"])


def state_response(engine: Engine, workflow: Workflow, item_id: str) -> Response:
    with engine.connect() as conn:
        item = store.state(conn, workflow, item_id)
    return _item_response(workflow, item, current_actor())


def transition_response(
    engine: Engine, workflow: Workflow, item_id: str, context_of: ContextOf | None = None
) -> Response:
    """Fire the transition the body names; the item as it now stands, with its new ETag."""
    header = request.headers.get("If-Match", "")
    if not header.strip():
        raise PreconditionRequired(
            f"If-Match is required to move a {workflow.noun}: send the ETag of its state"
        )
    body = parse_body(TransitionBody, request.get_json(silent=True))
    actor = current_actor()
    try:
        with transaction(engine) as conn:
            moved = store.fire(
                conn,
                workflow,
                item_id,
                body.transition,
                actor,
                if_match=if_match_tags(header),
                note=body.note,
                attachments=[a.model_dump(exclude_none=True) for a in body.attachments],
                context=context_of(conn, item_id) if context_of else None,
            )
    except StaleItem as stale:
        response = error_response(stale)
        response.headers["ETag"] = stale.current_etag
        return response
    return _item_response(workflow, moved, actor)


def history_response(engine: Engine, workflow: Workflow, item_id: str) -> Response:
    with engine.connect() as conn:
        store.state(conn, workflow, item_id)
        steps = store.history(conn, workflow, item_id)
    zone = _zone(workflow)
    payload = {
        "workflow": workflow.name,
        "id": item_id,
        "steps": [step.to_json(zone) for step in steps],
    }
    return private(jsonify(payload))


def item_json(
    workflow: Workflow, item: ItemState, actor: Actor, now: datetime | None = None
) -> dict[str, Any]:
    """The item, its state's titles, and the transitions this caller may fire from it."""
    state, zone = workflow.state(item.state), _zone(workflow)
    return {
        "workflow": workflow.name,
        "id": item.item_id,
        "state": {
            "name": state.name,
            "title": {"zh": state.title_zh, "en": state.title_en},
            "terminal": state.terminal,
        },
        "version": item.version,
        "enteredAt": iso_time(item.entered_at, zone),
        "dueAt": iso_time(item.due_at, zone),
        "overdue": item.is_overdue(now or datetime.now(UTC)),
        "transitions": [
            {
                "name": t.name,
                "title": {"zh": t.title_zh, "en": t.title_en},
                "to": t.target,
            }
            for t in store.allowed_for(workflow, item, actor)
        ],
    }


def current_actor() -> Actor:
    return actor_of()


def _zone(workflow: Workflow) -> tzinfo:
    # Times as the people working the items read them: in the zone of their calendar.
    return (workflow.calendar or china_calendar()).zone


def _item_response(workflow: Workflow, item: ItemState, actor: Actor) -> Response:
    # The transitions listed depend on the caller's key.
    response = private(jsonify(item_json(workflow, item, actor)), "private, no-cache")
    response.headers["ETag"] = item.etag
    return response
