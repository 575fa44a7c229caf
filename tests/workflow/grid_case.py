"""A grid case as the tests' workflow: 受理 → 立案 → 派遣 → 处置 → 核查 → 结案, with a department
returning a case it cannot handle, a failed check sending it back, and a report voided unfiled."""

from __future__ import annotations

from geoplatform.audit import Actor
from geoplatform.workflow import (
    ANY_ROLE,
    State,
    TimeLimit,
    TransitionRequest,
    Workflow,
    transition,
    working_days,
    working_hours,
)

SUPERVISION = {("supervision", "editor"), ("supervision", "admin")}
COMMAND = {("command", "editor"), ("command", "admin")}
WORKS = {("city_works", ANY_ROLE)}

SUPERVISION_EDITOR = Actor("supervision", "editor", 11, "req-11")
SUPERVISION_ADMIN = Actor("supervision", "admin", 12, "req-12")
COMMAND_EDITOR = Actor("command", "editor", 21, "req-21")
WORKS_VIEWER = Actor("city_works", "viewer", 31, "req-31")

PHOTO = {"href": "https://files.example/cases/17/after.jpg", "type": "image/jpeg"}


def handling_limit(request: TransitionRequest) -> TimeLimit:
    # The standards' per-event limits: 暴露垃圾 4 working hours, 绿地养护 5 working days.
    return working_hours(4) if request.context.get("category") == "暴露垃圾" else working_days(5)


def needs_photo(request: TransitionRequest) -> str | None:
    if not request.attachments:
        return "handling needs a photo of the site as an attachment"
    return None


def needs_note(request: TransitionRequest) -> str | None:
    return None if request.note else "closing a case needs a note of how it was resolved"


GRID_CASE = Workflow(
    name="grid_case",
    noun="case",
    states=(
        State("received", "受理", "Received"),
        State("filed", "立案", "Filed"),
        State("dispatched", "派遣", "Dispatched"),
        State("handled", "处置", "Handled"),
        State("verified", "核查", "Verified"),
        State("closed", "结案", "Closed", terminal=True),
        State("voided", "作废", "Voided", terminal=True),
    ),
    transitions=(
        transition("file", "received", "filed", SUPERVISION),
        transition("void", "received", "voided", SUPERVISION),
        transition("dispatch", "filed", "dispatched", COMMAND, time_limit=handling_limit),
        transition(
            "handle",
            "dispatched",
            "handled",
            WORKS,
            guards=[needs_photo],
            time_limit=working_hours(1),
        ),
        transition("return", "dispatched", "filed", WORKS),
        transition("check", "handled", "verified", {("supervision", "editor")}),
        transition(
            "rework",
            "handled",
            "dispatched",
            {("supervision", "editor")},
            time_limit=working_days(2),
        ),
        transition("close", "verified", "closed", {("supervision", "admin")}, guards=[needs_note]),
    ),
    initial="received",
    initial_time_limit=working_hours(1),
)

# Who fires each transition in the tests, and what they send so that every guard lets it pass.
FIRED_BY = {
    "file": SUPERVISION_EDITOR,
    "void": SUPERVISION_ADMIN,
    "dispatch": COMMAND_EDITOR,
    "handle": WORKS_VIEWER,
    "return": WORKS_VIEWER,
    "check": SUPERVISION_EDITOR,
    "rework": SUPERVISION_EDITOR,
    "close": SUPERVISION_ADMIN,
}
SENT = {"note": "cleared by the street team", "attachments": [PHOTO]}

# How a new case reaches each state.
PATH_TO = {
    "received": [],
    "filed": ["file"],
    "dispatched": ["file", "dispatch"],
    "handled": ["file", "dispatch", "handle"],
    "verified": ["file", "dispatch", "handle", "check"],
    "closed": ["file", "dispatch", "handle", "check", "close"],
    "voided": ["void"],
}
