"""The HTTP a module mounts: state with ETag and the caller's transitions, POST of a transition
with If-Match, history; refusals as the platform's JSON errors."""

from __future__ import annotations

import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from flask import Blueprint, Flask, g, request

from geoplatform.auth import ANONYMOUS, Principal
from geoplatform.errors import register_error_handlers
from geoplatform.workflow import store
from geoplatform.workflow.http import add_workflow_routes
from tests.workflow.grid_case import GRID_CASE, SUPERVISION_EDITOR

STARTED = datetime(2025, 11, 17, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture(scope="module")
def app(workflow_engine):
    app = Flask(__name__)
    register_error_handlers(app)

    @app.before_request
    def caller_from_test_header():
        # Stands in for key authentication: "department/role", as a key's principal has them.
        sent = request.headers.get("X-Test-Caller")
        department, role = sent.split("/") if sent else (None, None)
        g.principal = Principal(department, role, 7) if sent else ANONYMOUS

    blueprint = Blueprint("grid", __name__)
    add_workflow_routes(blueprint, workflow_engine, GRID_CASE, "/cases/<item_id>")
    app.register_blueprint(blueprint, url_prefix="/grid")
    return app


@pytest.fixture
def case(workflow_engine) -> str:
    item_id = f"http-{uuid.uuid4().hex[:8]}"
    with workflow_engine.begin() as conn:
        store.start(conn, GRID_CASE, item_id, SUPERVISION_EDITOR, now=STARTED)
    return item_id


def as_(caller: str, **headers) -> dict[str, str]:
    return {"X-Test-Caller": caller, **headers}


def test_state_lists_the_transitions_the_caller_may_fire(app, case):
    client = app.test_client()
    answer = client.get(f"/grid/cases/{case}/state", headers=as_("supervision/editor"))
    assert answer.status_code == 200
    assert answer.headers["ETag"] == '"1"'
    assert "private" in answer.headers["Cache-Control"]
    body = answer.get_json()
    assert body["state"] == {
        "name": "received",
        "title": {"zh": "受理", "en": "Received"},
        "terminal": False,
    }
    assert [t["name"] for t in body["transitions"]] == ["file", "void"]
    assert body["dueAt"] == "2025-11-17T10:00:00+08:00"
    assert body["overdue"] is True

    other = client.get(f"/grid/cases/{case}/state", headers=as_("command/editor"))
    assert other.get_json()["transitions"] == []


def test_a_transition_moves_the_case_and_answers_its_new_etag(app, case):
    client = app.test_client()
    answer = client.post(
        f"/grid/cases/{case}/transitions",
        json={"transition": "file", "note": "on site: confirmed"},
        headers=as_("supervision/editor", **{"If-Match": '"1"', "X-Request-Id": "r-42"}),
    )
    assert answer.status_code == 200, answer.get_json()
    assert answer.headers["ETag"] == '"2"'
    assert answer.get_json()["state"]["name"] == "filed"
    history = client.get(f"/grid/cases/{case}/history", headers=as_("command/viewer"))
    steps = history.get_json()["steps"]
    assert [(s["transition"], s["to"]) for s in steps] == [(None, "received"), ("file", "filed")]
    assert steps[1]["note"] == "on site: confirmed"
    assert steps[1]["requestId"] == "r-42"
    assert (steps[1]["department"], steps[1]["role"], steps[1]["keyId"]) == (
        "supervision",
        "editor",
        7,
    )


@pytest.mark.parametrize(
    ("caller", "headers", "body", "status", "description"),
    [
        (
            "supervision/editor",
            {},
            {"transition": "file"},
            428,
            "If-Match is required to move a case: send the ETag of its state",
        ),
        (
            "supervision/editor",
            {"If-Match": '"9"'},
            {"transition": "file"},
            412,
            'case {case} has changed since the version If-Match names; its current ETag is "1"',
        ),
        (
            "supervision/editor",
            {"If-Match": '"1"'},
            {"transition": "check"},
            409,
            "case {case} is in state 'received'; allowed: 'file', 'void'",
        ),
        (
            "command/editor",
            {"If-Match": '"1"'},
            {"transition": "file"},
            403,
            "command editors may not fire 'file' of grid_case; it may be fired by "
            "supervision admin, supervision editor",
        ),
        (
            "supervision/editor",
            {"If-Match": '"1"'},
            {"transition": "file", "note": 7},
            400,
            "note: Input should be a valid string",
        ),
        (
            "supervision/editor",
            {"If-Match": '"1"'},
            {"transition": "file", "attachments": [{"title": "photo"}]},
            400,
            "attachments[0].href: Field required",
        ),
        (
            "supervision/editor",
            {"If-Match": '"1"'},
            {"note": "no transition named"},
            400,
            "transition: Field required",
        ),
    ],
)
def test_refusals_change_nothing(
    app, workflow_engine, case, caller, headers, body, status, description
):
    answer = app.test_client().post(
        f"/grid/cases/{case}/transitions", json=body, headers=as_(caller, **headers)
    )
    assert answer.status_code == status
    assert answer.get_json()["description"] == description.format(case=case)
    if status == 412:
        assert answer.headers["ETag"] == '"1"'
    with workflow_engine.connect() as conn:
        assert store.state(conn, GRID_CASE, case).version == 1
        assert len(store.history(conn, GRID_CASE, case)) == 1


def test_an_unknown_case_and_an_anonymous_caller_get_404(app, case):
    client = app.test_client()
    missing = client.get("/grid/cases/nope/state", headers=as_("supervision/editor"))
    assert missing.status_code == 404
    assert missing.get_json()["description"] == "no case nope in workflow grid_case"
    assert client.get(f"/grid/cases/{case}/state").status_code == 404
