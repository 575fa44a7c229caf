"""Query parameters of the feature endpoints, parsed and validated into plain dataclasses.

No Flask here: the parsers take the query string as a mapping of name -> list of values and a
layer declaration, and raise ``InvalidParameter`` with a message naming the parameter and what
is wrong with it. Everything a response depends on is decided here, before any SQL is built.

Unknown parameters are refused (400 naming them). OGC API Features allows a server to ignore
them, but a mistyped ``bbox`` or ``fitler`` that silently returns the whole layer is worse than
an error; a declared property name is not unknown: it filters by equality (Part 3,
"Queryables as query parameters").
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from pygeofilter import ast

from geoplatform.crs import CGCS2000
from geoplatform.errors import InvalidParameter, NotFound
from geoplatform.features.cql import BIGINT, CQL2_JSON, CQL2_TEXT, FILTER_LANGUAGES, parse_filter
from geoplatform.features.crs import CRS84, Crs, CrsResolver, check_coordinates, swap_pairs
from geoplatform.registry import Layer, Property

Args = Mapping[str, Sequence[str]]
FORMATS = ("json", "geojson")
ITEM_PARAMETERS = ("f", "crs")
ITEMS_PARAMETERS = (
    *ITEM_PARAMETERS,
    "limit",
    "offset",
    "bbox",
    "bbox-crs",
    "datetime",
    "properties",
    "sortby",
    "filter",
    "filter-lang",
    "filter-crs",
)
OPEN = ("", "..")


@dataclass(frozen=True)
class Limits:
    default: int
    maximum: int


@dataclass(frozen=True)
class SortKey:
    name: str
    descending: bool = False


@dataclass(frozen=True)
class TimeInterval:
    """``datetime``: an instant has start == end; an open end is None."""

    start: date | None
    end: date | None

    @property
    def is_instant(self) -> bool:
        return self.start is not None and self.start == self.end


@dataclass(frozen=True)
class ItemsQuery:
    limit: int
    offset: int = 0
    crs: Crs = CRS84
    # In PostGIS axis order (x = longitude or easting) of bbox_crs, whatever order it came in.
    bbox: tuple[float, float, float, float] | None = None
    bbox_crs: Crs = CRS84
    datetime: TimeInterval | None = None
    properties: tuple[str, ...] | None = None
    sortby: tuple[SortKey, ...] = ()
    filter: ast.Node | None = None
    filter_lang: str = CQL2_TEXT
    filter_crs: Crs = CRS84
    equals: tuple[tuple[str, object], ...] = ()


def queryable_properties(layer: Layer) -> tuple[Property, ...]:
    """Properties a filter, a sortby or a query parameter may name (JSON documents may not)."""
    return tuple(p for p in layer.properties if p.type != "json")


def parse_items_query(args: Args, layer: Layer, limits: Limits, crs: CrsResolver) -> ItemsQuery:
    queryables = {p.name: p for p in queryable_properties(layer)}
    _refuse_unknown(args, ITEMS_PARAMETERS, queryables)
    values = {name: _single(args, name) for name in args}
    _check_format(values.get("f"))
    filter_lang = values.get("filter-lang", CQL2_TEXT)
    if filter_lang not in FILTER_LANGUAGES:
        raise InvalidParameter(
            f"filter-lang must be {CQL2_TEXT} or {CQL2_JSON}, got {filter_lang!r}"
        )
    bbox_crs = crs.resolve("bbox-crs", values.get("bbox-crs"))
    return ItemsQuery(
        limit=_limit(values.get("limit"), limits),
        offset=_offset(values.get("offset")),
        crs=crs.resolve("crs", values.get("crs")),
        bbox=_bbox(values["bbox"], bbox_crs) if "bbox" in values else None,
        bbox_crs=bbox_crs,
        datetime=_datetime(values["datetime"], layer) if "datetime" in values else None,
        properties=_properties(values["properties"], layer) if "properties" in values else None,
        sortby=_sortby(values["sortby"], layer, queryables) if "sortby" in values else (),
        filter=parse_filter(values["filter"], filter_lang) if "filter" in values else None,
        filter_lang=filter_lang,
        filter_crs=crs.resolve("filter-crs", values.get("filter-crs")),
        equals=tuple(
            (name, _typed(name, values[name], queryables[name].type))
            for name in values
            if name in queryables
        ),
    )


def parse_item_query(args: Args, crs: CrsResolver) -> Crs:
    """The one thing a single feature's response depends on: its CRS."""
    _refuse_unknown(args, ITEM_PARAMETERS, {})
    _check_format(_single(args, "f") if "f" in args else None)
    return crs.resolve("crs", _single(args, "crs") if "crs" in args else None)


def parse_feature_id(text: str, layer: Layer) -> int:
    """Feature ids are the bigint ids of the layer's table; anything else cannot exist."""
    try:
        value = int(text, 10)
    except ValueError:
        raise InvalidParameter(
            f"feature id must be an integer, got {text!r} (collection {layer.id})"
        ) from None
    if not -(2**63) <= value < 2**63:
        raise NotFound(f"no feature {text} in collection {layer.id}")
    return value


def _refuse_unknown(args: Args, known: Sequence[str], queryables: Mapping[str, Property]) -> None:
    unknown = [name for name in args if name not in known and name not in queryables]
    if unknown:
        names = ", ".join(repr(name) for name in unknown)
        raise InvalidParameter(
            f"unknown query parameter{'s' if len(unknown) > 1 else ''} {names}; "
            f"this endpoint takes {', '.join(known)}"
            + (" and the collection's queryables" if queryables else "")
        )


