"""platform core: PostGIS, layer data versions, the city profile, load runs

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SCHEMA = "platform"


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.execute(f"CREATE SCHEMA {SCHEMA}")
    op.create_table(
        "layer_state",
        sa.Column("layer_id", sa.Text, primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False, server_default="1"),
        sa.Column("feature_count", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("bbox", ARRAY(sa.Float)),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("layer_id", name="pk_layer_state"),
        schema=SCHEMA,
    )
    op.create_table(
        "city",
        sa.Column("id", sa.SmallInteger, server_default="1"),
        sa.Column("projected_srid", sa.Integer, nullable=False),
        sa.Column("city_admin_level", sa.SmallInteger),
        sa.Column("bbox", ARRAY(sa.Float), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("id", name="pk_city"),
        sa.CheckConstraint("id = 1", name="ck_city_single_row"),
        schema=SCHEMA,
    )
    op.create_table(
        "load_runs",
        sa.Column("id", sa.Integer, sa.Identity()),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("sha256", sa.Text, nullable=False),
        sa.Column("loader_version", sa.Text, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "finished_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("summary", JSONB, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_load_runs"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    # PostGIS stays installed: other databases' objects may depend on the extension.
    op.execute(f"DROP SCHEMA {SCHEMA} CASCADE")
