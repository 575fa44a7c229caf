"""Shared steps of every import: repair geometries, COPY into staging, swap in one transaction."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import shapely
from psycopg import Cursor, sql
from shapely.geometry.base import BaseGeometry


class IngestError(Exception):
    """The input cannot be imported; nothing was changed."""


@dataclass(frozen=True)
class LayerChange:
    """The rows a layer holds before a replace and would hold after it."""

    layer: str
    before: int
    after: int

    @property
    def lost(self) -> float:
        """The share of the layer's rows the replace would remove (0 when it grows)."""
        if self.before == 0:
            return 0.0
        return max(self.before - self.after, 0) / self.before


class ReplacementRefused(IngestError):
    """A replace would remove most of a layer; it needs ``force``. Nothing was changed."""

    def __init__(self, changes: Sequence[LayerChange], max_loss: float) -> None:
        self.changes = tuple(changes)
        self.max_loss = max_loss
        worst = [c for c in changes if c.lost > max_loss]
        listed = "; ".join(f"{c.layer} {c.before:,} -> {c.after:,} rows" for c in worst)
        super().__init__(
            f"this would remove more than {max_loss:.0%} of "
            f"{'a layer' if len(worst) == 1 else f'{len(worst)} layers'} ({listed}): "
            "a partial or wrong file? Check it, then repeat with --force to replace anyway"
        )


def check_replacement(
    before: Mapping[str, int], after: Mapping[str, int], *, max_loss: float, force: bool
) -> list[LayerChange]:
    """The per-layer change of a replace; ReplacementRefused when, unforced, it would remove
    more than ``max_loss`` of any layer's rows. Every loader and import calls this before it
    deletes anything: a file cut short must never empty a layer that people are using."""
    changes = [LayerChange(layer, before.get(layer, 0), after.get(layer, 0)) for layer in after]
    if not force and any(change.lost > max_loss for change in changes):
        raise ReplacementRefused(changes, max_loss)
    return changes


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
