"""Place-name search: one statement over the searchable columns of a set of layers.

Names and the query meet in one spelling, ``platform.search_fold`` (migration 0005): no
accents, ß as ss, ae/oe/ue as the umlauts they stand for, lower case, punctuation as spaces,
"str"/"str." as "strasse". A stored name matches when it holds the folded query (LIKE) or when
the query's trigrams are similar to those of whole words of it (``<<%``, strict word similarity
of at least ``WORD_SIMILARITY``: typos, missing letters); the GIN trigram indexes of the
migration serve both. A query of one or two characters has no trigram to look up (in Chinese
that is a whole name's worth): it is looked for in the lower-cased names instead, which reads
every name but folds none.

Each match is scored (``_SCORE``): how well the text matches, from exact to trigram
similarity, times the layer's weight (``search_rank``; ``search_minor`` types two ranks lower)
and the column's (its place in ``searchable``), times a decay with the distance to ``near``
when one is given. The best candidates get the name of the smallest area around them (layers
with reverse_role "admin") as context for their label, and results with the same layer, name
and context (a street cut into many segments) collapse into the best of them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from geoplatform.crs import CGCS2000
from geoplatform.reads import Reads
from geoplatform.registry import Layer

MAX_QUERY_LENGTH = 100
DEFAULT_LIMIT = 10
MAX_LIMIT = 50
# Candidates scored and given a context per result asked for, before equal ones collapse: a
# street of many segments takes several of them.
CANDIDATES_PER_RESULT = 5
# Within this distance (metres) of ``near`` a result keeps most of its score; a few times
# farther it keeps 75 %: nearer wins among equal matches without burying a far exact match.
NEAR_SCALE_M = 2000.0
DEGREE_DIGITS = 7
# pg_trgm's default (0.5) misses a letter dropped from a short name ("Shaan" is 0.44 of
# "Schaan"); 0.4 still keeps every other "...strasse" from matching "Landstrasse" (0.33).
# Word similarity that is not strict (any stretch of a name, not whole words) would let them
# all in: thousands of candidates for a street name. Parallel workers cost more to start than
# any of these statements takes, and so does JIT compilation, which the planner's estimates for
# a short query (every name read and scored) trip: a second of LLVM for a 7 ms statement.
WORD_SIMILARITY = 0.4
SESSION = {
    "pg_trgm.strict_word_similarity_threshold": str(WORD_SIMILARITY),
    "max_parallel_workers_per_gather": "0",
    "jit": "off",
}
SHORT = 3

FOLD_SQL = "SELECT platform.search_fold($1)"


@dataclass(frozen=True)
class SearchRequest:
    """What to look for, already validated (``params``); coordinates in CRS84."""

    text: str
    limit: int = DEFAULT_LIMIT
    bbox: tuple[float, float, float, float] | None = None
    near: tuple[float, float] | None = None


@dataclass(frozen=True)
class Hit:
    """One result: a feature, the column and text that matched, its point and its score."""

    layer: Layer
    fid: int | str
    name: str
    type: str | None
    matched: str
    matched_text: str
    context: str | None
    score: float
    distance_m: float | None
    point: dict

    @property
    def label(self) -> str:
        """The name with the smallest area around it, unless the name already says it."""
        return f"{self.name}, {self.context}" if self.context else self.name


def search(pool: Reads, layers: Sequence[Layer], request: SearchRequest) -> list[Hit]:
    """The best ``request.limit`` hits in ``layers`` (which the caller may read), best first.

    ``pool`` must have been opened with ``SESSION``."""
    searched = tuple(layer for layer in layers if layer.searchable)
    folded = pool.value(FOLD_SQL, [request.text]) or ""
    if not searched or not folded:
        return []
    context = tuple(layer for layer in layers if layer.reverse_role == "admin")
    short = is_short(folded)
    rows = pool.rows(search_sql(searched, context, short), search_params(folded, request))
    return collapse([_hit(searched, row) for row in rows], request.limit)


def is_short(folded: str) -> bool:
    return len(folded.replace(" ", "")) < SHORT


def search_params(folded: str, request: SearchRequest) -> list:
    west, south, east, north = request.bbox or (None, None, None, None)
    lon, lat = request.near or (None, None)
    compact = folded.replace(" ", "")
    needle = request.text.lower() if is_short(folded) else f"%{folded}%"
    candidates = request.limit * CANDIDATES_PER_RESULT
    return [folded, needle, compact, west, south, east, north, lon, lat, candidates]


def collapse(hits: list[Hit], limit: int) -> list[Hit]:
    """The first hit of each (layer, name, context), at most ``limit`` of them, order kept."""
    seen: set[tuple] = set()
    kept = []
    for hit in hits:
        key = (hit.layer.id, hit.name.casefold(), hit.context)
        if key not in seen:
            seen.add(key)
            kept.append(hit)
    return kept[:limit]


def _hit(layers: tuple[Layer, ...], row: tuple) -> Hit:
    index, column, fid, name, matched_text, type_, score, distance, point, areas = row
    layer = layers[index]
    return Hit(
        layer=layer,
        fid=fid,
        name=name,
        type=type_,
        matched=layer.searchable[column],
        matched_text=matched_text,
        context=_context(name, areas or []),
        score=round(score, 4),
        distance_m=None if distance is None else round(distance, 1),
        point=json.loads(point),
    )


def _context(name: str, areas: list[str]) -> str | None:
    """The smallest area around a result, unless its name already says it ("Vaduz" in Vaduz,
    "Städtle 32, 9490 Vaduz")."""
    smallest = next((area for area in areas if area), None)
    if smallest is None or smallest.casefold() in name.casefold():
        return None
    return smallest


# --- the statement ------------------------------------------------------------------------------
# $1 folded query, $2 what the match condition looks for (the LIKE pattern of $1; for a short
# query the query in lower case), $3 folded query without spaces, $4..$7 bbox (west, south,
# east, north) or NULLs, $8 $9 near (lon, lat) or NULLs, $10 candidates.

# How well the folded name matches the folded query, 0..1: exact (also with the spaces taken
# out, so "Schaanerstrasse" is "Schaaner Strasse"); the name's first words are the query; the
# name starts with it; whole words inside it; a word of it starts with it; it holds it; the
# partial ones more the more of the name the query covers. Below all of them, trigrams.
_SCORE = """
    CASE
        WHEN folded = $1 OR compact = $3 THEN 1.0
        WHEN starts_with(folded || ' ', $1 || ' ') THEN 0.9 + 0.1 * coverage
        WHEN starts_with(folded, $1) OR starts_with(compact, $3) THEN 0.75 + 0.2 * coverage
        WHEN strpos(' ' || folded || ' ', ' ' || $1 || ' ') > 0 THEN 0.7 + 0.2 * coverage
        WHEN strpos(' ' || folded, ' ' || $1) > 0 THEN 0.65 + 0.2 * coverage
        WHEN strpos(compact, $3) > 0 THEN 0.55 + 0.2 * coverage
        ELSE 0.3 * (strict_word_similarity($1, folded) + similarity($1, folded))
    END"""

# exp() of a large negative number is an underflow error in PostgreSQL, not 0.
_NEARNESS = f"""
    CASE WHEN distance_m IS NULL THEN 1.0
         ELSE 0.75 + 0.25 * exp(-least(distance_m / {NEAR_SCALE_M}, 50)) END"""

_ORDER = "score DESC, distance_m NULLS LAST, length(name), layer, fid"


@lru_cache(maxsize=256)
def search_sql(layers: tuple[Layer, ...], context: tuple[Layer, ...], short: bool) -> str:
    """The statement for these searchable layers and context layers, for a query of at least
    ``SHORT`` characters or a shorter one."""
    branches = "\n    UNION ALL".join(
        _branch(index, layer, position, column, short)
        for index, layer in enumerate(layers)
        for position, column in enumerate(layer.searchable)
    )
    near = f"ST_SetSRID(ST_MakePoint($8, $9), {CGCS2000})::geography"
    return f"""
