"""Query parameters of ``/search`` and ``/reverse``, validated into plain values.

No Flask here: the parsers take the query string as a mapping of name -> list of values and
raise ``InvalidParameter`` with a message naming the parameter and what is wrong with it.
Coordinates are CRS84 degrees, longitude first. Unknown and repeated parameters are refused, as
the feature API refuses them: a mistyped ``near`` silently ignored would rank by the wrong thing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from geoplatform.errors import InvalidParameter
from geoplatform.features.params import finite_numbers
from geoplatform.search.query import DEFAULT_LIMIT, MAX_LIMIT, MAX_QUERY_LENGTH, SearchRequest

Args = Mapping[str, Sequence[str]]
SEARCH_PARAMETERS = ("q", "limit", "bbox", "near")
REVERSE_PARAMETERS = ("lon", "lat")


def parse_search(args: Args) -> SearchRequest:
    _only(args, SEARCH_PARAMETERS)
    text = _one(args, "q")
    if text is None:
        raise InvalidParameter("q is required: the name or address to search for")
    text = " ".join(text.split())
    if not text:
        raise InvalidParameter("q is empty: give a name or address to search for")
    if len(text) > MAX_QUERY_LENGTH:
        raise InvalidParameter(f"q is longer than {MAX_QUERY_LENGTH} characters")
    return SearchRequest(
        text=text,
        limit=_limit(_one(args, "limit")),
        bbox=_bbox(_one(args, "bbox")),
        near=_near(_one(args, "near")),
    )


def parse_reverse(args: Args) -> tuple[float, float]:
    """(lon, lat) of ``/reverse``."""
    _only(args, REVERSE_PARAMETERS)
    return _coordinate(args, "lon", 180.0), _coordinate(args, "lat", 90.0)


def _only(args: Args, known: tuple[str, ...]) -> None:
    unknown = sorted(set(args) - set(known))
    if unknown:
        raise InvalidParameter(
            f"unknown parameter {', '.join(map(repr, unknown))}; expected {', '.join(known)}"
        )


def _one(args: Args, name: str) -> str | None:
    values = args.get(name) or []
    if len(values) > 1:
        raise InvalidParameter(f"{name} is given {len(values)} times; give it once")
    return values[0] if values else None


def _limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_LIMIT
    try:
        limit = int(text)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidParameter(f"limit must be an integer from 1 to {MAX_LIMIT}, got {text!r}")
    return limit


def _check_lon_lat(name: str, lon: float, lat: float) -> None:
    if not -180 <= lon <= 180:
        raise InvalidParameter(f"{name}: longitude {lon:g} is outside -180..180")
    if not -90 <= lat <= 90:
        raise InvalidParameter(f"{name}: latitude {lat:g} is outside -90..90")


def _near(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    numbers = finite_numbers(text)
    if numbers is None or len(numbers) != 2:
        raise InvalidParameter(f"near must be lon,lat in degrees (CRS84), got {text!r}")
    lon, lat = numbers
    _check_lon_lat("near", lon, lat)
    return lon, lat


def _bbox(text: str | None) -> tuple[float, float, float, float] | None:
    if text is None:
        return None
    numbers = finite_numbers(text)
    if numbers is None or len(numbers) != 4:
        raise InvalidParameter(
            f"bbox must be west,south,east,north in degrees (CRS84), got {text!r}"
        )
    west, south, east, north = numbers
    _check_lon_lat("bbox", west, south)
    _check_lon_lat("bbox", east, north)
    if west > east:
        raise InvalidParameter(f"bbox: west {west:g} is greater than east {east:g}")
    if south > north:
        raise InvalidParameter(f"bbox: south {south:g} is greater than north {north:g}")
    return west, south, east, north


def _coordinate(args: Args, name: str, limit: float) -> float:
    text = _one(args, name)
    if text is None:
        raise InvalidParameter(f"{name} is required: the point's {_AXES[name]} in degrees")
    try:
        value = float(text)
    except ValueError:
        raise InvalidParameter(f"{name} must be a number, got {text!r}") from None
    if not math.isfinite(value) or not -limit <= value <= limit:
        raise InvalidParameter(f"{name} must be between -{limit:g} and {limit:g}, got {text!r}")
    return value


_AXES = {"lon": "longitude (CRS84)", "lat": "latitude (CRS84)"}
