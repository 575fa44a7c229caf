"""The core's audited workflow: state machines declared as data (``machine``), working time
(``calendar``), items and their history in the database (``store``), and the HTTP a module's
blueprint mounts (``http``). A module declares its machine in its ``workflow.py``::

    CASE = Workflow(
        name="grid_case",
        noun="case",
        states=(State("filed", "立案", "Filed"), State("closed", "结案", "Closed", terminal=True)),
        transitions=(transition("close", "filed", "closed", {("supervision", "admin")}),),
        initial="filed",
        initial_time_limit=working_hours(1),
    )

and moves items with ``store.start`` and ``store.fire`` in its own transaction.
"""

from geoplatform.workflow.calendar import WorkingCalendar, china_calendar
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
