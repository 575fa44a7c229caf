"""The projected CRS every pipeline analysis measures in: the city's, else one chosen from the
extent of the networks (a database holding only imported models has no city)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geoplatform import city
from geoplatform.crs import projected_srid_for
from geoplatform.errors import NotFound

# Metres are reported to the millimetre: finer than any survey of buried pipes; degrees to 1e-7
# (about a centimetre).
METRE_DIGITS = 3
DEGREE_DIGITS = 7

_EXTENT = """
SELECT ST_XMin(e) AS west, ST_YMin(e) AS south, ST_XMax(e) AS east, ST_YMax(e) AS north
  FROM (SELECT ST_Extent(geom) AS e FROM pipeline.pipes) AS extent
"""


class NoProjectedCrs(NotFound):
    """Neither a city nor any pipe to choose a projected CRS from."""


def measuring_srid(conn: Connection) -> int:
    srid = city.projected_srid(conn)
    if srid is not None:
        return srid
    row = conn.execute(text(_EXTENT)).one()
    if row.west is None:
        raise NoProjectedCrs("no city is loaded and no pipe either: nothing to measure in")
    return projected_srid_for((row.west, row.south, row.east, row.north))


def metres(value: float) -> float:
    return round(value, METRE_DIGITS)
