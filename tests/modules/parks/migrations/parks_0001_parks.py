"""The parks schema and its table.

Revision ID: parks_0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "parks_0001"
down_revision = None
branch_labels = ("parks",)
# The base layers it derives parks from, and the departments table its department goes into.
depends_on = "0003"


def upgrade() -> None:
    op.execute("CREATE SCHEMA parks")
    op.create_table(
        "parks",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("name", sa.Text),
        sa.Column("area_m2", sa.Float, nullable=False),
        sa.Column("landuse_id", sa.BigInteger),
        sa.Column("geom", Geometry("MULTIPOLYGON", srid=4490, spatial_index=False), nullable=False),
        sa.Column(
            "geom_3857",
            Geometry("MULTIPOLYGON", srid=3857, spatial_index=False),
            sa.Computed("ST_Transform(geom, 3857)", persisted=True),
        ),
        schema="parks",
    )
    op.create_index("ix_parks_geom", "parks", ["geom"], schema="parks", postgresql_using="gist")
    op.create_index(
        "ix_parks_geom_3857", "parks", ["geom_3857"], schema="parks", postgresql_using="gist"
    )


def downgrade() -> None:
    op.drop_table("parks", schema="parks")
    op.execute("DROP SCHEMA parks")
