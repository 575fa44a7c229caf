"""Revision 0008 down and up again with workflow data in place."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from geoplatform import migrate
from geoplatform.db import make_engine
from geoplatform.workflow import store
from tests.workflow.grid_case import GRID_CASE, SUPERVISION_EDITOR

MONDAY = datetime(2025, 11, 17, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
AUDIT_TRANSITION = text(
    """INSERT INTO platform.audit_log (layer_id, fid, action, outcome)
       VALUES ('workflow:grid_case', 'x', 'transition', 'ok')"""
)


def audit_actions(engine) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT action FROM platform.audit_log ORDER BY id"))
        return rows.scalars().all()


def test_downgrade_drops_the_tables_and_the_transition_action(make_database):
    settings = make_database("wfdown")
    engine = make_engine(settings)
    with engine.begin() as conn:
        store.start(conn, GRID_CASE, "17", SUPERVISION_EDITOR, now=MONDAY)
        store.fire(conn, GRID_CASE, "17", "file", SUPERVISION_EDITOR, now=MONDAY)
    assert audit_actions(engine) == ["create", "transition"]

    migrate.downgrade(settings, "0007")
    tables = set(inspect(engine).get_table_names(schema="platform"))
    assert {"workflow_items", "workflow_history"} & tables == set()
    assert audit_actions(engine) == ["create"]
    with pytest.raises(IntegrityError, match="ck_audit_log_action"), engine.begin() as conn:
        conn.execute(AUDIT_TRANSITION)

    migrate.upgrade(settings)
    with engine.begin() as conn:
        conn.execute(AUDIT_TRANSITION)
    assert audit_actions(engine) == ["create", "transition"]
    engine.dispose()
