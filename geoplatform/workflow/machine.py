"""Workflows declared as data: states, the transitions between them, who may fire each, its
guards and the time limit of the state it enters. Checked when declared, so a module with a
misspelt state or an unreachable one fails at import, not on the first case that needs it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from geoplatform.audit import Actor
from geoplatform.workflow.calendar import WorkingCalendar

# A (department, role) pair of ``Transition.fired_by`` with this role admits every role of the
# department.
ANY_ROLE = "*"
_NAME = "abcdefghijklmnopqrstuvwxyz0123456789_"


class InvalidWorkflow(ValueError):
    """A workflow declaration that contradicts itself."""


@dataclass(frozen=True)
class TimeLimit:
    """How long an item may stay in the state it enters: working hours or working days of the
    workflow's calendar, or clock hours (an emergency's limits run through nights and holidays).
    """

    amount: int
    unit: Literal["working_hours", "working_days", "hours"]

    def __post_init__(self) -> None:
        if self.amount <= 0:
            raise InvalidWorkflow(f"a time limit must be positive, not {self.amount}")

    def due(self, calendar: WorkingCalendar, entered_at: datetime) -> datetime:
        if self.unit == "working_hours":
            return calendar.after_working_hours(entered_at, self.amount)
        if self.unit == "working_days":
            return calendar.end_of_working_days(entered_at, self.amount)
        return entered_at + timedelta(hours=self.amount)

    def __str__(self) -> str:
        return f"{self.amount} {self.unit.replace('_', ' ')}"


def working_hours(amount: int) -> TimeLimit:
    return TimeLimit(amount, "working_hours")


def working_days(amount: int) -> TimeLimit:
    return TimeLimit(amount, "working_days")


def clock_hours(amount: int) -> TimeLimit:
    return TimeLimit(amount, "hours")


@dataclass(frozen=True)
class State:
    name: str
    title_zh: str
    title_en: str
    terminal: bool = False


@dataclass(frozen=True)
class TransitionRequest:
    """What a guard or a time-limit rule sees: the item as it is, who asks, and what they send.
    ``context`` is whatever the module passes to ``fire`` (say, the case's category)."""

    workflow: str
    item_id: str
    state: str
    entered_at: datetime
    transition: str
    actor: Actor
    note: str | None
    attachments: tuple[Mapping[str, Any], ...]
    context: Mapping[str, Any]


# A guard returns None to let the transition go on, or the reason it may not (answered as 409).
Guard = Callable[[TransitionRequest], str | None]
# A state's limit may depend on the item: 暴露垃圾 4 working hours, 绿地养护 5 working days.
TimeLimitRule = TimeLimit | Callable[[TransitionRequest], TimeLimit | None]


@dataclass(frozen=True)
class Transition:
    """``name`` moves an item from any of ``sources`` to ``target``; ``fired_by`` are the
    (department, role) pairs allowed to fire it (role ``ANY_ROLE`` for any role)."""

    name: str
    sources: frozenset[str]
    target: str
    fired_by: frozenset[tuple[str, str]]
    guards: tuple[Guard, ...] = ()
    time_limit: TimeLimitRule | None = None
    title_zh: str = ""
    title_en: str = ""

    def may_fire(self, actor: Actor) -> bool:
        return any(
            actor.department == department and role in (ANY_ROLE, actor.role)
            for department, role in self.fired_by
        )

    def limit_for(self, request: TransitionRequest) -> TimeLimit | None:
        if self.time_limit is None or isinstance(self.time_limit, TimeLimit):
            return self.time_limit
        return self.time_limit(request)

    def refusal(self, request: TransitionRequest) -> str | None:
        """The first guard's refusal, or None when every guard lets it go on."""
        for guard in self.guards:
            message = guard(request)
            if message is not None:
                return message
        return None


def transition(
    name: str,
    sources: str | Iterable[str],
    target: str,
    fired_by: Iterable[tuple[str, str]],
    *,
    guards: Iterable[Guard] = (),
    time_limit: TimeLimitRule | None = None,
    title_zh: str = "",
    title_en: str = "",
) -> Transition:
    """A Transition from plain arguments (one source state as a string, lists for sets)."""
    return Transition(
        name=name,
        sources=frozenset([sources] if isinstance(sources, str) else sources),
        target=target,
        fired_by=frozenset(fired_by),
        guards=tuple(guards),
        time_limit=time_limit,
        title_zh=title_zh,
        title_en=title_en,
    )


@dataclass(frozen=True)
class Workflow:
    """A state machine. ``noun`` names an item in messages ("case 17 is in state …");
    ``audit_layer`` is the layer id its transitions are audited under (default
    ``workflow:<name>``), so a workflow over a layer's features can share their audit trail;
    ``calendar`` counts its working time (default: China's, ``calendar.china_calendar``)."""

    name: str
    states: tuple[State, ...]
    transitions: tuple[Transition, ...]
    initial: str
    initial_time_limit: TimeLimit | None = None
    noun: str = "item"
    audit_layer: str | None = None
    calendar: WorkingCalendar | None = None
    _states: Mapping[str, State] = field(init=False, repr=False, compare=False)
    _transitions: Mapping[str, Transition] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "states", tuple(self.states))
        object.__setattr__(self, "transitions", tuple(self.transitions))
        _refuse_duplicates(self.name, "state", [s.name for s in self.states])
        _refuse_duplicates(self.name, "transition", [t.name for t in self.transitions])
        object.__setattr__(self, "_states", {s.name: s for s in self.states})
        object.__setattr__(self, "_transitions", {t.name: t for t in self.transitions})
        _check(self)

    @property
    def audit_subject(self) -> str:
        return self.audit_layer or f"workflow:{self.name}"

    def state(self, name: str) -> State:
        return self._states[name]

    def get_transition(self, name: str) -> Transition | None:
        return self._transitions.get(name)

    def allowed_from(self, state: str) -> tuple[Transition, ...]:
        """The transitions the state allows, in declaration order."""
        return tuple(t for t in self.transitions if state in t.sources)

    def terminal_states(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.states if s.terminal)


