"""Loading an OSM extract into the base layers: read, repair, stage, swap in one transaction.

A load replaces the content of all eight base layers at once. Either every layer is replaced
(and every layer's version bumped) or, on any error, nothing in the database changes. Loading
the same file a second time is a no-op unless forced.

A file without its end (no ways, or no relations) is refused, and so, unless forced, is a load
that would remove more than ``import_max_loss`` of any layer's rows: a PBF cut between two of
its blocks reads without error, and would otherwise replace the city with its first part.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from sqlalchemy import Engine, Table, text
from sqlalchemy.engine import Connection

from geoplatform.config import Settings
from geoplatform.crs import projected_srid_for
from geoplatform.ingest import (
    IngestError,
    check_replacement,
    copy_rows,
    create_staging,
    file_sha256,
    repair,
)
from geoplatform.layer_state import record_change
from layers.base import models
from layers.base.layers import BASE_LAYERS
from layers.base.osm import LAYER_NAMES, Extract, Record, cut_short, read_extract

LOADER_VERSION = "osm-1"
LOAD_KIND = "osm"
TABLES: dict[str, Table] = {name: getattr(models, name) for name in LAYER_NAMES}
# Columns computed in the database after staging, never taken from the file.
_MEASURED = ("length_m", "area_m2")
_DERIVED = ("geom", "geom_3857", "level", "parent_id", "national_class", *_MEASURED)


class LoadProgress(Protocol):
    def reading(self, objects: int) -> None: ...

    def writing(self, layer: str, rows: int) -> None: ...


@dataclass
class LayerSummary:
    layer: str
    rows: int = 0
    repaired: int = 0
    skipped: Counter = field(default_factory=Counter)
    before: int | None = None  # rows the layer held before the load (None: not known)


@dataclass
class LoadSummary:
    source: str
    sha256: str
    projected_srid: int
    layers: list[LayerSummary]
    seconds: float
    unchanged: bool = False

    def rows(self) -> dict[str, int]:
        return {s.layer: s.rows for s in self.layers}


# --- SQL, one statement per concern -----------------------------------------------------------

_INSERT_FROM_STAGE = """
INSERT INTO {table} ({columns}, geom{measure_columns})
SELECT {columns}, g{measures}
  FROM (SELECT {columns}, {geometry} AS g FROM {stage}) AS staged
"""
_LENGTH = "CASE WHEN ST_Dimension(g) = 1 THEN ST_Length(ST_Transform(g, :srid)) END"
_AREA = "CASE WHEN ST_Dimension(g) = 2 THEN ST_Area(ST_Transform(g, :srid)) END"

# The parent of an area is the nearest higher level whose polygon holds the child's interior.
_ADMIN_PARENTS = """
UPDATE base.admin_areas AS child
   SET parent_id = (
       SELECT parent.id
         FROM base.admin_areas AS parent
        WHERE parent.admin_level < child.admin_level
          AND ST_Contains(parent.geom, ST_PointOnSurface(child.geom))
        ORDER BY parent.admin_level DESC, ST_Area(parent.geom)
        LIMIT 1)
"""

# Levels below the city get Chinese administrative tiers by rank: 市 → 区县 → 乡镇街道 → 社区村.
_ADMIN_LEVELS = """
WITH ranked AS (
    SELECT admin_level, dense_rank() OVER (ORDER BY admin_level) AS tier
      FROM (SELECT DISTINCT admin_level FROM base.admin_areas
             WHERE admin_level >= :city_level) AS levels
)
UPDATE base.admin_areas AS a
   SET level = (ARRAY['city', 'district', 'township', 'community'])[LEAST(ranked.tier, 4)]
  FROM ranked
 WHERE a.admin_level = ranked.admin_level
"""

_LOWEST_ADMIN_LEVEL = "SELECT min(admin_level) FROM base.admin_areas"

_BUILDING_ADDRESSES = """
UPDATE base.addresses SET building_id = id WHERE source = 'building'
"""

_ADDRESS_POINT_BUILDINGS = """
UPDATE base.addresses AS a
   SET building_id = b.id
  FROM base.buildings AS b
 WHERE a.source = 'point' AND ST_Intersects(b.geom, a.geom)
