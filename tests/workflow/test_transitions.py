"""Every (state, transition) pair of the grid case: what the state allows moves the case and
writes one history row and one audit row; anything else is a 409 naming the state and what it
allows, and changes nothing. Wrong callers get 403, stale If-Match 412, refused guards 409."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from geoplatform.audit import Actor
from geoplatform.errors import Conflict, Forbidden, NotFound, PreconditionFailed
from geoplatform.workflow import store
from geoplatform.workflow.errors import (
    GuardRefused,
    ItemExists,
    NotPermitted,
    StaleItem,
    TransitionNotAllowed,
    UnknownItem,
    UnknownTransition,
)
from tests.workflow.grid_case import (
    COMMAND_EDITOR,
    FIRED_BY,
    GRID_CASE,
    PATH_TO,
    PHOTO,
    SENT,
    SUPERVISION_ADMIN,
    SUPERVISION_EDITOR,
    WORKS_VIEWER,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
# A Monday with no holiday near: every limit of the path ends the same week.
MONDAY = datetime(2025, 11, 17, 9, 0, tzinfo=SHANGHAI)

# The specification: what each state allows and where each transition leads.
MOVES = {
    ("received", "file"): "filed",
    ("received", "void"): "voided",
    ("filed", "dispatch"): "dispatched",
    ("dispatched", "handle"): "handled",
    ("dispatched", "return"): "filed",
    ("handled", "check"): "verified",
    ("handled", "rework"): "dispatched",
    ("verified", "close"): "closed",
}
ALLOWED = {
    "received": "'file', 'void'",
    "filed": "'dispatch'",
    "dispatched": "'handle', 'return'",
    "handled": "'check', 'rework'",
    "verified": "'close'",
    "closed": "none (a terminal state)",
    "voided": "none (a terminal state)",
}
PAIRS = [(state, name) for state in PATH_TO for name in FIRED_BY]


def case_in(conn, state: str, item_id: str = "17") -> store.ItemState:
    store.start(conn, GRID_CASE, item_id, SUPERVISION_EDITOR, now=MONDAY)
    for name in PATH_TO[state]:
        fire(conn, item_id, name)
    return store.state(conn, GRID_CASE, item_id)


def fire(conn, item_id: str, name: str, actor: Actor | None = None, **sent) -> store.ItemState:
    return store.fire(
        conn,
        GRID_CASE,
        item_id,
        name,
        actor or FIRED_BY[name],
        **{**SENT, **sent},
        context={"category": "绿地养护"},
        now=MONDAY,
    )


def audit_rows(conn, item_id: str = "17") -> list:
    return conn.execute(
        text(
            """SELECT action, outcome, department, role, key_id, before, after, request_id
                 FROM platform.audit_log
                WHERE layer_id = 'workflow:grid_case' AND fid = :fid ORDER BY id"""
        ),
        {"fid": item_id},
    ).all()


def snapshot(conn, item_id: str = "17"):
    """Everything a transition could change: the item, its history and its audit rows."""
    return (
        store.state(conn, GRID_CASE, item_id),
        store.history(conn, GRID_CASE, item_id),
        audit_rows(conn, item_id),
    )


def test_the_pairs_cover_every_state_and_transition():
    assert {s.name for s in GRID_CASE.states} == set(PATH_TO) == set(ALLOWED)
    assert {t.name for t in GRID_CASE.transitions} == set(FIRED_BY)
    assert len(PAIRS) == 7 * 8
    assert set(MOVES) <= set(PAIRS)


@pytest.mark.parametrize(("state", "name"), PAIRS)
def test_each_state_and_transition(conn, state, name):
    before = case_in(conn, state)
    assert before.state == state
    steps, audits = store.history(conn, GRID_CASE, "17"), audit_rows(conn)

    if (state, name) in MOVES:
        moved = fire(conn, "17", name, if_match={before.etag})
        assert moved.state == MOVES[state, name]
        assert moved.version == before.version + 1
        assert store.state(conn, GRID_CASE, "17") == moved
        new_steps = store.history(conn, GRID_CASE, "17")[len(steps) :]
        assert [(s.transition, s.from_state, s.to_state) for s in new_steps] == [
            (name, state, moved.state)
        ]
        actor = FIRED_BY[name]
        assert (new_steps[0].department, new_steps[0].role, new_steps[0].key_id) == (
            actor.department,
            actor.role,
            actor.key_id,
        )
        assert new_steps[0].request_id == actor.request_id
        new_audits = audit_rows(conn)[len(audits) :]
        assert len(new_audits) == 1
        assert new_audits[0].action == "transition" and new_audits[0].outcome == "ok"
        assert new_audits[0].before["state"] == state
        assert new_audits[0].after["state"] == moved.state
        assert new_audits[0].after["transition"] == name
    else:
        with pytest.raises(TransitionNotAllowed) as refused:
            fire(conn, "17", name, if_match={before.etag})
        assert isinstance(refused.value, Conflict)
        assert str(refused.value) == f"case 17 is in state '{state}'; allowed: {ALLOWED[state]}"
        assert snapshot(conn) == (before, steps, audits)


def test_start_records_who_opened_the_case(conn):
    started = store.start(conn, GRID_CASE, 17, SUPERVISION_EDITOR, now=MONDAY)
    assert (started.item_id, started.state, started.version, started.etag) == (
        "17",
        "received",
        1,
        '"1"',
    )
    assert started.due_at == datetime(2025, 11, 17, 10, 0, tzinfo=SHANGHAI)
    [step] = store.history(conn, GRID_CASE, "17")
    assert (step.transition, step.from_state, step.to_state, step.department) == (
        None,
        None,
        "received",
        "supervision",
    )
    [row] = audit_rows(conn)
    assert (row.action, row.before, row.after["state"]) == ("create", None, "received")


def test_starting_a_case_twice_is_a_conflict(conn):
    store.start(conn, GRID_CASE, "17", SUPERVISION_EDITOR, now=MONDAY)
    fire(conn, "17", "file")
    before = snapshot(conn)
    with pytest.raises(ItemExists, match=r"^case 17 already exists, in state 'filed'$"):
        store.start(conn, GRID_CASE, "17", SUPERVISION_EDITOR, now=MONDAY)
    assert snapshot(conn) == before


def test_a_whole_case_with_its_return_path(conn):
    case_in(conn, "received")
    for name in ["file", "dispatch", "return", "dispatch", "handle", "rework", "handle", "check"]:
        fire(conn, "17", name)
    closed = fire(conn, "17", "close", note="bin emptied, resident informed")
    assert (closed.state, closed.version, closed.due_at) == ("closed", 10, None)
    steps = store.history(conn, GRID_CASE, "17")
    assert [s.to_state for s in steps] == [
        "received",
        "filed",
        "dispatched",
        "filed",
        "dispatched",
        "handled",
        "dispatched",
        "handled",
        "verified",
        "closed",
    ]
    assert steps[-1].note == "bin emptied, resident informed"
    assert steps[5].attachments == [PHOTO]
    assert [r.action for r in audit_rows(conn)] == ["create"] + ["transition"] * 9


@pytest.mark.parametrize(
    ("name", "caller", "message"),
    [
        (
            "file",
            COMMAND_EDITOR,
            "command editors may not fire 'file' of grid_case; it may be fired by "
            "supervision admin, supervision editor",
        ),
        (
            "check",
            SUPERVISION_ADMIN,
            "supervision admins may not fire 'check' of grid_case; it may be fired by "
            "supervision editor",
        ),
        (
            "dispatch",
            Actor("command", "viewer", 22),
            "command viewers may not fire 'dispatch' of grid_case; it may be fired by "
            "command admin, command editor",
        ),
        (
            "handle",
            Actor(None, None, None),
            "anonymous callers may not fire 'handle' of grid_case; it may be fired by "
            "city_works (any role)",
        ),
    ],
)
def test_a_caller_who_may_not_fire_it_is_forbidden(conn, name, caller, message):
    state = {"file": "received", "check": "handled", "dispatch": "filed", "handle": "dispatched"}
    case_in(conn, state[name])
    before = snapshot(conn)
    with pytest.raises(NotPermitted) as refused:
        fire(conn, "17", name, actor=caller)
    assert isinstance(refused.value, Forbidden)
    assert str(refused.value) == message
    assert snapshot(conn) == before


def test_any_role_of_a_department_admits_each_of_its_roles(conn):
    for number, role in enumerate(["viewer", "editor", "admin"]):
        item_id = f"w{number}"
        case_in(conn, "dispatched", item_id)
        moved = fire(conn, item_id, "return", actor=Actor("city_works", role, 40 + number))
        assert moved.state == "filed"


def test_a_stale_if_match_is_refused_and_changes_nothing(conn):
    filed = case_in(conn, "filed")
    assert filed.etag == '"2"'
    before = snapshot(conn)
    with pytest.raises(StaleItem) as refused:
        fire(conn, "17", "dispatch", if_match={'"1"'})
    assert isinstance(refused.value, PreconditionFailed)
    assert refused.value.current_etag == '"2"'
    assert str(refused.value) == (
        'case 17 has changed since the version If-Match names; its current ETag is "2"'
    )
    assert snapshot(conn) == before
    assert fire(conn, "17", "dispatch", if_match={"*"}).version == 3


def test_a_guard_refusal_is_a_conflict_with_its_message(conn):
    case_in(conn, "dispatched")
    before = snapshot(conn)
    with pytest.raises(GuardRefused) as refused:
        fire(conn, "17", "handle", note="done", attachments=[])
    assert isinstance(refused.value, Conflict)
    assert str(refused.value) == "handling needs a photo of the site as an attachment"
    assert snapshot(conn) == before


def test_guards_see_the_note_sent(conn):
    case_in(conn, "verified")
    with pytest.raises(GuardRefused, match="^closing a case needs a note of how it was resolved$"):
        fire(conn, "17", "close", note=None, attachments=[])
    assert fire(conn, "17", "close", note="fixed").state == "closed"


def test_an_unknown_case_is_not_found(conn):
    with pytest.raises(UnknownItem) as refused:
        fire(conn, "404", "file")
    assert isinstance(refused.value, NotFound)
    assert str(refused.value) == "no case 404 in workflow grid_case"
    with pytest.raises(UnknownItem):
        store.state(conn, GRID_CASE, "404")


def test_an_unknown_transition_names_the_ones_there_are(conn):
    case_in(conn, "received")
    before = snapshot(conn)
    with pytest.raises(UnknownTransition) as refused:
        fire(conn, "17", "escalate", actor=WORKS_VIEWER)
    assert str(refused.value) == (
        "transition: 'escalate' is not a transition of grid_case; it has 'file', 'void', "
        "'dispatch', 'handle', 'return', 'check', 'rework', 'close'"
    )
    assert snapshot(conn) == before


def test_the_engine_writes_in_the_callers_transaction(workflow_engine):
    """A module's own write failing after the transition leaves no trace of the transition."""
    with workflow_engine.begin() as conn:
        store.start(conn, GRID_CASE, "tx-1", SUPERVISION_EDITOR, now=MONDAY)
    with pytest.raises(RuntimeError), workflow_engine.begin() as conn:
        fire(conn, "tx-1", "file")
        raise RuntimeError("the module's own update failed")
    with workflow_engine.connect() as conn:
        assert store.state(conn, GRID_CASE, "tx-1").state == "received"
        assert len(store.history(conn, GRID_CASE, "tx-1")) == 1
        assert [r.action for r in audit_rows(conn, "tx-1")] == ["create"]


def test_two_callers_with_the_same_etag_serialise_and_the_second_is_stale(workflow_engine):
    with workflow_engine.begin() as conn:
        store.start(conn, GRID_CASE, "race-1", SUPERVISION_EDITOR, now=MONDAY)

    def void_with_first_etag() -> str:
        with workflow_engine.begin() as conn:
            try:
                fire(conn, "race-1", "void", if_match={'"1"'})
            except StaleItem as stale:
                return stale.current_etag
        return "moved"

    with ThreadPoolExecutor(max_workers=1) as pool, workflow_engine.connect() as first:
        with first.begin():
            fire(first, "race-1", "file", if_match={'"1"'})
            second = pool.submit(void_with_first_etag)
            # The second caller waits on the row lock while the first transaction is open.
            with pytest.raises(FutureTimeout):
                second.result(timeout=0.5)
        assert second.result(timeout=10) == '"2"'
    with workflow_engine.connect() as conn:
        assert store.state(conn, GRID_CASE, "race-1").state == "filed"