def _single(args: Args, name: str) -> str:
    given = list(args[name])
    if len(given) != 1:
        raise InvalidParameter(f"{name} given {len(given)} times; give it once")
    return given[0]


def _check_format(value: str | None) -> None:
    if value is not None and value not in FORMATS:
        raise InvalidParameter(f"f must be one of {', '.join(FORMATS)}, got {value!r}")


def _limit(text: str | None, limits: Limits) -> int:
    if text is None:
        return limits.default
    try:
        limit = int(text)
    except ValueError:
        raise InvalidParameter(
            f"limit must be an integer from 1 to {limits.maximum}, got {text!r}"
        ) from None
    if limit > limits.maximum:
        raise InvalidParameter(f"limit {limit} is over the maximum of {limits.maximum}")
    if limit < 1:
        raise InvalidParameter(f"limit must be an integer from 1 to {limits.maximum}, got {limit}")
    return limit


def _offset(text: str | None) -> int:
    if text is None:
        return 0
    try:
        offset = int(text)
    except ValueError:
        offset = -1
    if offset < 0:
        raise InvalidParameter(f"offset must be an integer of 0 or more, got {text!r}")
    if offset not in BIGINT:
        raise InvalidParameter(f"offset {offset} is over the maximum of {BIGINT.stop - 1}")
    return offset


def _bbox(text: str, crs: Crs) -> tuple[float, float, float, float]:
    numbers = finite_numbers(text)
    if numbers is None or len(numbers) not in (4, 6):
        raise InvalidParameter(f"bbox must be 4 or 6 comma-separated numbers, got {text!r}")
    half = len(numbers) // 2
    corners = [numbers[0], numbers[1], numbers[half], numbers[half + 1]]
    if crs.lat_first:
        corners = swap_pairs(corners)
    west, south, east, north = corners
    geographic = crs.srid == CGCS2000
    names = ("longitude", "latitude") if geographic else ("x", "y")
    if geographic:
        for value in (west, east):
            _within(value, "longitude", 180)
        for value in (south, north):
            _within(value, "latitude", 90)
    if west > east:
        raise InvalidParameter(f"bbox: minimum {names[0]} {west} is greater than maximum {east}")
    if south > north:
        raise InvalidParameter(f"bbox: minimum {names[1]} {south} is greater than maximum {north}")
    check_coordinates(crs, [(west, south), (east, south), (east, north), (west, north)], "bbox")
    return west, south, east, north


def finite_numbers(text: str) -> list[float] | None:
    try:
        numbers = [float(part) for part in text.split(",")]
    except ValueError:
        return None
    return numbers if all(math.isfinite(n) for n in numbers) else None


def _within(value: float, name: str, limit: float) -> None:
    if not -limit <= value <= limit:
        raise InvalidParameter(f"bbox: {name} {value} is outside -{limit}..{limit}")


def _datetime(text: str, layer: Layer) -> TimeInterval:
    if layer.temporal is None:
        raise InvalidParameter(f"collection {layer.id} has no temporal property")
    if "/" not in text:
        instant = _instant(text)
        return TimeInterval(instant, instant)
    start_text, _, end_text = text.partition("/")
    start = None if start_text in OPEN else _instant(start_text)
    end = None if end_text in OPEN else _instant(end_text)
    if start is None and end is None:
        raise InvalidParameter(f"datetime: an interval needs at least one end, got {text!r}")
    if start is not None and end is not None and _as_datetime(start) > _as_datetime(end):
        raise InvalidParameter(f"datetime: the interval {text!r} ends before it starts")
    return TimeInterval(start, end)


def _instant(text: str) -> date:
    """An RFC 3339 date-time (a time without offset is UTC) or a full date."""
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidParameter(
            f"datetime: {text!r} is not an RFC 3339 date-time or date "
            "(e.g. 2024-05-01T08:00:00Z, 2024-05-01, or an interval start/end with .. for open)"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _as_datetime(value: date) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def _properties(text: str, layer: Layer) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    declared = layer.property_names()
    for name in names:
        if name not in declared:
            raise InvalidParameter(f"properties: collection {layer.id} has no property {name!r}")
    return tuple(dict.fromkeys(names))


def _sortby(text: str, layer: Layer, queryables: Mapping[str, Property]) -> tuple[SortKey, ...]:
    keys = []
    for part in text.split(","):
        # A '+' in a query string arrives as a space; either way it means ascending.
        item = part.strip()
        descending = item.startswith("-")
        name = item.lstrip("+-").strip()
        if name not in queryables:
            raise InvalidParameter(f"sortby: collection {layer.id} has no property {name!r}")
        keys.append(SortKey(name, descending))
    return tuple(keys)


def _typed(name: str, text: str, kind: str) -> object:
    try:
        if kind == "integer":
            value = int(text)
            if value not in BIGINT:
                raise InvalidParameter(f"{name}: {text} is out of the 64-bit integer range")
            return value
        if kind == "number":
            value = float(text)
            if math.isfinite(value):
                return value
        elif kind == "boolean":
            return {"true": True, "false": False}[text.lower()]
        elif kind == "date":
            return date.fromisoformat(text)
        elif kind == "datetime":
            moment = datetime.fromisoformat(text)
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        else:
            return text
    except (ValueError, KeyError):
        pass
    raise InvalidParameter(f"{name}: {text!r} is not a valid {kind}")
