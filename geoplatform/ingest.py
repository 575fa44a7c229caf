"""Shared steps of every import: repair geometries, COPY into staging, swap in one transaction."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path

import shapely
from psycopg import Cursor, sql
from shapely.geometry.base import BaseGeometry

DIMENSION = {"Point": 0, "LineString": 1, "Polygon": 2}


class IngestError(Exception):
    """The input cannot be imported; nothing was changed."""


def repair(geometry: BaseGeometry) -> tuple[BaseGeometry | None, bool]:
    """A valid geometry of the same dimension and whether it had to be repaired.

    Returns None when repair collapses it to a lower dimension (a ring of zero area, a line of
    zero length): such an object is reported as skipped, never stored as something else.
    """
    if geometry.is_valid:
        return geometry, False
    dimension = shapely.get_dimensions(geometry)
    fixed = shapely.make_valid(geometry, method="structure", keep_collapsed=False)
    if dimension < 2:
        fixed = shapely.make_valid(geometry)
    parts = [part for part in _parts(fixed) if shapely.get_dimensions(part) == dimension]
    if not parts:
        return None, True
    return (parts[0] if len(parts) == 1 else shapely.union_all(parts)), True


def _parts(geometry: BaseGeometry) -> list[BaseGeometry]:
    if hasattr(geometry, "geoms"):
        return [p for g in geometry.geoms for p in _parts(g)]
    return [] if geometry.is_empty else [geometry]


def create_staging(cursor: Cursor, stage: str, target: tuple[str, str], columns: Sequence[str]):
    """A temporary table with the target's column types plus ``wkb``, dropped at commit."""
    cursor.execute(
        sql.SQL(
            "CREATE TEMP TABLE {stage} ON COMMIT DROP AS "
            "SELECT {columns} FROM {target} WITH NO DATA"
        ).format(
            stage=sql.Identifier(stage),
            columns=sql.SQL(", ").join(map(sql.Identifier, columns)),
            target=sql.Identifier(*target),
        )
    )
    cursor.execute(sql.SQL("ALTER TABLE {} ADD COLUMN wkb bytea").format(sql.Identifier(stage)))


def copy_rows(cursor: Cursor, stage: str, columns: Sequence[str], rows: Iterable[Sequence]) -> None:
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(stage), sql.SQL(", ").join(map(sql.Identifier, [*columns, "wkb"]))
    )
    with cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
