"""Tables of the utility networks (schema ``pipeline``), as migration 0007 builds them.

Every utility's pipes live in ``pipes`` and its valves, hydrants, wells, taps and sources in
``points``; the registered layers read them through per-utility views. Codes (``code``) are the
survey's or the imported model's own ids, unique within a network, so an EPANET link keeps its id.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)

from geoplatform.db import make_metadata
from geoplatform.layer_tables import geometry_columns, search_indexes

metadata = make_metadata("pipeline")


def _network_column() -> Column:
    # A network's rows go with it.
    return Column(
        "network", Text, ForeignKey("pipeline.networks.code", ondelete="CASCADE"), nullable=False
    )


def _asset_columns(table: str) -> list:
    return [
        Column("id", BigInteger, Identity(), primary_key=True),
        _network_column(),
        Column("code", Text, nullable=False),
        Column("utility", String(2), nullable=False, index=True),
        Column("subtype", Text),
        Column("feature_code", String(8)),
        Column("install_year", SmallInteger),
        Column("owner", Text),
        Column("status", String(1), nullable=False, server_default="0"),
        UniqueConstraint("network", "code", name=f"uq_{table}_network_code"),
    ]


networks = Table(
    "networks",
    metadata,
    Column("code", Text, primary_key=True),
    Column("utility", String(2), nullable=False),
    Column("name_zh", Text, nullable=False),
    Column("name_en", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("snap_tolerance_m", Float, nullable=False, server_default="0.5"),
    Column("loaded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

pipes = Table(
    "pipes",
    metadata,
    *_asset_columns("pipes"),
    Column("role", Text, nullable=False, server_default="main"),
    Column("diameter_mm", Integer),
    Column("material", Text),
    Column("start_node", Text),
    Column("end_node", Text),
    Column("start_depth_m", Float),
    Column("end_depth_m", Float),
    Column("start_ground_m", Float),
    Column("end_ground_m", Float),
    Column("pressure_class", Text),
    Column("laying", Text),
    Column("road_name", Text),
    Column("length_m", Float, nullable=False),
    *geometry_columns("pipes", "LINESTRING"),
)

points = Table(
    "points",
    metadata,
    *_asset_columns("points"),
    Column("kind", Text, nullable=False, index=True),
    Column("pipe_code", Text),
    Column("normal_state", Text),
    Column("operable", Boolean),
    Column("source_kind", Text),
    Column("building_id", BigInteger),
    Column("address", Text),
    Column("customers", Integer),
    Column("ground_m", Float),
    Column("depth_m", Float),
    *geometry_columns("points", "POINT"),
)

maintenance = Table(
    "maintenance",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    _network_column(),
    Column("asset_type", Text, nullable=False),
    Column("asset_code", Text, nullable=False),
    Column("performed_on", Date, nullable=False),
    Column("kind", Text, nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("cost_yuan", Numeric(12, 2)),
    Column("contractor", Text),
    Column("department", Text),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_maintenance_asset", "network", "asset_type", "asset_code"),
)

service_lives = Table(
    "service_lives",
    metadata,
    Column("material", Text, primary_key=True),
    Column("years", SmallInteger, nullable=False),
    Column("source", Text, nullable=False),
)


search_indexes(pipes, "code")
search_indexes(points, "code")