WITH hits AS ({branches}
), measured AS (
    SELECT hits.*, replace(folded, ' ', '') AS compact,
           length($3::text)::float8 / greatest(length(replace(folded, ' ', '')), 1) AS coverage,
           CASE WHEN $8::float8 IS NULL THEN NULL
                ELSE ST_Distance(geom::geography, {near}) END AS distance_m
      FROM hits
), top AS (
    SELECT layer, col, fid, name, matched_text, type, distance_m,
           {_SCORE} * weight * {_NEARNESS} AS score,
           ST_PointOnSurface(geom) AS point
      FROM measured
     ORDER BY {_ORDER}
     LIMIT $10
)
SELECT layer, col, fid, name, matched_text, type, score, distance_m,
       ST_AsGeoJSON(point, {DEGREE_DIGITS}, 0), {_context_sql(context)}
  FROM top
 ORDER BY {_ORDER}"""


def _branch(index: int, layer: Layer, position: int, column: str, short: bool) -> str:
    """The rows of one searchable column that match the query, with what scoring needs."""
    value = f"t.{quote_identifier(column)}"
    folded = f"platform.search_fold({value})"
    if short:
        matches = f"strpos(lower({value}), $2) > 0"
    else:
        matches = f"({folded} LIKE $2 OR $1 <<% {folded})"
    envelope = f"ST_MakeEnvelope($4, $5, $6, $7, {CGCS2000})"
    if layer.srid != CGCS2000:
        envelope = f"ST_Transform({envelope}, {layer.srid})"
    return f"""
    SELECT {index} AS layer, {position} AS col,
           to_jsonb(t.{quote_identifier(layer.id_column)}) AS fid,
           coalesce({text_or_null(layer, layer.label_column)}, {value}::text) AS name,
           {value}::text AS matched_text, {folded} AS folded,
           {text_or_null(layer, layer.search_type)} AS type,
           {_weight(layer, position)} AS weight, {storage_geometry(layer)} AS geom
      FROM {table_name(layer)} AS t
     WHERE {matches}
       AND ($4::float8 IS NULL OR ST_Intersects({geometry(layer)}, {envelope}))"""


def _weight(layer: Layer, position: int) -> str:
    """The layer's weight times the column's; search_minor types two ranks lower."""
    weight = f"{layer_weight(layer) * column_weight(position):.4f}::float8"
    if not layer.search_minor:
        return weight
    minor = ", ".join(f"'{value}'" for value in layer.search_minor)
    demoted = f"{(layer_weight(layer) - 0.1) * column_weight(position):.4f}::float8"
    kind = text_or_null(layer, layer.search_type)
    return f"CASE WHEN {kind} IN ({minor}) THEN {demoted} ELSE {weight} END"


def _context_sql(layers: tuple[Layer, ...]) -> str:
    """Names of the areas containing a result's point, smallest first; planar area in degrees
    orders nested areas as their true areas do."""
    if not layers:
        return "NULL::text[]"
    parts = " UNION ALL ".join(
        f"""SELECT {text_or_null(layer, layer.label_column, "a")} AS name,
                   ST_Area({storage_geometry(layer, "a")}) AS size
              FROM {table_name(layer)} AS a
             WHERE ST_Intersects({geometry(layer, "a")}, {_top_point(layer)})"""
        for layer in layers
    )
    return f"(SELECT array_agg(name ORDER BY size) FROM ({parts}) AS areas)"


def _top_point(layer: Layer) -> str:
    """The candidate's point in the layer's CRS, so that the layer's spatial index serves."""
    return "top.point" if layer.srid == CGCS2000 else f"ST_Transform(top.point, {layer.srid})"


# --- identifiers and expressions from declarations -----------------------------------------------


def quote_identifier(name: str) -> str:
    # Identifiers come only from validated declarations (lower-case [a-z0-9_]); quoting keeps
    # reserved words such as "class" working.
    return '"' + name.replace('"', '""') + '"'


def table_name(layer: Layer) -> str:
    return f"{quote_identifier(layer.schema_name)}.{quote_identifier(layer.table_name)}"


def geometry(layer: Layer, alias: str = "t") -> str:
    return f"{alias}.{quote_identifier(layer.geometry_column)}"


def storage_geometry(layer: Layer, alias: str = "t") -> str:
    """The layer's geometry in CGCS2000, the CRS every statement here works and answers in."""
    geom = geometry(layer, alias)
    return geom if layer.srid == CGCS2000 else f"ST_Transform({geom}, {CGCS2000})"


def text_or_null(layer: Layer, column: str | None, alias: str = "t") -> str:
    return "NULL::text" if column is None else f"{alias}.{quote_identifier(column)}::text"


def layer_weight(layer: Layer) -> float:
    return 1.0 - 0.05 * (layer.search_rank - 1)


def column_weight(position: int) -> float:
    return 1.0 - 0.05 * position
