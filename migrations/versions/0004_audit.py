"""audit log: who changed which feature how, with the feature before and after

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SCHEMA = "platform"


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        # Who, as the request was authenticated; no foreign keys, so the trail outlives keys and
        # departments that are later removed.
        sa.Column("department", sa.Text),
        sa.Column("role", sa.Text),
        sa.Column("key_id", sa.Integer),
        sa.Column("layer_id", sa.Text, nullable=False),
        # Text, so one table serves layers whose ids are integers and layers whose ids are codes.
        sa.Column("fid", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("before", JSONB),
        sa.Column("after", JSONB),
        sa.Column("request_id", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
        sa.CheckConstraint(
            "action IN ('create', 'replace', 'update', 'delete')", name="ck_audit_log_action"
        ),
        sa.CheckConstraint("outcome IN ('ok', 'rejected')", name="ck_audit_log_outcome"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_audit_log_layer_id_fid_at", "audit_log", ["layer_id", "fid", "at"], schema=SCHEMA
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("audit_log", schema=SCHEMA)
