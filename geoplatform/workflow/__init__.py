"""The core's audited workflow: state machines declared as data (``machine``), working time
(``calendar``), items and their history in the database (``store``), and the HTTP a module's
blueprint mounts (``http``). See docs of ``Workflow`` for a declaration."""

from geoplatform.workflow.calendar import OutsideCalendar, WorkingCalendar, china_calendar
from geoplatform.workflow.machine import (
    ANY_ROLE,
    InvalidWorkflow,
    State,
    TimeLimit,
    Transition,
    TransitionRequest,
    Workflow,
    clock_hours,
    transition,
    working_days,
    working_hours,
)

__all__ = [
    "ANY_ROLE",
    "InvalidWorkflow",
    "OutsideCalendar",
    "State",
    "TimeLimit",
    "Transition",
    "TransitionRequest",
    "WorkingCalendar",
    "Workflow",
    "china_calendar",
    "clock_hours",
    "transition",
    "working_days",
    "working_hours",
]
