"""base geodatabase: admin areas, roads, buildings, water, land use, POIs, places, addresses

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SCHEMA = "base"


def _osm() -> list[sa.Column]:
    return [
        sa.Column("id", sa.BigInteger, autoincrement=False, nullable=False),
        sa.Column("osm_type", sa.String(1), nullable=False),
        sa.Column("osm_id", sa.BigInteger, nullable=False),
    ]


def _names() -> list[sa.Column]:
    return [
        sa.Column("name", sa.Text),
        sa.Column("name_zh", sa.Text),
        sa.Column("name_en", sa.Text),
    ]


def _geometry(geometry_type: str) -> list[sa.Column]:
    # geom_3857 is generated and stored so that tile requests read an indexed Mercator copy.
    return [
        sa.Column("geom", Geometry(geometry_type, srid=4490, spatial_index=False), nullable=False),
        sa.Column(
            "geom_3857",
            Geometry(geometry_type, srid=3857, spatial_index=False),
            sa.Computed("ST_Transform(geom, 3857)", persisted=True),
        ),
    ]


def _create(
    name: str, geometry_type: str, *columns: sa.Column, index: tuple[str, ...] = ()
) -> None:
    op.create_table(
        name,
        *_osm(),
        *columns,
        *_geometry(geometry_type),
        sa.PrimaryKeyConstraint("id", name=f"pk_{name}"),
        schema=SCHEMA,
    )
    for column in ("geom", "geom_3857"):
        op.create_index(
            f"ix_{name}_{column}", name, [column], schema=SCHEMA, postgresql_using="gist"
        )
    for column in index:
        op.create_index(f"ix_{name}_{column}", name, [column], schema=SCHEMA)


def upgrade() -> None:
    op.execute(f"CREATE SCHEMA {SCHEMA}")
    _create(
        "admin_areas",
        "MULTIPOLYGON",
        *_names(),
        sa.Column("admin_level", sa.SmallInteger, nullable=False),
        sa.Column("level", sa.Text),
        sa.Column("parent_id", sa.BigInteger),
        sa.Column("code", sa.Text),
        sa.Column("area_m2", sa.Float, nullable=False),
        index=("parent_id",),
    )
    _create(
        "roads",
        "LINESTRING",
        sa.Column("class", sa.Text, nullable=False),
        *_names(),
        sa.Column("ref", sa.Text),
        sa.Column("oneway", sa.SmallInteger, nullable=False),
        sa.Column("maxspeed", sa.SmallInteger, nullable=False),
        sa.Column("maxspeed_source", sa.Text, nullable=False),
        sa.Column("bridge", sa.Boolean, nullable=False),
        sa.Column("tunnel", sa.Boolean, nullable=False),
        sa.Column("layer", sa.SmallInteger, nullable=False),
        sa.Column("surface", sa.Text),
        sa.Column("length_m", sa.Float, nullable=False),
        index=("class",),
    )
    _create(
        "buildings",
        "MULTIPOLYGON",
        sa.Column("use", sa.Text, nullable=False),
        sa.Column("levels", sa.SmallInteger, nullable=False),
        sa.Column("levels_source", sa.Text, nullable=False),
        sa.Column("height_m", sa.Float, nullable=False),
        sa.Column("height_source", sa.Text, nullable=False),
        *_names(),
        sa.Column("housenumber", sa.Text),
        sa.Column("street", sa.Text),
        sa.Column("address", sa.Text),
        sa.Column("area_m2", sa.Float, nullable=False),
    )
    _create(
        "water",
        "GEOMETRY",
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("class", sa.Text, nullable=False),
        *_names(),
        sa.Column("intermittent", sa.Boolean, nullable=False),
        sa.Column("tunnel", sa.Boolean, nullable=False),
        sa.Column("length_m", sa.Float),
        sa.Column("area_m2", sa.Float),
    )
    _create(
        "landuse",
        "MULTIPOLYGON",
        sa.Column("osm_key", sa.Text, nullable=False),
        sa.Column("osm_class", sa.Text, nullable=False),
        *_names(),
        sa.Column("national_class", sa.Text),
        sa.Column("area_m2", sa.Float, nullable=False),
        index=("osm_class",),
    )
    _create(
        "pois",
        "POINT",
        sa.Column("category", sa.Text, nullable=False),
        sa.Column("subcategory", sa.Text, nullable=False),
        *_names(),
        sa.Column("address", sa.Text),
        sa.Column("opening_hours", sa.Text),
        sa.Column("phone", sa.Text),
        sa.Column("website", sa.Text),
        index=("category",),
    )
    _create(
        "places",
        "POINT",
        sa.Column("class", sa.Text, nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        *_names(),
        sa.Column("population", sa.Integer),
        sa.Column("rank", sa.SmallInteger, nullable=False),
    )
    _create(
        "addresses",
        "POINT",
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("housenumber", sa.Text, nullable=False),
        sa.Column("street", sa.Text),
        sa.Column("place", sa.Text),
        sa.Column("postcode", sa.Text),
        sa.Column("city", sa.Text),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("building_id", sa.BigInteger),
        index=("building_id",),
    )


def downgrade() -> None:
    op.execute(f"DROP SCHEMA {SCHEMA} CASCADE")
    op.execute("DELETE FROM platform.layer_state WHERE layer_id LIKE 'base.%'")
