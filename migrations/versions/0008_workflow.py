"""workflow: where each item of a workflow stands, its history, and 'transition' in the audit log

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02

Items are keyed by the workflow's name and the item's id as text, so one pair of tables serves
grid cases, land approvals and incidents alike; a module keeps its own facts about an item in its
own tables under the same id.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

SCHEMA = "platform"
ACTIONS_BEFORE = "action IN ('create', 'replace', 'update', 'delete')"
ACTIONS = "action IN ('create', 'replace', 'update', 'delete', 'transition')"


def upgrade() -> None:
    op.create_table(
        "workflow_items",
        sa.Column("workflow", sa.Text, nullable=False),
        sa.Column("item_id", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        # Null in a state without a time limit.
        sa.Column("due_at", sa.DateTime(timezone=True)),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("workflow", "item_id", name="pk_workflow_items"),
        sa.CheckConstraint("version > 0", name="ck_workflow_items_version_positive"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_workflow_items_workflow_due_at",
        "workflow_items",
        ["workflow", "due_at"],
        schema=SCHEMA,
    )
    op.create_table(
        "workflow_history",
        sa.Column("id", sa.BigInteger, sa.Identity()),
        sa.Column("workflow", sa.Text, nullable=False),
        sa.Column("item_id", sa.Text, nullable=False),
        # Both null on the row that records the item's start in the initial state.
        sa.Column("transition", sa.Text),
        sa.Column("from_state", sa.Text),
        sa.Column("to_state", sa.Text, nullable=False),
        # Who, as the request was authenticated; no foreign keys to keys or departments, so the
        # history outlives keys and departments later removed.
        sa.Column("department", sa.Text),
        sa.Column("role", sa.Text),
        sa.Column("key_id", sa.Integer),
        # When the state left was entered and due: whether a step kept its time limit is read
        # from its own row.
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True)),
        sa.Column("acted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("attachments", JSONB, nullable=False, server_default="[]"),
        sa.Column("request_id", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_workflow_history"),
        sa.ForeignKeyConstraint(
            ["workflow", "item_id"],
            [f"{SCHEMA}.workflow_items.workflow", f"{SCHEMA}.workflow_items.item_id"],
            name="fk_workflow_history_workflow_workflow_items",
        ),
        sa.CheckConstraint(
            "(transition IS NULL) = (from_state IS NULL)",
            name="ck_workflow_history_start_or_transition",
        ),
        sa.CheckConstraint(
            "jsonb_typeof(attachments) = 'array'", name="ck_workflow_history_attachments_array"
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_workflow_history_workflow_item_id_acted_at",
        "workflow_history",
        ["workflow", "item_id", "acted_at"],
        schema=SCHEMA,
    )
    _audit_actions(ACTIONS)


def downgrade() -> None:
    # Transitions leave the audit log with the tables they were recorded for, or the narrower
    # constraint could not be created again.
    op.execute("DELETE FROM platform.audit_log WHERE action = 'transition'")
    _audit_actions(ACTIONS_BEFORE)
    op.drop_table("workflow_history", schema=SCHEMA)
    op.drop_table("workflow_items", schema=SCHEMA)


def _audit_actions(condition: str) -> None:
    op.drop_constraint("ck_audit_log_action", "audit_log", schema=SCHEMA, type_="check")
    op.create_check_constraint("ck_audit_log_action", "audit_log", condition, schema=SCHEMA)
