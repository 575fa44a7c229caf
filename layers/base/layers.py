"""Declarations of the base layers: the city's shared base geodatabase, all public."""

from __future__ import annotations

from geoplatform.registry import PUBLIC, ClassMinZoom, Layer, Property, ZoomProperties
from layers.base.styles import (
    ADDRESSES_STYLE,
    ADMIN_AREAS_STYLE,
    BUILDINGS_STYLE,
    LANDUSE_STYLE,
    PLACES_STYLE,
    POIS_STYLE,
    ROADS_STYLE,
    WATER_STYLE,
)

OSM_ATTRIBUTION = "© OpenStreetMap contributors"

_NAMES = (
    Property("name", "string", "名称 Name"),
    Property("name_zh", "string", "中文名 Chinese name"),
    Property("name_en", "string", "英文名 English name"),
)
_OSM = (Property("osm_type", "string", "OSM 类型"), Property("osm_id", "integer", "OSM 编号"))
_NAME_SEARCH = ("name", "name_zh", "name_en")


def _base(**kwargs) -> Layer:
    return Layer(access=PUBLIC, attribution=OSM_ATTRIBUTION, **kwargs)


ADMIN_AREAS = _base(
    id="base.admin_areas",
    style=ADMIN_AREAS_STYLE,
    title_zh="行政区划",
    title_en="Administrative areas",
    description_zh="市、区县、乡镇等各级行政区划边界，含上级区划。",
    description_en="Administrative boundaries at every level with their parent area.",
    table="base.admin_areas",
    geometry_type="MultiPolygon",
    properties=(
        *_NAMES,
        Property("admin_level", "integer", "OSM 行政级别 admin_level"),
        Property("level", "string", "层级 Level"),
        Property("parent_id", "integer", "上级区划 Parent area"),
        Property("code", "string", "区划代码 Code"),
        Property("area_m2", "number", "面积(m²) Area"),
        *_OSM,
    ),
    minzoom=0,
    maxzoom=16,
    searchable=_NAME_SEARCH,
    search_rank=2,
    search_type="level",
    reverse_role="admin",
    simplify_px=1.0,
    class_minzoom=ClassMinZoom(
        "level", (("city", 0), ("district", 6), ("township", 8), ("community", 11)), default=11
    ),
)

ROADS = _base(
    id="base.roads",
    style=ROADS_STYLE,
    title_zh="道路",
    title_en="Roads",
    description_zh="道路中心线，含等级、名称、编号、单行、限速、桥隧与层。",
    description_en="Road centrelines with class, name, ref, oneway, speed limit, bridge/tunnel.",
    table="base.roads",
    geometry_type="LineString",
    properties=(
        Property("class", "string", "道路等级 Class"),
        *_NAMES,
        Property("ref", "string", "编号 Ref"),
        Property("oneway", "integer", "单行 Oneway (1 forward, -1 backward, 0 both)"),
        Property("maxspeed", "integer", "限速(km/h) Max speed"),
        Property("maxspeed_source", "string", "限速来源 Max speed source"),
        Property("bridge", "boolean", "桥梁 Bridge"),
        Property("tunnel", "boolean", "隧道 Tunnel"),
        Property("layer", "integer", "层 Layer"),
        Property("surface", "string", "路面 Surface"),
        Property("length_m", "number", "长度(m) Length"),
        *_OSM,
    ),
    minzoom=5,
    maxzoom=16,
    searchable=(*_NAME_SEARCH, "ref"),
    search_rank=4,
    search_type="class",
    reverse_role="road",
    zoom_properties=(
        ZoomProperties(0, 11, ("class", "name", "name_zh", "ref", "bridge", "tunnel", "layer")),
    ),
    class_minzoom=ClassMinZoom(
        "class",
        (
            *((c, 5) for c in ("motorway", "trunk")),
            *((c, 8) for c in ("motorway_link", "trunk_link", "primary")),
            *((c, 9) for c in ("primary_link", "secondary")),
            *((c, 10) for c in ("secondary_link", "tertiary")),
            *((c, 12) for c in ("tertiary_link", "unclassified", "residential", "road", "busway")),
            *((c, 13) for c in ("living_street", "service", "track", "pedestrian")),
        ),
        default=14,
    ),
)

BUILDINGS = _base(
    id="base.buildings",
    style=BUILDINGS_STYLE,
    title_zh="建筑物",
    title_en="Buildings",
    description_zh="建筑物轮廓，含用途、层数、高度、名称与地址。",
    description_en="Building footprints with use, levels, height, name and address.",
    table="base.buildings",
    geometry_type="MultiPolygon",
    properties=(
        Property("use", "string", "用途 Use"),
        Property("levels", "integer", "层数 Levels"),
        Property("levels_source", "string", "层数来源 Levels source"),
        Property("height_m", "number", "高度(m) Height"),
        Property("height_source", "string", "高度来源 Height source"),
        *_NAMES,
        Property("housenumber", "string", "门牌号 House number"),
        Property("street", "string", "街道 Street"),
        Property("address", "string", "地址 Address"),
        Property("area_m2", "number", "占地面积(m²) Footprint area"),
        *_OSM,
    ),
    minzoom=13,
    maxzoom=16,
    searchable=(*_NAME_SEARCH, "address"),
    search_rank=6,
    search_type="use",
    min_area_px=0.5,
    zoom_properties=(ZoomProperties(0, 14, ("use", "levels", "height_m", "name", "name_zh")),),
)

