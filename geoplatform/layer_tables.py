"""What every layer table has, for the modules' SQLAlchemy models.

Authoritative geometry in CGCS2000 (EPSG:4490) in ``geom`` and a stored, generated Web
Mercator copy in ``geom_3857``, each with its own GiST index, so tiles never reproject; and the
gazetteer's trigram indexes over the folded searchable columns (``platform.search_fold``,
migration 0005).
"""

from __future__ import annotations

from geoalchemy2 import Geometry
from sqlalchemy import Column, Computed, Index, Table, func

from geoplatform.crs import CGCS2000, WEB_MERCATOR


def geometry_columns(table: str, geometry_type: str) -> list[Column | Index]:
    return [
        Column("geom", Geometry(geometry_type, srid=CGCS2000, spatial_index=False), nullable=False),
        Column(
            "geom_3857",
            Geometry(geometry_type, srid=WEB_MERCATOR, spatial_index=False),
            Computed(f"ST_Transform(geom, {WEB_MERCATOR})", persisted=True),
        ),
        Index(f"ix_{table}_geom", "geom", postgresql_using="gist"),
        Index(f"ix_{table}_geom_3857", "geom_3857", postgresql_using="gist"),
    ]


def search_indexes(table: Table, *columns: str) -> None:
    """Declare the trigram index of each searchable column of ``table``."""
    for name in columns:
        Index(
            f"ix_{table.name}_{name}_search",
            func.platform.search_fold(table.c[name]).label(name),
            postgresql_using="gin",
            postgresql_ops={name: "gin_trgm_ops"},
        )
