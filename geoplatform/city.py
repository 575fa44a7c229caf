"""The loaded city's profile (``platform.city``), written by the loader and read by services."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

# No parameters, so the same text serves SQLAlchemy and the psycopg read pool.
PROJECTED_SRID_SQL = "SELECT projected_srid FROM platform.city WHERE id = 1"


def projected_srid(conn: Connection) -> int | None:
    """EPSG code of the city's projected CRS as chosen at load; None before any city is loaded."""
    return conn.execute(text(PROJECTED_SRID_SQL)).scalar()


def city_bounds(conn: Connection) -> list[list[float]] | None:
    """The loaded city's extent as [[west, south], [east, north]] in degrees (what a map page
    opens on), or None before any city is loaded."""
    bbox = conn.execute(text("SELECT bbox FROM platform.city WHERE id = 1")).scalar()
    if not bbox:
        return None
    west, south, east, north = bbox
    return [[west, south], [east, north]]