"""

# One load at a time, and no edit of a base table between its count and its replacement.
_LOCK_TABLES = "LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE".format(
    ", ".join(f'"{t.schema}"."{t.name}"' for t in TABLES.values())
)

_SAVE_CITY = """
INSERT INTO platform.city (id, projected_srid, city_admin_level, bbox, updated_at)
VALUES (1, :srid, :city_level, :bbox, now())
ON CONFLICT (id) DO UPDATE
   SET projected_srid = EXCLUDED.projected_srid,
       city_admin_level = EXCLUDED.city_admin_level,
       bbox = EXCLUDED.bbox,
       updated_at = EXCLUDED.updated_at
"""

_SAVE_RUN = """
INSERT INTO platform.load_runs (kind, source, sha256, loader_version, started_at, summary)
VALUES (:kind, :source, :sha256, :loader_version, :started_at, CAST(:summary AS jsonb))
"""

_LAST_RUN = """
SELECT sha256, loader_version, summary FROM platform.load_runs
 WHERE kind = :kind ORDER BY id DESC LIMIT 1
"""


# --- the load --------------------------------------------------------------------------------


def load_osm(
    engine: Engine,
    settings: Settings,
    path: Path,
    *,
    force: bool = False,
    progress: LoadProgress | None = None,
) -> LoadSummary:
    """Replace the base layers with the content of an OSM extract, all or nothing."""
    started = time.perf_counter()
    started_at = datetime.now(UTC)
    if not path.is_file():
        raise IngestError(f"OSM file not found: {path}")
    sha256 = file_sha256(path)
    if not force:
        previous = _unchanged_load(engine, sha256)
        if previous is not None:
            return previous
    try:
        extract = read_extract(path, progress.reading if progress else None)
    except RuntimeError as exc:
        raise IngestError(f"cannot read {path.name} as OpenStreetMap data: {exc}") from exc
    if (reason := cut_short(extract)) is not None:
        raise IngestError(
            f"{path.name} ends early: {reason}, and an OSM file lists nodes, then ways, then "
            "relations. Was its download cut short?"
        )
    try:
        bounds = extract.bounds()
    except ValueError as exc:
        raise IngestError(f"{path.name}: {exc}") from exc
    srid = settings.projected_srid or projected_srid_for(bounds)
    summaries = {name: _prepare(extract, name) for name in LAYER_NAMES}
    with engine.begin() as conn:
        # Under the loader's lock, so the counts compared are the ones replaced.
        conn.execute(text(_LOCK_TABLES))
        before = _layer_counts(conn)
        check_replacement(
            before,
            {s.layer: s.rows for s in summaries.values()},
            max_loss=settings.import_max_loss,
            force=force,
        )
        for name in LAYER_NAMES:
            summaries[name].before = before[f"base.{name}"]
            _replace_layer(conn, name, extract.records[name], srid)
            if progress:
                progress.writing(name, summaries[name].rows)
        city_level = _derive_admin_tree(conn, settings.city_admin_level)
        conn.execute(text(_BUILDING_ADDRESSES))
        conn.execute(text(_ADDRESS_POINT_BUILDINGS))
        for layer in BASE_LAYERS:
            record_change(conn, layer)
        conn.execute(
            text(_SAVE_CITY),
            {"srid": srid, "city_level": city_level, "bbox": list(bounds)},
        )
        summary = LoadSummary(
            str(path), sha256, srid, list(summaries.values()), time.perf_counter() - started
        )
        conn.execute(
            text(_SAVE_RUN),
            {
                "kind": LOAD_KIND,
                "source": str(path),
                "sha256": sha256,
                "loader_version": LOADER_VERSION,
                "started_at": started_at,
                "summary": _summary_json(summary),
            },
        )
    return summary


def _prepare(extract: Extract, name: str) -> LayerSummary:
    """Repair invalid geometries and drop duplicate ids in place, counting both."""
    summary = LayerSummary(f"base.{name}", skipped=Counter(extract.skipped[name]))
    kept: list[Record] = []
    seen: set[int] = set()
    for record in extract.records[name]:
        if record["id"] in seen:
            summary.skipped["same OSM object already loaded in this layer"] += 1
            continue
        geometry, repaired = repair(record["geometry"])
        summary.repaired += repaired
        if geometry is None:
            summary.skipped["geometry collapsed when repaired"] += 1
            continue
        seen.add(record["id"])
        record["geometry"] = geometry
        kept.append(record)
    extract.records[name] = kept
    summary.rows = len(kept)
    return summary


def _replace_layer(conn: Connection, name: str, records: list[Record], srid: int) -> None:
    table = TABLES[name]
    columns = [c.name for c in table.columns if c.name not in _DERIVED]
    stage = f"stage_{name}"
    cursor = conn.connection.driver_connection.cursor()
    create_staging(cursor, stage, (table.schema, table.name), columns)
    copy_rows(
        cursor,
        stage,
        columns,
        ([record.get(c) for c in columns] + [record["geometry"].wkb] for record in records),
    )
    conn.execute(text(f'DELETE FROM "{table.schema}"."{table.name}"'))
    conn.execute(text(_insert_statement(table, columns, stage)), {"srid": srid})


def _insert_statement(table: Table, columns: list[str], stage: str) -> str:
    quoted = ", ".join(f'"{c}"' for c in columns)
    geometry = "ST_Transform(ST_GeomFromWKB(wkb, 4326), 4490)"
    if table.c.geom.type.geometry_type.startswith("MULTI"):
        geometry = f"ST_Multi({geometry})"
    measured = [c for c in _MEASURED if c in table.c]
    expressions = {"length_m": _LENGTH, "area_m2": _AREA}
    return _INSERT_FROM_STAGE.format(
        table=f'"{table.schema}"."{table.name}"',
        columns=quoted,
        measure_columns="".join(f', "{c}"' for c in measured),
        measures="".join(f", {expressions[c]}" for c in measured),
        geometry=geometry,
        stage=f'"{stage}"',
    )


def _layer_counts(conn: Connection) -> dict[str, int]:
    return {
        f"base.{name}": conn.execute(
            text(f'SELECT count(*) FROM "{table.schema}"."{table.name}"')
        ).scalar_one()
        for name, table in TABLES.items()
    }


def _derive_admin_tree(conn: Connection, configured_level: int | None) -> int | None:
    city_level = configured_level or conn.execute(text(_LOWEST_ADMIN_LEVEL)).scalar()
    conn.execute(text(_ADMIN_PARENTS))
    if city_level is not None:
        conn.execute(text(_ADMIN_LEVELS), {"city_level": city_level})
    return city_level


def _unchanged_load(engine: Engine, sha256: str) -> LoadSummary | None:
    """The summary of the last load when it was this very file and its rows are all there."""
    with engine.connect() as conn:
        last = conn.execute(text(_LAST_RUN), {"kind": LOAD_KIND}).mappings().first()
        if last is None or last["sha256"] != sha256 or last["loader_version"] != LOADER_VERSION:
            return None
        stored = last["summary"]
        counts = _layer_counts(conn)
        if any(counts[layer["layer"]] != layer["rows"] for layer in stored["layers"]):
            return None
    return LoadSummary(
        stored["source"],
        sha256,
        stored["projected_srid"],
        [
            LayerSummary(
                x["layer"], x["rows"], x["repaired"], Counter(x["skipped"]), x.get("before")
            )
            for x in stored["layers"]
        ],
        seconds=0.0,
        unchanged=True,
    )


def _summary_json(summary: LoadSummary) -> str:
    return json.dumps(
        {
            "source": summary.source,
            "projected_srid": summary.projected_srid,
            "seconds": round(summary.seconds, 2),
            "layers": [
                {
                    "layer": s.layer,
                    "rows": s.rows,
                    "before": s.before,
                    "repaired": s.repaired,
                    "skipped": s.skipped,
                }
                for s in summary.layers
            ],
        }
    )
