"""The parks module's one table: a park's outline, its name and area."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, Identity, Table, Text

from geoplatform.db import make_metadata
from geoplatform.layer_tables import geometry_columns

metadata = make_metadata("parks")

parks = Table(
    "parks",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("name", Text),
    Column("area_m2", Float, nullable=False),
    # The base landuse row the demo derived it from (none for one drawn by hand).
    Column("landuse_id", BigInteger),
    *geometry_columns("parks", "MULTIPOLYGON"),
)
