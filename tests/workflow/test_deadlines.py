"""Time limits set by transitions, over the working calendar, and the overdue query."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from geoplatform.workflow import State, Workflow, store, transition, working_days
from tests.workflow.grid_case import (
    COMMAND_EDITOR,
    GRID_CASE,
    SUPERVISION_EDITOR,
    WORKS_VIEWER,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
FRIDAY_BEFORE_NATIONAL_DAY = datetime(2025, 9, 26, 15, 0, tzinfo=SHANGHAI)


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, month, day, hour, minute, tzinfo=SHANGHAI)


def dispatched(conn, item_id: str, category: str, when: datetime) -> store.ItemState:
    store.start(conn, GRID_CASE, item_id, SUPERVISION_EDITOR, now=when)
    store.fire(conn, GRID_CASE, item_id, "file", SUPERVISION_EDITOR, now=when)
    return store.fire(
        conn,
        GRID_CASE,
        item_id,
        "dispatch",
        COMMAND_EDITOR,
        context={"category": category},
        now=when,
    )


def test_the_limit_of_the_state_entered_depends_on_the_case(conn):
    garbage = dispatched(conn, "1", "暴露垃圾", FRIDAY_BEFORE_NATIONAL_DAY)
    green = dispatched(conn, "2", "绿地养护", FRIDAY_BEFORE_NATIONAL_DAY)
    # 4 working hours: 2.5 on Friday, 1.5 on the adjusted working Sunday.
    assert garbage.due_at == at(9, 28, 10)
    # 5 working days: 28, 29, 30 September, then 9 and 10 October after the holiday.
    assert green.due_at == at(10, 10, 17, 30)
    assert store.state(conn, GRID_CASE, "1").entered_at == FRIDAY_BEFORE_NATIONAL_DAY


def test_a_state_without_limit_has_no_due_time(conn):
    store.start(conn, GRID_CASE, "3", SUPERVISION_EDITOR, now=FRIDAY_BEFORE_NATIONAL_DAY)
    assert store.state(conn, GRID_CASE, "3").due_at == at(9, 26, 16)
    filed = store.fire(conn, GRID_CASE, "3", "file", SUPERVISION_EDITOR, now=at(9, 26, 15, 30))
    assert filed.due_at is None


def test_history_keeps_each_steps_limit_and_whether_it_was_kept(conn):
    dispatched(conn, "4", "暴露垃圾", FRIDAY_BEFORE_NATIONAL_DAY)
    store.fire(
        conn,
        GRID_CASE,
        "4",
        "handle",
        WORKS_VIEWER,
        attachments=[{"href": "photo.jpg"}],
        now=at(9, 28, 11),
    )
    *_, late = store.history(conn, GRID_CASE, "4")
    assert (late.transition, late.entered_at, late.due_at, late.acted_at) == (
        "handle",
        FRIDAY_BEFORE_NATIONAL_DAY,
        at(9, 28, 10),
        at(9, 28, 11),
    )
    assert late.to_json()["onTime"] is False
    first = store.history(conn, GRID_CASE, "4")[1]
    assert (first.transition, first.to_json()["onTime"]) == ("file", True)


def test_overdue_lists_exactly_the_items_past_their_limit(conn):
    received = FRIDAY_BEFORE_NATIONAL_DAY
    store.start(conn, GRID_CASE, "received", SUPERVISION_EDITOR, now=received)  # due 16:00
    dispatched(conn, "garbage", "暴露垃圾", received)  # due Sunday 28th 10:00
    dispatched(conn, "green", "绿地养护", received)  # due 10 October 17:30
    store.start(conn, GRID_CASE, "voided", SUPERVISION_EDITOR, now=received)
    store.fire(conn, GRID_CASE, "voided", "void", SUPERVISION_EDITOR, now=received)
    store.start(conn, GRID_CASE, "filed", SUPERVISION_EDITOR, now=received)
    store.fire(conn, GRID_CASE, "filed", "file", SUPERVISION_EDITOR, now=received)

    def overdue_at(moment: datetime) -> list[str]:
        return [item.item_id for item in store.overdue(conn, GRID_CASE, moment)]

    assert overdue_at(at(9, 26, 15, 59)) == []
    assert overdue_at(at(9, 26, 16)) == []  # due at 16:00 is not yet overdue at 16:00
    assert overdue_at(at(9, 26, 16, 1)) == ["received"]
    assert overdue_at(at(9, 29, 9)) == ["received", "garbage"]
    assert overdue_at(at(10, 11, 9)) == ["received", "garbage", "green"]


def test_overdue_is_per_workflow_and_ignores_states_now_declared_terminal(conn):
    people = {("supervision", "editor")}
    states = (
        State("open", "办理", "Open"),
        State("parked", "挂账", "Parked"),
        State("done", "办结", "Done", terminal=True),
    )
    before = Workflow(
        name="approval",
        states=states,
        transitions=(
            transition("park", "open", "parked", people, time_limit=working_days(2)),
            transition("finish", {"open", "parked"}, "done", people),
        ),
        initial="open",
    )
    store.start(conn, before, "a1", SUPERVISION_EDITOR, now=FRIDAY_BEFORE_NATIONAL_DAY)
    store.fire(conn, before, "a1", "park", SUPERVISION_EDITOR, now=FRIDAY_BEFORE_NATIONAL_DAY)
    later = at(10, 20, 9)
    assert [i.item_id for i in store.overdue(conn, before, later)] == ["a1"]
    assert store.overdue(conn, GRID_CASE, later) == []

    # A later declaration parks cases for good: parked ones are no longer late.
    after = Workflow(
        name="approval",
        states=(states[0], State("parked", "挂账", "Parked", terminal=True), states[2]),
        transitions=(
            transition("park", "open", "parked", people),
            transition("finish", "open", "done", people),
        ),
        initial="open",
    )
    assert store.overdue(conn, after, later) == []