def _refuse_duplicates(workflow: str, kind: str, names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InvalidWorkflow(f"workflow {workflow!r}: duplicate {kind} name {name!r}")
        seen.add(name)


def _check(workflow: Workflow) -> None:
    where = f"workflow {workflow.name!r}"
    for name in (workflow.name, *workflow._states, *workflow._transitions):
        if not name or name[0].isdigit() or set(name) - set(_NAME):
            raise InvalidWorkflow(f"{where}: {name!r} is not a lower-case name (a-z, 0-9, _)")
    states = workflow._states
    if workflow.initial not in states:
        raise InvalidWorkflow(f"{where}: the initial state {workflow.initial!r} is not declared")
    for t in workflow.transitions:
        unknown = sorted((t.sources | {t.target}) - states.keys())
        if unknown:
            raise InvalidWorkflow(f"{where}: transition {t.name!r} names unknown states {unknown}")
        if not t.sources:
            raise InvalidWorkflow(f"{where}: transition {t.name!r} has no source state")
        terminal = sorted(s for s in t.sources if states[s].terminal)
        if terminal:
            raise InvalidWorkflow(f"{where}: transition {t.name!r} leaves terminal {terminal}")
        if not t.fired_by:
            raise InvalidWorkflow(f"{where}: nobody may fire transition {t.name!r}")
        if t.time_limit is not None and states[t.target].terminal:
            raise InvalidWorkflow(
                f"{where}: transition {t.name!r} sets a time limit on terminal {t.target!r}"
            )
    unreachable = sorted(states.keys() - _reachable(workflow))
    if unreachable:
        raise InvalidWorkflow(
            f"{where}: states {unreachable} cannot be reached from {workflow.initial!r}"
        )
    stuck = sorted(
        s.name for s in workflow.states if not s.terminal and not workflow.allowed_from(s.name)
    )
    if stuck:
        raise InvalidWorkflow(f"{where}: states {stuck} are not terminal but no transition leaves")


def _reachable(workflow: Workflow) -> set[str]:
    reached, frontier = {workflow.initial}, [workflow.initial]
    while frontier:
        for t in workflow.allowed_from(frontier.pop()):
            if t.target not in reached:
                reached.add(t.target)
                frontier.append(t.target)
    return reached
