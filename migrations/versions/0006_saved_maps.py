"""saved maps: thematic maps assembled from layers without code, each with its own style

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SCHEMA = "platform"


def upgrade() -> None:
    op.create_table(
        "saved_maps",
        sa.Column("id", sa.Integer, sa.Identity()),
        sa.Column("slug", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("owner_department", sa.Text, nullable=False),
        sa.Column("visibility", sa.Text, nullable=False),
        sa.Column("spec", JSONB, nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        # No foreign key: the record of who made a map outlives a revoked or removed key.
        sa.Column("created_by", sa.Integer),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.PrimaryKeyConstraint("id", name="pk_saved_maps"),
        sa.UniqueConstraint("slug", name="uq_saved_maps_slug"),
        sa.ForeignKeyConstraint(
            ["owner_department"],
            [f"{SCHEMA}.departments.code"],
            name="fk_saved_maps_owner_department_departments",
        ),
        sa.CheckConstraint("slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'", name="ck_saved_maps_slug_format"),
        sa.CheckConstraint("visibility IN ('public', 'internal')", name="ck_saved_maps_visibility"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("saved_maps", schema=SCHEMA)
