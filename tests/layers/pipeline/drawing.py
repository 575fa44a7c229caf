"""Small networks drawn by hand for the pipeline tests: coordinates in metres in UTM 32N from
an origin, stored as the loaders store them (EPSG:4490, length measured in the projected CRS)."""

from __future__ import annotations

from sqlalchemy import func, insert
from sqlalchemy.engine import Connection

from layers.pipeline import models

UTM_32N = 32632
# Near Vaduz: the CRS chosen from the pipes' extent is then UTM 32N as well.
VADUZ = (539_000.0, 5_223_000.0)

XY = tuple[float, float]


def add_network(
    conn: Connection, code: str, utility: str = "JS", name_zh: str = "", name_en: str = ""
) -> None:
    conn.execute(
        insert(models.networks).values(
            code=code,
            utility=utility,
            name_zh=name_zh or code,
            name_en=name_en or code,
            source="drawn by hand",
        )
    )


def add_pipe(
    conn: Connection,
    network: str,
    code: str,
    points: list[XY],
    origin: XY = VADUZ,
    utility: str = "JS",
    **attributes,
) -> None:
    """A pipe through ``points`` (metres from ``origin``); other columns as keywords."""
    x0, y0 = origin
    wkt = "LINESTRING(" + ", ".join(f"{x0 + x} {y0 + y}" for x, y in points) + ")"
    line = func.ST_SetSRID(func.ST_GeomFromText(wkt), UTM_32N)
    conn.execute(
        insert(models.pipes).values(
            network=network,
            code=code,
            utility=utility,
            length_m=func.ST_Length(line),
            geom=func.ST_Transform(line, 4490),
            **attributes,
        )
    )


def add_point(
    conn: Connection,
    network: str,
    code: str,
    kind: str,
    xy: XY,
    origin: XY = VADUZ,
    utility: str = "JS",
    **attributes,
) -> None:
    """A point at ``xy`` (metres from ``origin``); other columns as keywords."""
    point = func.ST_SetSRID(func.ST_MakePoint(origin[0] + xy[0], origin[1] + xy[1]), UTM_32N)
    conn.execute(
        insert(models.points).values(
            network=network,
            code=code,
            utility=utility,
            kind=kind,
            geom=func.ST_Transform(point, 4490),
            **attributes,
        )
    )
