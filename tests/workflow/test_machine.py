"""Workflow declarations are checked when made: a contradiction is an error naming it."""

from __future__ import annotations

import pytest

from geoplatform.workflow import InvalidWorkflow, State, TimeLimit, Workflow, transition
from tests.workflow.grid_case import GRID_CASE

EDITORS = {("supervision", "editor")}
STATES = (State("open", "开", "Open"), State("done", "结", "Done", terminal=True))


def declare(transitions, states=STATES, initial="open") -> Workflow:
    return Workflow(name="probe", states=states, transitions=transitions, initial=initial)


def test_a_valid_declaration_knows_its_states_and_transitions():
    assert GRID_CASE.initial == "received"
    assert GRID_CASE.terminal_states() == ("closed", "voided")
    assert [t.name for t in GRID_CASE.allowed_from("dispatched")] == ["handle", "return"]
    assert GRID_CASE.state("filed").title_zh == "立案"
    assert GRID_CASE.audit_subject == "workflow:grid_case"


@pytest.mark.parametrize(
    ("transitions", "states", "initial", "message"),
    [
        (
            [transition("finish", "open", "finished", EDITORS)],
            STATES,
            "open",
            "workflow 'probe': transition 'finish' names unknown states ['finished']",
        ),
        (
            [transition("finish", "open", "done", EDITORS)],
            STATES,
            "opened",
            "workflow 'probe': the initial state 'opened' is not declared",
        ),
        (
            [
                transition("finish", "open", "done", EDITORS),
                transition("finish", "open", "done", EDITORS),
            ],
            STATES,
            "open",
            "workflow 'probe': duplicate transition name 'finish'",
        ),
        (
            [transition("finish", "open", "done", EDITORS)],
            (*STATES, State("done", "结", "Done")),
            "open",
            "workflow 'probe': duplicate state name 'done'",
        ),
        (
            [transition("finish", "open", "done", EDITORS)],
            (*STATES, State("parked", "挂账", "Parked")),
            "open",
            "workflow 'probe': states ['parked'] cannot be reached from 'open'",
        ),
        (
            [
                transition("finish", "open", "done", EDITORS),
                transition("park", "open", "parked", EDITORS),
            ],
            (*STATES, State("parked", "挂账", "Parked")),
            "open",
            "workflow 'probe': states ['parked'] are not terminal but no transition leaves",
        ),
        (
            [
                transition("finish", "open", "done", EDITORS),
                transition("reopen", "done", "open", EDITORS),
            ],
            STATES,
            "open",
            "workflow 'probe': transition 'reopen' leaves terminal ['done']",
        ),
        (
            [transition("finish", "open", "done", set())],
            STATES,
            "open",
            "workflow 'probe': nobody may fire transition 'finish'",
        ),
        (
            [transition("Finish", "open", "done", EDITORS)],
            STATES,
            "open",
            "workflow 'probe': 'Finish' is not a lower-case name (a-z, 0-9, _)",
        ),
    ],
)
def test_a_contradiction_is_named(transitions, states, initial, message):
    with pytest.raises(InvalidWorkflow) as refused:
        declare(transitions, states, initial)
    assert str(refused.value) == message


def test_a_time_limit_is_positive():
    with pytest.raises(InvalidWorkflow, match="must be positive, not 0"):
        TimeLimit(0, "working_hours")
