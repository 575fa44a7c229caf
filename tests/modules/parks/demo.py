"""The parks demo: every park of the base land use at least ``min_area_m2`` large becomes a park.

Idempotent: parks derived before are replaced by the same rows.
"""

from __future__ import annotations

from sqlalchemy import text

from geoplatform.layer_state import record_change
from tests.modules.parks.layers import PARKS

_REPLACE = (
    text("DELETE FROM parks.parks WHERE landuse_id IS NOT NULL"),
    text(
        """INSERT INTO parks.parks (name, area_m2, landuse_id, geom)
           SELECT name, area_m2, id, geom FROM base.landuse
            WHERE osm_class = 'park' AND area_m2 >= :min_area
            ORDER BY id"""
    ),
)


def load_demo(platform, progress) -> str:
    min_area = platform.settings_of("parks").min_area_m2
    with platform.engine.begin() as conn:
        progress("parks from the base land use", 0, 1)
        for statement in _REPLACE:
            conn.execute(statement, {"min_area": min_area})
        count = conn.execute(text("SELECT count(*) FROM parks.parks")).scalar_one()
        record_change(conn, PARKS)
        progress("parks from the base land use", 1, 1)
    return f"{count} parks of at least {min_area:g} m²"


def insert_samples(conn) -> None:
    conn.execute(
        text(
            """INSERT INTO parks.parks (name, area_m2, geom)
               VALUES ('Sample park', 12345,
                       ST_Multi(ST_MakeEnvelope(9.519, 47.139, 9.522, 47.141, 4490)))"""
        )
    )
    record_change(conn, PARKS)
