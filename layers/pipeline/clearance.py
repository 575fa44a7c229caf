"""Clearance check (碰撞检查) between the pipes of different networks, after GB 50289-2016.

Two concerns, one SQL statement each:

* **Horizontal** (Table 4.1.9, ``data/pipe_clearances.csv``): pipes of different networks that
  run side by side without crossing. The clear distance is between outer walls: the centreline
  distance in the city's projected CRS minus half of each diameter.
* **Vertical** (Table 4.1.14, ``data/pipe_vertical_clearances.csv``): at each point where two
  pipes cross, each pipe's depth is interpolated linearly along its length from its start and
  end depths; the clear distance is the depth difference minus half of both diameters. Depth is
  taken as the depth of the pipe's axis. A crossing where either depth is unknown is reported as
  unknown, never as a violation.

A table row applies to a pair of utilities and, where the standard distinguishes, to a condition
on each pipe: diameter (``d<=200``), gas pressure class (``pressure=中压B|中压A``) or laying
method (``laying=ZM``, CJJ 61 C.0.2). When a condition needs an attribute the pipe lacks, the
row is assumed to apply, so the most stringent candidate row is used, and the result names the
assumption. Pairs no row covers (two water networks, high-pressure gas above 1.6 MPa, which the
table does not cover) are counted, not judged.

Only pipes of the given networks are compared (both sides), so a caller passes the networks its
user may read. Abandoned pipes (CJJ 61 status 1) are left out: they carry no service.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import cache
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geoplatform.errors import InvalidParameter, NotFound
from geoplatform.refdata import read_table
from layers.pipeline.measure import DEGREE_DIGITS, measuring_srid, metres
from layers.pipeline.networks import existing_networks

HORIZONTAL_TABLE = "pipe_clearances"
VERTICAL_TABLE = "pipe_vertical_clearances"

# GB 50028 pressure classes; the stored value may be the Chinese class or its English name.
PRESSURE_CLASSES = {
    "低压": "低压",
    "low": "低压",
    "中压b": "中压B",
    "medium_b": "中压B",
    "中压a": "中压A",
    "medium_a": "中压A",
    "次高压b": "次高压B",
    "sub_high_b": "次高压B",
    "次高压a": "次高压A",
    "sub_high_a": "次高压A",
    "高压b": "高压B",
    "high_b": "高压B",
    "高压a": "高压A",
    "high_a": "高压A",
}


class UnknownNetwork(NotFound):
    """A network code that is not in ``pipeline.networks``."""


# --- the tables -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    """One condition of a table row on one pipe, parsed from ``d<=200``, ``laying=GM|GK`` …"""

    attribute: str  # column of pipeline.pipes
    operator: str  # "<=", ">" or "in"
    values: tuple[str, ...]

    def holds(self, pipe: Mapping[str, Any]) -> bool | None:
        """True or False, or None when the pipe lacks the attribute (or has a value unknown)."""
        value = pipe.get(self.attribute)
        if value is None:
            return None
        if self.operator == "<=":
            return value <= float(self.values[0])
        if self.operator == ">":
            return value > float(self.values[0])
        if self.attribute == "pressure_class":
            value = normalised_pressure_class(value)
            if value is None:
                return None
        return value in self.values


_ATTRIBUTES = {"d": "diameter_mm", "pressure": "pressure_class", "laying": "laying"}


@cache
def parse_condition(source: str) -> Condition | None:
    """The condition written in a table cell; None for an empty cell (any pipe)."""
    if not source:
        return None
    for operator in ("<=", ">", "="):
        name, found, value = source.partition(operator)
        if found and name in _ATTRIBUTES:
            if operator == "=":
                return Condition(_ATTRIBUTES[name], "in", tuple(value.split("|")))
            return Condition(_ATTRIBUTES[name], operator, (value,))
    raise ValueError(f"cannot read clearance condition {source!r}")


def normalised_pressure_class(value: str) -> str | None:
    return PRESSURE_CLASSES.get(value.strip().lower().replace(" ", "_"))


@dataclass(frozen=True)
class ClearanceRule:
    """One row of a clearance table, as it is in the CSV."""

    id: str
    utility_a: str
    condition_a: str
    utility_b: str
    condition_b: str
    min_m: float
    clause: str
    source: str
    verified: str

    def applies(self, first: Mapping[str, Any], second: Mapping[str, Any]) -> list[str] | None:
        """None when the row does not apply to (first, second) in this order; else the
        conditions that were assumed because an attribute is unknown."""
        if (first["utility"], second["utility"]) != (self.utility_a, self.utility_b):
            return None
        assumed = []
        for pipe, source in ((first, self.condition_a), (second, self.condition_b)):
            condition = parse_condition(source)
            if condition is None:
                continue
            holds = condition.holds(pipe)
            if holds is False:
                return None
            if holds is None:
                assumed.append(f"{pipe['code']}: {source} (its {condition.attribute} is unknown)")
        return assumed


@cache
def clearance_rules(table: str) -> tuple[ClearanceRule, ...]:
    """The rows of a clearance table (``pipe_clearances`` or ``pipe_vertical_clearances``)."""
    rules = []
    for row in read_table(table):
        rule = ClearanceRule(**{**row, "min_m": float(row["min_m"])})
        parse_condition(rule.condition_a)
        parse_condition(rule.condition_b)
        rules.append(rule)
    return tuple(rules)


@dataclass(frozen=True)
class Requirement:
    rule: ClearanceRule
    assumed: tuple[str, ...]


def required_clearance(
    rules: Iterable[ClearanceRule], a: Mapping[str, Any], b: Mapping[str, Any]
) -> Requirement | None:
    """The most stringent row that applies to the pair (either way round), or None."""
    found: Requirement | None = None
    for rule in rules:
        for first, second in ((a, b), (b, a)):
            assumed = rule.applies(first, second)
            if assumed is None:
                continue
            candidate = Requirement(rule, tuple(assumed))
            if found is None or _stricter(candidate, found):
                found = candidate
    return found


def _stricter(candidate: Requirement, current: Requirement) -> bool:
    if candidate.rule.min_m != current.rule.min_m:
        return candidate.rule.min_m > current.rule.min_m
    return len(candidate.assumed) < len(current.assumed)


# --- the queries ----------------------------------------------------------------------------

_PIPE_COLUMNS = (
    "id, network, code, utility, subtype, diameter_mm, pressure_class, laying, "
    "start_depth_m, end_depth_m"
)


def _in_scope(alias: str) -> str:
    """The pipes a check looks at: not abandoned, in the networks and the bbox if given."""
    return f"""{alias}.status <> '1'
           AND (CAST(:networks AS text[]) IS NULL
                OR {alias}.network = ANY(CAST(:networks AS text[])))
           AND (CAST(:bbox AS float8[]) IS NULL
                OR {alias}.geom && ST_MakeEnvelope((CAST(:bbox AS float8[]))[1],
                                                   (CAST(:bbox AS float8[]))[2],
                                                   (CAST(:bbox AS float8[]))[3],
                                                   (CAST(:bbox AS float8[]))[4], 4490))"""


# Distances must be metres in the city's projected CRS, and the search must use the GiST index
# on the stored geometry (EPSG:4490). So each pipe of side a is projected once, its bounding box
# is grown by the reach in metres and transformed back to 4490: `b.geom && that box` is an index
# scan, and the exact test (ST_DWithin) then runs on both sides projected. The reach is the
# largest clearance in the table plus half of a's diameter plus half of the largest diameter,
# since clearances are between outer walls. Transforming a few-metre grown box back to degrees
# bends its edges by far less than a millimetre, which the reach's margins absorb.
HORIZONTAL_SQL = text(
    f"""
    WITH a AS MATERIALIZED (
        SELECT {_PIPE_COLUMNS}, ST_Transform(geom, :srid) AS geom_m,
               :max_clearance_m
               + (coalesce(diameter_mm, 0)
                  + (SELECT coalesce(max(diameter_mm), 0) FROM pipeline.pipes)) / 2000.0
               AS reach_m
          FROM pipeline.pipes AS a
         WHERE {_in_scope("a")}
    )
    SELECT a.network AS a_network, a.code AS a_code, a.utility AS a_utility,
           a.subtype AS a_subtype, a.diameter_mm AS a_diameter_mm,
           a.pressure_class AS a_pressure_class, a.laying AS a_laying,
           b.network AS b_network, b.code AS b_code, b.utility AS b_utility,
           b.subtype AS b_subtype, b.diameter_mm AS b_diameter_mm,
           b.pressure_class AS b_pressure_class, b.laying AS b_laying,
           ST_Distance(a.geom_m, b.geom_m) AS centreline_m,
           ST_AsGeoJSON(ST_Transform(ST_ShortestLine(a.geom_m, b.geom_m), 4490),
                        {DEGREE_DIGITS}, 0) AS geometry
      FROM a
      JOIN LATERAL (
            SELECT {_PIPE_COLUMNS}, ST_Transform(geom, :srid) AS geom_m
              FROM pipeline.pipes AS b
             WHERE b.geom && ST_Transform(ST_Expand(a.geom_m, a.reach_m), 4490)
               AND b.id - a.id > 0
               AND b.network <> a.network
               AND {_in_scope("b")}
           ) AS b
        ON ST_DWithin(a.geom_m, b.geom_m, a.reach_m)
     WHERE NOT ST_Intersects(a.geom_m, b.geom_m)
       AND ST_Distance(a.geom_m, b.geom_m)
           - (coalesce(a.diameter_mm, 0) + coalesce(b.diameter_mm, 0)) / 2000.0
           < :max_clearance_m
    """
)

# Crossings: the same index search with a 1 cm reach; each crossing point is one row, and its
# position along each pipe (ST_LineLocatePoint, on the projected line so the fraction is one of
# length in metres) gives the depths. A collinear overlap is not a crossing and is left out.
VERTICAL_SQL = text(
    f"""
    WITH a AS MATERIALIZED (
        SELECT {_PIPE_COLUMNS}, ST_Transform(geom, :srid) AS geom_m
          FROM pipeline.pipes AS a
         WHERE {_in_scope("a")}
    )
    SELECT a.network AS a_network, a.code AS a_code, a.utility AS a_utility,
           a.subtype AS a_subtype, a.diameter_mm AS a_diameter_mm,
           a.pressure_class AS a_pressure_class, a.laying AS a_laying,
           a.start_depth_m AS a_start_depth_m, a.end_depth_m AS a_end_depth_m,
           b.network AS b_network, b.code AS b_code, b.utility AS b_utility,
           b.subtype AS b_subtype, b.diameter_mm AS b_diameter_mm,
           b.pressure_class AS b_pressure_class, b.laying AS b_laying,
           b.start_depth_m AS b_start_depth_m, b.end_depth_m AS b_end_depth_m,
           ST_LineLocatePoint(a.geom_m, x.geom) AS a_fraction,
           ST_LineLocatePoint(b.geom_m, x.geom) AS b_fraction,
           ST_AsGeoJSON(ST_Transform(x.geom, 4490), {DEGREE_DIGITS}, 0) AS geometry
      FROM a
      JOIN LATERAL (
            SELECT {_PIPE_COLUMNS}, ST_Transform(geom, :srid) AS geom_m
              FROM pipeline.pipes AS b
             WHERE b.geom && ST_Transform(ST_Expand(a.geom_m, 0.01), 4490)
               AND b.id - a.id > 0
               AND b.network <> a.network
               AND {_in_scope("b")}
           ) AS b
        ON ST_Intersects(a.geom_m, b.geom_m)
     CROSS JOIN LATERAL ST_Dump(ST_Intersection(a.geom_m, b.geom_m)) AS x
     WHERE GeometryType(x.geom) = 'POINT'
    """
)


# --- the report -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PipeRef:
    network: str
    code: str
    utility: str
    diameter_mm: int | None
    pressure_class: str | None
    laying: str | None


@dataclass(frozen=True)
class HorizontalViolation:
    pipe_a: PipeRef
    pipe_b: PipeRef
    centreline_m: float
    measured_m: float  # outer wall to outer wall
    required_m: float
    shortfall_m: float
    rule: ClearanceRule
    assumed: tuple[str, ...]
    geometry: dict  # the shortest line between the centrelines, GeoJSON in CRS84


@dataclass(frozen=True)
class Crossing:
    pipe_a: PipeRef
    pipe_b: PipeRef
    depth_a_m: float | None  # interpolated at the crossing
    depth_b_m: float | None
    measured_m: float | None  # wall to wall; None when a depth is unknown
    required_m: float
    shortfall_m: float | None
    rule: ClearanceRule
    assumed: tuple[str, ...]
    geometry: dict  # the crossing point, GeoJSON in CRS84


@dataclass(frozen=True)
class ClearanceCounts:
    horizontal_pairs_checked: int
    horizontal_pairs_without_rule: int
    horizontal_violations: int
    crossings_checked: int
    crossings_without_rule: int
    vertical_violations: int
    unknown_depth_crossings: int


@dataclass(frozen=True)
class ClearanceReport:
    """Violations, worst first (each list cut at ``limit``), and what was checked."""

    srid: int
    horizontal: list[HorizontalViolation]
    vertical: list[Crossing]
    unknown_depth: list[Crossing]
    counts: ClearanceCounts
    truncated: bool

    def to_dict(self) -> dict:
        return asdict(self)

    def feature_collection(self) -> dict:
        """A GeoJSON FeatureCollection (CRS84) of every reported item, ``kind`` telling which."""
        features = [
            _feature("horizontal", item, horizontal_properties(item)) for item in self.horizontal
        ]
        features += [
            _feature("vertical", item, crossing_properties(item)) for item in self.vertical
        ]
        features += [
            _feature("vertical_unknown_depth", item, crossing_properties(item))
            for item in self.unknown_depth
        ]
        return {"type": "FeatureCollection", "features": features}


def _feature(kind: str, item: HorizontalViolation | Crossing, properties: dict) -> dict:
    return {
        "type": "Feature",
        "geometry": item.geometry,
        "properties": {"kind": kind, **properties},
    }


def _pair_properties(item: HorizontalViolation | Crossing) -> dict:
    properties = {}
    for side, pipe in (("a", item.pipe_a), ("b", item.pipe_b)):
        properties |= {f"{side}_{key}": value for key, value in asdict(pipe).items()}
    return properties | {
        "required_m": item.required_m,
        "measured_m": item.measured_m,
        "shortfall_m": item.shortfall_m,
        "rule_id": item.rule.id,
        "clause": item.rule.clause,
        "verified": item.rule.verified,
        "assumed": "; ".join(item.assumed),
    }


def horizontal_properties(item: HorizontalViolation) -> dict:
    return _pair_properties(item) | {"centreline_m": item.centreline_m}


def crossing_properties(item: Crossing) -> dict:
    return _pair_properties(item) | {"depth_a_m": item.depth_a_m, "depth_b_m": item.depth_b_m}


# --- the check ------------------------------------------------------------------------------


def check_clearances(
    conn: Connection,
    *,
    networks: list[str] | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    limit: int | None = None,
) -> ClearanceReport:
    """Horizontal and vertical clearance violations between pipes of different networks.

    ``networks``: network codes to compare (all when None); ``bbox``: west, south, east, north
    in CRS84 degrees; ``limit``: the most violations kept per list (the counts are complete).
    """
    srid = measuring_srid(conn)
    params = {
        "srid": srid,
        "networks": _checked_networks(conn, networks),
        "bbox": _checked_bbox(bbox),
    }
    if limit is not None and limit < 1:
        raise InvalidParameter(f"limit must be a positive integer, got {limit}")
    # Many cheap index probes: compiling the plans (JIT) costs more than it saves. Each pair is
    # taken once by ``b.id - a.id > 0``: written ``b.id > a.id`` the planner ANDs it with the
    # spatial index as a scan of the primary key for every pipe.
    conn.execute(text("SET LOCAL jit = off"))
    horizontal, no_rule, checked = _horizontal(conn, params)
    vertical, unknown, crossings_no_rule, crossings_checked = _vertical(conn, params)
    counts = ClearanceCounts(
        horizontal_pairs_checked=checked,
        horizontal_pairs_without_rule=no_rule,
        horizontal_violations=len(horizontal),
        crossings_checked=crossings_checked,
        crossings_without_rule=crossings_no_rule,
        vertical_violations=len(vertical),
        unknown_depth_crossings=len(unknown),
    )
    kept = [horizontal[:limit], vertical[:limit], unknown[:limit]]
    truncated = any(
        len(part) < len(full)
        for part, full in zip(kept, (horizontal, vertical, unknown), strict=True)
    )
    return ClearanceReport(srid, *kept, counts=counts, truncated=truncated)


def require_networks(conn: Connection, codes: Sequence[str]) -> None:
    """NotFound naming every code that is not a network."""
    known = set(existing_networks(conn, list(codes)))
    missing = [code for code in codes if code not in known]
    if missing:
        raise UnknownNetwork("unknown network(s): " + ", ".join(missing))


def _checked_networks(conn: Connection, networks: list[str] | None) -> list[str] | None:
    if networks is None:
        return None
    require_networks(conn, networks)
    return list(networks)


def _checked_bbox(bbox: Sequence[float] | None) -> list[float] | None:
    if bbox is None:
        return None
    if len(bbox) != 4:
        raise InvalidParameter(f"bbox must be west, south, east, north; got {len(bbox)} values")
    west, south, east, north = (float(value) for value in bbox)
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise InvalidParameter(
            f"bbox must be west < east and south < north in degrees, got {list(bbox)}"
        )
    return [west, south, east, north]


def _horizontal(conn: Connection, params: dict) -> tuple[list[HorizontalViolation], int, int]:
    rules = clearance_rules(HORIZONTAL_TABLE)
    rows = conn.execute(
        HORIZONTAL_SQL, params | {"max_clearance_m": max(rule.min_m for rule in rules)}
    ).mappings()
    ruled, no_rule = _with_rules(rows, rules)
    violations = []
    for row, a, b, requirement in ruled:
        measured = row["centreline_m"] - _half_widths(a, b)
        if measured < requirement.rule.min_m:
            violations.append(
                HorizontalViolation(
                    pipe_a=_pipe_ref(a),
                    pipe_b=_pipe_ref(b),
                    centreline_m=metres(row["centreline_m"]),
                    measured_m=metres(measured),
                    required_m=requirement.rule.min_m,
                    shortfall_m=metres(requirement.rule.min_m - measured),
                    rule=requirement.rule,
                    assumed=requirement.assumed,
                    geometry=json.loads(row["geometry"]),
                )
            )
    violations.sort(key=_worst_first)
    return violations, no_rule, len(ruled)


def _vertical(conn: Connection, params: dict) -> tuple[list[Crossing], list[Crossing], int, int]:
    rules = clearance_rules(VERTICAL_TABLE)
    ruled, no_rule = _with_rules(conn.execute(VERTICAL_SQL, params).mappings(), rules)
    violations, unknown = [], []
    for row, a, b, requirement in ruled:
        crossing = _crossing(row, a, b, requirement)
        if crossing.measured_m is None:
            unknown.append(crossing)
        elif crossing.shortfall_m > 0:
            violations.append(crossing)
    violations.sort(key=_worst_first)
    unknown.sort(key=lambda item: (item.pipe_a.code, item.pipe_b.code))
    return violations, unknown, no_rule, len(ruled)


def _worst_first(item) -> tuple:
    # Equal shortfalls are common (rounded to the centimetre): the pipe codes make the order
    # the same on every run, whatever order the statement returned the pairs in.
    return (
        -item.shortfall_m,
        item.pipe_a.network,
        item.pipe_a.code,
        item.pipe_b.network,
        item.pipe_b.code,
    )


def _with_rules(rows: Iterable[Mapping], rules) -> tuple[list[tuple], int]:
    """Each pair's row, its two pipes and the clearance they need; the pairs no rule covers
    are only counted."""
    ruled, no_rule = [], 0
    for row in rows:
        a, b = _side(row, "a"), _side(row, "b")
        requirement = required_clearance(rules, a, b)
        if requirement is None:
            no_rule += 1
        else:
            ruled.append((row, a, b, requirement))
    return ruled, no_rule


def _crossing(row: Mapping, a: dict, b: dict, requirement: Requirement) -> Crossing:
    depth_a = depth_at(a["start_depth_m"], a["end_depth_m"], row["a_fraction"])
    depth_b = depth_at(b["start_depth_m"], b["end_depth_m"], row["b_fraction"])
    measured = shortfall = None
    if depth_a is not None and depth_b is not None:
        measured = metres(abs(depth_a - depth_b) - _half_widths(a, b))
        shortfall = metres(requirement.rule.min_m - measured)
    return Crossing(
        pipe_a=_pipe_ref(a),
        pipe_b=_pipe_ref(b),
        depth_a_m=None if depth_a is None else metres(depth_a),
        depth_b_m=None if depth_b is None else metres(depth_b),
        measured_m=measured,
        required_m=requirement.rule.min_m,
        shortfall_m=shortfall,
        rule=requirement.rule,
        assumed=requirement.assumed,
        geometry=json.loads(row["geometry"]),
    )


def depth_at(start: float | None, end: float | None, fraction: float) -> float | None:
    """Depth at a fraction of the pipe's length, linear between its end depths."""
    if start is None or end is None:
        return None
    return start + (end - start) * fraction


def _side(row: Mapping, side: str) -> dict:
    prefix = f"{side}_"
    return {key[len(prefix) :]: value for key, value in row.items() if key.startswith(prefix)}


def _half_widths(a: Mapping, b: Mapping) -> float:
    # An unknown diameter counts as zero: the clearance is then measured from the centreline.
    return ((a["diameter_mm"] or 0) + (b["diameter_mm"] or 0)) / 2000.0


def _pipe_ref(pipe: Mapping) -> PipeRef:
    return PipeRef(
        network=pipe["network"],
        code=pipe["code"],
        utility=pipe["utility"],
        diameter_mm=pipe["diameter_mm"],
        pressure_class=pipe["pressure_class"],
        laying=pipe["laying"],
    )
