"""Reading an OpenStreetMap extract into records of the base layers (no database here).

What goes where — the rules the loader and its tests share:

- ``roads``: ways tagged ``highway`` with a class from ``data/road_classes.csv`` and not
  ``area=yes``; one row per way. ``oneway`` is 1/-1/0 from the tag, implied 1 on motorways and
  roundabouts. ``maxspeed`` is the tagged value (km/h; mph converted; zone values such as
  ``CH:urban`` from ``data/maxspeed_zones.csv``), else the class default; ``maxspeed_source``
  says which.
- ``buildings``: areas (closed ways, multipolygon relations) tagged ``building`` other than
  ``no``. ``use`` is the building value, or for ``building=yes`` the value of its amenity/shop/
  office/tourism/healthcare tag, else ``unspecified``. ``levels`` is ``building:levels`` when
  tagged, else derived from a tagged height, else estimated from ``data/building_levels.csv``;
  ``height_m`` likewise (tagged, else levels × floor height).
- ``water``: ways tagged ``waterway`` river/stream/canal/drain/ditch/brook/tidal_channel as lines;
  areas tagged ``natural=water``, ``waterway=riverbank|dock`` or ``landuse=reservoir|basin`` as
  polygons.
- ``landuse``: areas tagged ``landuse``, a land-cover ``natural`` value, or a green-space
  ``leisure`` value (park, garden, golf_course, nature_reserve), the first of these keys winning.
- ``admin_areas``: ``boundary=administrative`` relations with a numeric ``admin_level``, and
  closed ways with those tags *and* a name (unnamed tagged ways are boundary segments, not areas).
- ``pois``: nodes and areas with a value of amenity, shop, tourism, healthcare, emergency, office,
  leisure, craft or historic (first key wins; access-like values such as ``yes``/``no`` ignored);
  areas become their point on surface.
- ``places``: nodes and areas tagged ``place``, and named natural features (peaks, saddles …)
  and ``mountain_pass=yes``, with ranks from ``data/place_ranks.csv``.
- ``addresses``: nodes with ``addr:housenumber`` (source ``point``) and areas with it (source
  ``building`` when the area is a building, else ``area``), as points.

Nothing is dropped silently: every object that matched a layer but yields no geometry is
counted under a reason (``Extract.skipped``).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import osmium
import shapely
from shapely.geometry.base import BaseGeometry

from geoplatform.refdata import read_table

LAYER_NAMES = (
    "admin_areas",
    "roads",
    "buildings",
    "water",
    "landuse",
    "pois",
    "places",
    "addresses",
)
WATERWAY_LINES = {"river", "stream", "canal", "drain", "ditch", "brook", "tidal_channel"}
WATER_AREAS = {
    ("natural", "water"),
    ("waterway", "riverbank"),
    ("waterway", "dock"),
    ("landuse", "reservoir"),
    ("landuse", "basin"),
}
LANDCOVER_NATURAL = {
    "wood",
    "scrub",
    "heath",
    "grassland",
    "wetland",
    "bare_rock",
    "scree",
    "shingle",
    "sand",
    "glacier",
    "beach",
    "fell",
    "tundra",
}
GREEN_LEISURE = {"park", "garden", "golf_course", "nature_reserve"}
POI_KEYS = (
    "amenity",
    "shop",
    "tourism",
    "healthcare",
    "emergency",
    "office",
    "leisure",
    "craft",
    "historic",
)
NON_POI_VALUES = {"yes", "no", "designated", "destination", "private", "permissive", "unknown"}
BUILDING_USE_KEYS = ("amenity", "shop", "office", "tourism", "healthcare")
NAMED_NATURAL = {
    "peak",
    "volcano",
    "saddle",
    "ridge",
    "valley",
    "glacier",
    "cliff",
    "spring",
    "cave_entrance",
}
AREA_NOT_ASSEMBLED = "area could not be assembled (incomplete or broken rings)"
TRUE_VALUES = {"yes", "true", "1"}
_NUMBER = re.compile(r"^\s*(-?\d+(?:[.,]\d+)?)\s*([a-z'\"]*)\s*$", re.IGNORECASE)
KMH_PER_MPH = 1.609344
METRES_PER_FOOT = 0.3048

Record = dict[str, object]


@dataclass
class Extract:
    """Records per layer, each with a ``geometry`` (shapely, lon/lat) and its columns."""

    records: dict[str, list[Record]] = field(
        default_factory=lambda: {name: [] for name in LAYER_NAMES}
    )
    skipped: dict[str, Counter] = field(
        default_factory=lambda: {name: Counter() for name in LAYER_NAMES}
    )
    objects_read: int = 0
    # Tagged nodes, ways and relations read, by kind: a file without its end shows here.
    kinds: Counter = field(default_factory=Counter)

    def add(self, layer: str, record: Record) -> None:
        self.records[layer].append(record)

    def skip(self, layer: str, reason: str) -> None:
        self.skipped[layer][reason] += 1

    def bounds(self) -> tuple[float, float, float, float]:
        geometries = [r["geometry"] for rows in self.records.values() for r in rows]
        if not geometries:
            raise ValueError("the extract holds no feature of any base layer")
        return tuple(shapely.total_bounds(geometries))


# --- reference tables -------------------------------------------------------------------------


@cache
def road_classes() -> dict[str, dict[str, str]]:
    return {row["highway"]: row for row in read_table("road_classes")}


@cache
def maxspeed_zones() -> dict[str, int]:
    return {row["zone"]: int(row["speed_kmh"]) for row in read_table("maxspeed_zones")}


@cache
def building_levels() -> dict[str, tuple[int, float]]:
    return {
        row["use"]: (int(row["levels"]), float(row["floor_height_m"]))
        for row in read_table("building_levels")
    }


@cache
def place_ranks() -> dict[tuple[str, str], int]:
    return {(row["class"], row["type"]): int(row["rank"]) for row in read_table("place_ranks")}


# --- tag parsing -----------------------------------------------------------------------------


def names(tags) -> dict[str, str | None]:
    return {
        "name": tags.get("name"),
        "name_zh": tags.get("name:zh") or tags.get("name:zh-Hans") or tags.get("name:zh-CN"),
        "name_en": tags.get("name:en"),
    }


def parse_number(value: str | None) -> tuple[float, str] | None:
    """A number and its unit suffix from a tag value such as '12', '12.5 m', '30 mph', "40'"."""
    if not value:
        return None
    match = _NUMBER.match(value.split(";")[0])
    if not match:
        return None
    return float(match.group(1).replace(",", ".")), match.group(2).lower()


def parse_maxspeed(value: str | None) -> int | None:
    if not value:
        return None
    if value in maxspeed_zones():
        return maxspeed_zones()[value]
    parsed = parse_number(value)
    if parsed is None:
        return None
    number, unit = parsed
    if unit == "mph":
        number *= KMH_PER_MPH
    elif unit not in ("", "kmh", "km/h", "kph"):
        return None
    return round(number) if 0 < number < 400 else None


def parse_height_m(value: str | None) -> float | None:
    parsed = parse_number(value)
    if parsed is None:
        return None
    number, unit = parsed
    if unit in ("ft", "'"):
        number *= METRES_PER_FOOT
    elif unit not in ("", "m"):
        return None
    return number if 0 < number < 1000 else None


def parse_int(value: str | None, default: int | None = None) -> int | None:
    parsed = parse_number(value)
    if parsed is None or parsed[1]:
        return default
    return int(parsed[0])


def is_true(value: str | None) -> bool:
    return value is not None and value.lower() in TRUE_VALUES


def address_label(tags) -> str | None:
    """'Street 12, 9490 Vaduz' from addr:* tags; None without a house number."""
    number = tags.get("addr:housenumber")
    if not number:
        return None
    street = tags.get("addr:street") or tags.get("addr:place")
    first = f"{street} {number}" if street else number
    town = " ".join(p for p in (tags.get("addr:postcode"), tags.get("addr:city")) if p)
    return f"{first}, {town}" if town else first


# --- classifiers: tags -> columns, or None when the object is not for that layer ------------


def road_columns(tags) -> Record | None:
    highway = tags.get("highway")
    if highway not in road_classes() or tags.get("area") == "yes":
        return None
    tagged_speed = parse_maxspeed(tags.get("maxspeed"))
    oneway_tag = tags.get("oneway")
    if oneway_tag in ("-1", "reverse"):
        oneway = -1
    elif (
        is_true(oneway_tag)
        or oneway_tag is None
        and (highway in ("motorway", "motorway_link") or tags.get("junction") == "roundabout")
    ):
        oneway = 1
    else:
        oneway = 0
    return {
        "class": highway,
        **names(tags),
        "ref": tags.get("ref"),
        "oneway": oneway,
        "maxspeed": tagged_speed or int(road_classes()[highway]["default_speed_kmh"]),
        "maxspeed_source": "tagged" if tagged_speed else "class",
        "bridge": tags.get("bridge", "no") != "no",
        "tunnel": tags.get("tunnel", "no") != "no",
        "layer": max(-9, min(9, parse_int(tags.get("layer"), 0))),
        "surface": tags.get("surface"),
    }


def building_columns(tags) -> Record | None:
    building = tags.get("building")
    if not building or building == "no":
        return None
    use = building
    if building == "yes":
        use = next((tags[k] for k in BUILDING_USE_KEYS if tags.get(k)), "unspecified")
    table = building_levels()
    default_levels, floor_height = table.get(use, table.get(building, table["default"]))
    tagged_height = parse_height_m(tags.get("height"))
    tagged_levels = parse_number(tags.get("building:levels"))
    if tagged_levels and tagged_levels[0] >= 1 and not tagged_levels[1]:
        levels, levels_source = math.ceil(tagged_levels[0]), "tagged"
    elif tagged_height:
        levels, levels_source = max(1, round(tagged_height / floor_height)), "height"
    else:
        levels, levels_source = default_levels, "estimated"
    if tagged_height:
        height, height_source = tagged_height, "tagged"
    else:
        height, height_source = levels * floor_height, "estimated"
    return {
        "use": use,
        "levels": min(levels, 200),
        "levels_source": levels_source,
        "height_m": round(height, 2),
        "height_source": height_source,
        **names(tags),
        "housenumber": tags.get("addr:housenumber"),
        "street": tags.get("addr:street") or tags.get("addr:place"),
        "address": address_label(tags),
    }


def water_line_columns(tags) -> Record | None:
    waterway = tags.get("waterway")
    if waterway not in WATERWAY_LINES:
        return None
    return _water(tags, "line", waterway)


def water_area_columns(tags) -> Record | None:
    for key, value in WATER_AREAS:
        if tags.get(key) == value:
            return _water(tags, "area", tags.get("water") or value)
    return None


def _water(tags, kind: str, water_class: str) -> Record:
    return {
        "kind": kind,
        "class": water_class,
        **names(tags),
        "intermittent": is_true(tags.get("intermittent")) or is_true(tags.get("seasonal")),
        "tunnel": tags.get("tunnel", "no") != "no",
    }


def landuse_columns(tags) -> Record | None:
    for key, allowed in (
        ("landuse", None),
        ("natural", LANDCOVER_NATURAL),
        ("leisure", GREEN_LEISURE),
    ):
        value = tags.get(key)
        if value and (allowed is None or value in allowed):
            return {"osm_key": key, "osm_class": value, **names(tags)}
    return None


def admin_columns(tags, from_way: bool) -> Record | None:
    if tags.get("boundary") != "administrative":
        return None
    level = parse_int(tags.get("admin_level"))
    if level is None or (from_way and not tags.get("name")):
        return None
    return {
        **names(tags),
        "admin_level": level,
        "code": tags.get("ref") or tags.get("ISO3166-2") or tags.get("ISO3166-1"),
    }


def poi_columns(tags) -> Record | None:
    for key in POI_KEYS:
        value = tags.get(key)
        if value and value not in NON_POI_VALUES:
            return {
                "category": key,
                "subcategory": value,
                **names(tags),
                "address": address_label(tags),
                "opening_hours": tags.get("opening_hours"),
                "phone": tags.get("phone") or tags.get("contact:phone"),
                "website": tags.get("website") or tags.get("contact:website"),
            }
    return None


def place_columns(tags) -> Record | None:
    ranks = place_ranks()
    if tags.get("place"):
        place_class, place_type = "place", tags["place"]
    elif tags.get("natural") in NAMED_NATURAL and tags.get("name"):
        place_class, place_type = "natural", tags["natural"]
    elif tags.get("mountain_pass") == "yes" and tags.get("name"):
        place_class, place_type = "mountain_pass", "yes"
    else:
        return None
    return {
        "class": place_class,
        "type": place_type,
        **names(tags),
        "population": parse_int(tags.get("population")),
        "rank": ranks.get((place_class, place_type), 9),
    }


def address_columns(tags, source: str) -> Record | None:
    label = address_label(tags)
    if label is None:
        return None
    return {
        "source": source,
        "housenumber": tags["addr:housenumber"],
        "street": tags.get("addr:street"),
        "place": tags.get("addr:place"),
        "postcode": tags.get("addr:postcode"),
        "city": tags.get("addr:city"),
        "label": label,
    }


def area_layers(tags, from_way: bool) -> dict[str, Record]:
    """Columns for every base layer an area (closed way or multipolygon) belongs to."""
    building = building_columns(tags)
    found = {
        "buildings": building,
        "water": water_area_columns(tags),
        "landuse": landuse_columns(tags),
        "admin_areas": admin_columns(tags, from_way),
        "pois": poi_columns(tags),
        "places": place_columns(tags),
        "addresses": address_columns(tags, "building" if building else "area"),
    }
    return {layer: columns for layer, columns in found.items() if columns is not None}


# --- reading ---------------------------------------------------------------------------------

OSM_TYPE_DIGIT = {"n": 1, "w": 2, "r": 3}


def feature_id(osm_type: str, osm_id: int) -> int:
    """Stable id of the feature made from one OSM object: osm_id * 10 + 1/2/3."""
    return osm_id * 10 + OSM_TYPE_DIGIT[osm_type]


_POINT_LAYERS = {"pois", "places", "addresses"}


def read_extract(path: Path, on_progress: Callable[[int], None] | None = None) -> Extract:
    """Read every base-layer feature from an .osm/.osm.pbf file."""
    extract = Extract()
    factory = osmium.geom.WKBFactory()
    # Areas not assembled by osmium (broken or incomplete rings) stay here and are reported.
    expected_areas: dict[tuple[str, int], set[str]] = {}
    processor = (
        osmium.FileProcessor(str(path))
        .with_locations()
        .with_areas()
        .with_filter(osmium.filter.EmptyTagFilter())
    )
    for count, obj in enumerate(processor, start=1):
        if on_progress and count % 5000 == 0:
            on_progress(count)
        if obj.is_node():
            extract.kinds["node"] += 1
            _read_node(obj, factory, extract)
        elif obj.is_way():
            extract.kinds["way"] += 1
            _read_way(obj, factory, extract, expected_areas)
        elif obj.is_relation():
            extract.kinds["relation"] += 1
            _expect_relation_area(obj, expected_areas)
        elif obj.is_area():
            _read_area(obj, factory, extract, expected_areas)
        extract.objects_read = count
    if on_progress:
        on_progress(extract.objects_read)
    for (_, _), layers in expected_areas.items():
        for layer in layers:
            extract.skip(layer, AREA_NOT_ASSEMBLED)
    return extract


# More tagged objects of one kind than a hand-made test file has, fewer than any city: a file of
# this many nodes without a way, or ways without a relation, is not a city.
CITY_LIKE = 100


def cut_short(extract: Extract) -> str | None:
    """Why the file looks cut short, or None.

    An OSM file lists its nodes, then its ways, then its relations. A PBF cut between two blocks
    (an interrupted download) still reads without error, only without its end: every block that
    is there decodes. What is missing is the later kinds. A city extract without ways or without
    relations (its boundaries, multipolygons, routes) is such a file, not a city. The demo file
    cut after its first data block still holds 311 tagged nodes; after its 18th, 1,152 ways.
    """
    kinds = extract.kinds
    if kinds["node"] >= CITY_LIKE and not kinds["way"]:
        return f"it holds {kinds['node']:,} tagged nodes but no way"
    if kinds["way"] >= CITY_LIKE and not kinds["relation"]:
        return f"it holds {kinds['way']:,} tagged ways but no relation"
    return None


def _read_node(node, factory, extract: Extract) -> None:
    tags = node.tags
    wanted = {
        "pois": poi_columns(tags),
        "places": place_columns(tags),
        "addresses": address_columns(tags, "point"),
    }
    wanted = {k: v for k, v in wanted.items() if v is not None}
    if not wanted:
        return
    geometry = _geometry(lambda: factory.create_point(node))
    for layer, columns in wanted.items():
        _add(extract, layer, "n", node.id, columns, geometry, "node has no valid location")


def _read_way(way, factory, extract: Extract, expected_areas) -> None:
    tags = way.tags
    wanted = {"roads": road_columns(tags), "water": water_line_columns(tags)}
    wanted = {k: v for k, v in wanted.items() if v is not None}
    if wanted:
        geometry = _geometry(lambda: factory.create_linestring(way))
        for layer, columns in wanted.items():
            _add(extract, layer, "w", way.id, columns, geometry, "way has fewer than two locations")
    if way.is_closed() and tags.get("area") != "no":
        layers = set(area_layers(tags, from_way=True))
        if layers:
            expected_areas[("w", way.id)] = layers


def _expect_relation_area(relation, expected_areas) -> None:
    if relation.tags.get("type") not in ("multipolygon", "boundary"):
        return
    layers = set(area_layers(relation.tags, from_way=False))
    if layers:
        expected_areas[("r", relation.id)] = layers


def _read_area(area, factory, extract: Extract, expected_areas) -> None:
    osm_type = "w" if area.from_way() else "r"
    osm_id = area.orig_id()
    expected_areas.pop((osm_type, osm_id), None)
    wanted = area_layers(area.tags, from_way=area.from_way())
    if not wanted:
        return
    polygon = _geometry(lambda: factory.create_multipolygon(area))
    point = None
    for layer, columns in wanted.items():
        geometry = polygon
        if layer in _POINT_LAYERS and polygon is not None:
            point = point or polygon.point_on_surface()
            geometry = point
        _add(extract, layer, osm_type, osm_id, columns, geometry, AREA_NOT_ASSEMBLED)


def _geometry(build: Callable[[], str]) -> BaseGeometry | None:
    try:
        return shapely.from_wkb(build())
    except (RuntimeError, osmium.InvalidLocationError, shapely.errors.GEOSException):
        return None


def _add(
    extract: Extract,
    layer: str,
    osm_type: str,
    osm_id: int,
    columns: Record,
    geometry: BaseGeometry | None,
    reason: str,
) -> None:
    if geometry is None or geometry.is_empty:
        extract.skip(layer, reason)
        return
    extract.add(
        layer,
        {
            "id": feature_id(osm_type, osm_id),
            "osm_type": osm_type,
            "osm_id": osm_id,
            **columns,
            "geometry": geometry,
        },
    )