WATER = _base(
    id="base.water",
    style=WATER_STYLE,
    title_zh="水系",
    title_en="Water",
    description_zh="河流、溪流、沟渠（线）与湖泊、水库等水面（面）。",
    description_en="Rivers, streams and canals (lines) and water bodies (polygons).",
    table="base.water",
    geometry_type="Geometry",
    properties=(
        Property("kind", "string", "类型 line/area"),
        Property("class", "string", "水系类别 Class"),
        *_NAMES,
        Property("intermittent", "boolean", "季节性 Intermittent"),
        Property("tunnel", "boolean", "暗渠 Culverted"),
        Property("length_m", "number", "长度(m) Length"),
        Property("area_m2", "number", "面积(m²) Area"),
        *_OSM,
    ),
    minzoom=6,
    maxzoom=16,
    searchable=_NAME_SEARCH,
    search_rank=4,
    search_type="class",
    min_area_px=2.0,
    min_length_px=2.0,
    class_minzoom=ClassMinZoom(
        "class",
        (("river", 6), ("canal", 10), ("stream", 12), ("brook", 12), ("drain", 13), ("ditch", 13)),
        default=6,
    ),
)

LANDUSE = _base(
    id="base.landuse",
    style=LANDUSE_STYLE,
    title_zh="土地利用与覆盖",
    title_en="Land use and land cover",
    description_zh="土地利用/覆盖面，含 OSM 类别及供土地模块填写的国标地类。",
    description_en="Land use / land cover polygons with the OSM class and a national class "
    "column filled by the land module.",
    table="base.landuse",
    geometry_type="MultiPolygon",
    properties=(
        Property("osm_key", "string", "OSM 键 Key"),
        Property("osm_class", "string", "OSM 类别 Class"),
        *_NAMES,
        Property("national_class", "string", "国标地类 GB/T 21010 class"),
        Property("area_m2", "number", "面积(m²) Area"),
        *_OSM,
    ),
    minzoom=8,
    maxzoom=16,
    searchable=_NAME_SEARCH,
    search_rank=6,
    search_type="osm_class",
    simplify_px=1.0,
    min_area_px=4.0,
    zoom_properties=(ZoomProperties(0, 13, ("osm_key", "osm_class", "name", "name_zh")),),
)

POIS = _base(
    id="base.pois",
    style=POIS_STYLE,
    title_zh="兴趣点",
    title_en="Points of interest",
    description_zh="公共设施、商店、旅游、医疗、应急、机关、休闲等兴趣点。",
    description_en="Amenities, shops, tourism, healthcare, emergency, offices, leisure …",
    table="base.pois",
    geometry_type="Point",
    properties=(
        Property("category", "string", "大类 Category"),
        Property("subcategory", "string", "小类 Subcategory"),
        *_NAMES,
        Property("address", "string", "地址 Address"),
        Property("opening_hours", "string", "营业时间 Opening hours"),
        Property("phone", "string", "电话 Phone"),
        Property("website", "string", "网址 Website"),
        *_OSM,
    ),
    minzoom=14,
    maxzoom=16,
    searchable=(*_NAME_SEARCH, "subcategory", "address"),
    search_rank=3,
    search_type="subcategory",
    search_minor=(
        "atm",
        "bench",
        "bicycle_parking",
        "car_sharing",
        "drinking_water",
        "information",
        "parking",
        "post_box",
        "recycling",
        "shelter",
        "telephone",
        "toilets",
        "waste_basket",
    ),
)

PLACES = _base(
    id="base.places",
    style=PLACES_STYLE,
    title_zh="地名",
    title_en="Place names",
    description_zh="居民地、小地名与山峰等具名地物，供地名图典检索。",
    description_en="Settlements, localities and named natural features for the gazetteer.",
    table="base.places",
    geometry_type="Point",
    properties=(
        Property("class", "string", "类 Class"),
        Property("type", "string", "类型 Type"),
        *_NAMES,
        Property("population", "integer", "人口 Population"),
        Property("rank", "integer", "重要度 Rank (1 = most important)"),
        *_OSM,
    ),
    minzoom=4,
    maxzoom=16,
    searchable=_NAME_SEARCH,
    search_rank=1,
    search_type="type",
    class_minzoom=ClassMinZoom(
        "type",
        (
            ("city", 4),
            ("town", 6),
            ("village", 9),
            *((t, 11) for t in ("suburb", "borough", "quarter", "peak", "volcano")),
            *((t, 12) for t in ("hamlet", "neighbourhood", "island", "saddle", "ridge", "valley")),
        ),
        default=13,
    ),
)

ADDRESSES = _base(
    id="base.addresses",
    style=ADDRESSES_STYLE,
    title_zh="门牌地址",
    title_en="Addresses",
    description_zh="门牌地址点及建筑物地址。",
    description_en="Address points and building addresses.",
    table="base.addresses",
    geometry_type="Point",
    properties=(
        Property("source", "string", "来源 point/building"),
        Property("housenumber", "string", "门牌号 House number"),
        Property("street", "string", "街道 Street"),
        Property("place", "string", "地点 Place"),
        Property("postcode", "string", "邮编 Postcode"),
        Property("city", "string", "城镇 City"),
        Property("label", "string", "地址 Address"),
        Property("building_id", "integer", "所在建筑 Building"),
        *_OSM,
    ),
    minzoom=15,
    maxzoom=16,
    # The label holds the street: searching the street too would list every address of it as an
    # exact match of a street name.
    searchable=("label",),
    search_rank=5,
    reverse_role="address",
)

BASE_LAYERS = (ADMIN_AREAS, ROADS, BUILDINGS, WATER, LANDUSE, POIS, PLACES, ADDRESSES)
