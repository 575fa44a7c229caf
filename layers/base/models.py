"""Tables of the base geodatabase (schema ``base``).

Every table keeps its authoritative geometry in CGCS2000 (EPSG:4490) in ``geom`` and a stored,
generated Web Mercator copy in ``geom_3857`` with its own GiST index, so tiles never reproject.
Ids are derived from the OSM object (``osm_id * 10 + 1/2/3`` for node/way/relation), so a
feature keeps its URL across reloads of a newer extract.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
)

from geoplatform.db import make_metadata
from geoplatform.layer_tables import geometry_columns, search_indexes

metadata = make_metadata("base")


def _osm_columns() -> list[Column]:
    return [
        Column("id", BigInteger, primary_key=True, autoincrement=False),
        Column("osm_type", String(1), nullable=False),
        Column("osm_id", BigInteger, nullable=False),
    ]


def _name_columns() -> list[Column]:
    return [Column("name", Text), Column("name_zh", Text), Column("name_en", Text)]


admin_areas = Table(
    "admin_areas",
    metadata,
    *_osm_columns(),
    *_name_columns(),
    Column("admin_level", SmallInteger, nullable=False),
    Column("level", Text),
    Column("parent_id", BigInteger, index=True),
    Column("code", Text),
    Column("area_m2", Float, nullable=False),
    *geometry_columns("admin_areas", "MULTIPOLYGON"),
)

roads = Table(
    "roads",
    metadata,
    *_osm_columns(),
    Column("class", Text, nullable=False, index=True),
    *_name_columns(),
    Column("ref", Text),
    Column("oneway", SmallInteger, nullable=False),
    Column("maxspeed", SmallInteger, nullable=False),
    Column("maxspeed_source", Text, nullable=False),
    Column("bridge", Boolean, nullable=False),
    Column("tunnel", Boolean, nullable=False),
    Column("layer", SmallInteger, nullable=False),
    Column("surface", Text),
    Column("length_m", Float, nullable=False),
    *geometry_columns("roads", "LINESTRING"),
)

buildings = Table(
    "buildings",
    metadata,
    *_osm_columns(),
    Column("use", Text, nullable=False),
    Column("levels", SmallInteger, nullable=False),
    Column("levels_source", Text, nullable=False),
    Column("height_m", Float, nullable=False),
    Column("height_source", Text, nullable=False),
    *_name_columns(),
    Column("housenumber", Text),
    Column("street", Text),
    Column("address", Text),
    Column("area_m2", Float, nullable=False),
    *geometry_columns("buildings", "MULTIPOLYGON"),
)

water = Table(
    "water",
    metadata,
    *_osm_columns(),
    Column("kind", Text, nullable=False),
    Column("class", Text, nullable=False),
    *_name_columns(),
    Column("intermittent", Boolean, nullable=False),
    Column("tunnel", Boolean, nullable=False),
    Column("length_m", Float),
    Column("area_m2", Float),
    *geometry_columns("water", "GEOMETRY"),
)

landuse = Table(
    "landuse",
    metadata,
    *_osm_columns(),
    Column("osm_key", Text, nullable=False),
    Column("osm_class", Text, nullable=False, index=True),
    *_name_columns(),
    # Filled by the land module with the GB/T 21010 class; the base load leaves it empty.
    Column("national_class", Text),
    Column("area_m2", Float, nullable=False),
    *geometry_columns("landuse", "MULTIPOLYGON"),
)

pois = Table(
    "pois",
    metadata,
    *_osm_columns(),
    Column("category", Text, nullable=False, index=True),
    Column("subcategory", Text, nullable=False),
    *_name_columns(),
    Column("address", Text),
    Column("opening_hours", Text),
    Column("phone", Text),
    Column("website", Text),
    *geometry_columns("pois", "POINT"),
)

places = Table(
    "places",
    metadata,
    *_osm_columns(),
    Column("class", Text, nullable=False),
    Column("type", Text, nullable=False),
    *_name_columns(),
    Column("population", Integer),
    Column("rank", SmallInteger, nullable=False),
    *geometry_columns("places", "POINT"),
)

addresses = Table(
    "addresses",
    metadata,
    *_osm_columns(),
    Column("source", Text, nullable=False),
    Column("housenumber", Text, nullable=False),
    Column("street", Text),
    Column("place", Text),
    Column("postcode", Text),
    Column("city", Text),
    Column("label", Text, nullable=False),
    Column("building_id", BigInteger, index=True),
    *geometry_columns("addresses", "POINT"),
)


search_indexes(admin_areas, "name", "name_zh", "name_en")
search_indexes(places, "name", "name_zh", "name_en")
search_indexes(pois, "name", "name_zh", "name_en", "subcategory", "address")
search_indexes(roads, "name", "name_zh", "name_en", "ref")
search_indexes(addresses, "label")
search_indexes(buildings, "name", "name_zh", "name_en", "address")
search_indexes(water, "name", "name_zh", "name_en")
search_indexes(landuse, "name", "name_zh", "name_en")
