"""Tables of the core (schema ``platform``): layer data versions, the city profile, load runs."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    Identity,
    Integer,
    SmallInteger,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from geoplatform.db import make_metadata

metadata = make_metadata("platform")

# One row per layer. ``version`` changes whenever the layer's data changes, so caches keyed by
# versions can never serve stale data; count and extent are kept here so listing layers is cheap.
layer_state = Table(
    "layer_state",
    metadata,
    Column("layer_id", Text, primary_key=True),
    Column("version", BigInteger, nullable=False, server_default="1"),
    Column("feature_count", BigInteger, nullable=False, server_default="0"),
    Column("bbox", ARRAY(Float)),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# The single row describing the city the base data covers.
city = Table(
    "city",
    metadata,
    Column("id", SmallInteger, primary_key=True, server_default="1"),
    Column("projected_srid", Integer, nullable=False),
    Column("city_admin_level", SmallInteger),
    Column("bbox", ARRAY(Float), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("id = 1", name="single_row"),
)

load_runs = Table(
    "load_runs",
    metadata,
    Column("id", Integer, Identity(), primary_key=True),
    Column("kind", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("sha256", Text, nullable=False),
    Column("loader_version", Text, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("summary", JSONB, nullable=False),
)
