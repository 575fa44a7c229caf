"""MapLibre style fragments of the base layers: a calm city base map with Chinese labels first.

Each tuple is one layer's ``style``; the tile server completes the fragments (source,
source-layer, ids, zoom range) and stacks them by band. Colours follow the conventions of the
OpenStreetMap Carto style, which map readers here already know; widths are in screen pixels.
"""

from __future__ import annotations

from geoplatform.styles import FONT_BOLD, FONT_REGULAR

NAME = ["coalesce", ["get", "name_zh"], ["get", "name"]]
HAS_NAME = ["any", ["has", "name_zh"], ["has", "name"]]
HALO = {"text-halo-color": "rgba(255, 255, 255, 0.9)", "text-halo-width": 1.5}


def _band(name: str) -> dict:
    return {"geoplatform:band": name}


def _match(column: str, values: dict[str, object], default: object) -> list:
    """A ``match`` on a property, grouping the classes that share a value."""
    groups: dict[object, list[str]] = {}
    for key, value in values.items():
        groups.setdefault(value, []).append(key)
    expression: list = ["match", ["get", column]]
    for value, keys in groups.items():
        expression += [keys if len(keys) > 1 else keys[0], value]
    return [*expression, default]


def _by_zoom(stops: dict[int, object], base: float = 1.0) -> list:
    curve = ["linear"] if base == 1.0 else ["exponential", base]
    expression: list = ["interpolate", curve, ["zoom"]]
    for zoom, value in stops.items():
        expression += [zoom, value]
    return expression


# Land use and land cover, by the OSM value (osm_class) whatever its key.
_LANDCOVER_COLORS = {
    **dict.fromkeys(("forest", "wood"), "#add19e"),
    **dict.fromkeys(("scrub", "heath"), "#c8d7ab"),
    **dict.fromkeys(
        ("grass", "meadow", "grassland", "park", "village_green", "recreation_ground"), "#cdebb0"
    ),
    **dict.fromkeys(("farmland", "vineyard", "orchard", "plant_nursery", "allotments"), "#e0e8c4"),
    "farmyard": "#f5dcba",
    "residential": "#e0dfdf",
    **dict.fromkeys(("commercial", "retail"), "#f2dad9"),
    **dict.fromkeys(("industrial", "quarry", "landfill", "construction"), "#ebdbe8"),
    **dict.fromkeys(("cemetery", "religious"), "#d3e0cc"),
    **dict.fromkeys(("scree", "bare_rock", "beach", "sand"), "#eee5dc"),
    "wetland": "#d6e8ea",
    **dict.fromkeys(("reservoir", "basin"), "#aad3df"),
}

LANDUSE_STYLE = (
    {
        "id": "fill",
        "type": "fill",
        "metadata": _band("landcover"),
        # A nature reserve is a designation laid over other cover, not a cover of its own.
        "filter": ["!=", ["get", "osm_class"], "nature_reserve"],
        "paint": {
            "fill-color": _match("osm_class", _LANDCOVER_COLORS, "#e9e7df"),
            "fill-opacity": _by_zoom({8: 0.6, 12: 1.0}),
        },
    },
)

WATER_STYLE = (
    {
        "id": "area",
        "type": "fill",
        "metadata": _band("water"),
        "filter": ["==", ["get", "kind"], "area"],
        "paint": {"fill-color": "#aad3df"},
    },
    {
        "id": "line",
        "type": "line",
        "metadata": _band("water"),
        "filter": ["==", ["get", "kind"], "line"],
        "layout": {"line-cap": "round", "line-join": "round"},
        "paint": {
            "line-color": "#aad3df",
            "line-width": _by_zoom(
                {
                    8: _match("class", {"river": 1.0, "canal": 0.8}, 0.3),
                    13: _match("class", {"river": 3.0, "canal": 2.5}, 1.0),
                    17: _match("class", {"river": 10.0, "canal": 8.0}, 3.0),
                },
                base=1.4,
            ),
            # Culverted water runs under ground; show it faintly, not as an open stream.
            "line-opacity": ["case", ["==", ["get", "tunnel"], True], 0.35, 1.0],
        },
    },
    {
        "id": "label",
        "type": "symbol",
        "metadata": _band("labels"),
        "minzoom": 12,
        "filter": ["all", ["==", ["get", "kind"], "line"], HAS_NAME],
        "layout": {
            "symbol-placement": "line",
            "text-field": NAME,
            "text-font": [FONT_REGULAR],
            "text-size": 11,
            "text-letter-spacing": 0.1,
        },
        "paint": {"text-color": "#4a7896", **HALO},
    },
)

BUILDINGS_STYLE = (
    {
        "id": "fill",
        "type": "fill",
        "metadata": _band("buildings"),
        "paint": {
            "fill-color": "#d9d0c9",
            "fill-outline-color": "#c4b6ab",
            "fill-opacity": _by_zoom({13: 0.4, 15: 1.0}),
        },
    },
)

# Road classes in groups that share a width and colour, major first.
_ROAD_GROUPS = {
    "motorway": ("motorway", "trunk"),
    "motorway_link": ("motorway_link", "trunk_link"),
    "primary": ("primary", "primary_link"),
    "secondary": ("secondary", "secondary_link"),
    "tertiary": ("tertiary", "tertiary_link"),
    "minor": ("unclassified", "residential", "living_street", "road", "busway", "pedestrian"),
    "service": ("service",),
}
_CAR_ROADS = [c for classes in _ROAD_GROUPS.values() for c in classes]
_PATHS = ["footway", "path", "cycleway", "steps", "bridleway"]
_PATH_COLORS = {"cycleway": "#3e6bd6", "bridleway": "#4a9b4a"}

# Width of a road's fill in pixels at each zoom; wider for the classes that carry more traffic.
_ROAD_WIDTHS = {
    5: {"motorway": 0.8},
    8: {"motorway": 1.5, "motorway_link": 0.8, "primary": 1.2},
    10: {"motorway": 2.5, "motorway_link": 1.2, "primary": 2.0, "secondary": 1.5, "tertiary": 1.0},
    12: {
        **{"motorway": 4.0, "motorway_link": 2.0, "primary": 3.5, "secondary": 3.0},
        **{"tertiary": 2.5, "minor": 1.5, "service": 0.8},
    },
    14: {
        **{"motorway": 7.0, "motorway_link": 3.5, "primary": 6.0, "secondary": 5.5},
        **{"tertiary": 5.0, "minor": 3.5, "service": 2.0},
    },
    17: {
        **{"motorway": 18.0, "motorway_link": 9.0, "primary": 16.0, "secondary": 15.0},
        **{"tertiary": 14.0, "minor": 10.0, "service": 5.0},
    },
}
_ROAD_COLORS = {
    "motorway": ("#e892a2", "#c24e6b"),
    "motorway_link": ("#e892a2", "#c24e6b"),
    "primary": ("#fcd6a4", "#a06b00"),
    "secondary": ("#f7fabf", "#707d05"),
    "tertiary": ("#ffffff", "#8f8f8f"),
    "minor": ("#ffffff", "#bbbbbb"),
    "service": ("#ffffff", "#bbbbbb"),
}


def _per_class(per_group: dict[str, object], default: object) -> list:
    values = {c: v for group, v in per_group.items() for c in _ROAD_GROUPS[group]}
    return _match("class", values, default)


def _road_width(extra: float) -> list:
    """Fill width by class and zoom, plus ``extra`` pixels (the casing shows that much)."""
    stops = {
        zoom: _per_class({g: w + extra for g, w in widths.items()}, 0.5 + extra)
        for zoom, widths in _ROAD_WIDTHS.items()
    }
    return _by_zoom(stops, base=1.5)


_IS_CAR_ROAD = ["in", ["get", "class"], ["literal", _CAR_ROADS]]
_TUNNEL_OPACITY = ["case", ["==", ["get", "tunnel"], True], 0.5, 1.0]

ROADS_STYLE = (
    {
        "id": "casing",
        "type": "line",
        "metadata": _band("transport"),
        "minzoom": 11,
        "filter": _IS_CAR_ROAD,
        "layout": {"line-cap": "round", "line-join": "round"},
        "paint": {
            "line-color": _per_class({g: c[1] for g, c in _ROAD_COLORS.items()}, "#bbbbbb"),
            "line-width": _road_width(extra=1.5),
            "line-opacity": _TUNNEL_OPACITY,
        },
    },
    {
        "id": "track",
        "type": "line",
        "metadata": _band("transport"),
        "minzoom": 13,
        "filter": ["==", ["get", "class"], "track"],
        "paint": {
            "line-color": "#a87d3c",
            "line-width": _by_zoom({13: 0.8, 17: 2.0}),
            "line-dasharray": [3, 1.5],
        },
    },
    {
        "id": "path",
        "type": "line",
        "metadata": _band("transport"),
        "minzoom": 14,
        "filter": ["in", ["get", "class"], ["literal", _PATHS]],
        "paint": {
            "line-color": _match("class", _PATH_COLORS, "#e06d5f"),
            "line-width": _by_zoom({14: 0.8, 17: 2.0}),
            "line-dasharray": [2, 1],
        },
    },
    {
        "id": "fill",
        "type": "line",
        "metadata": _band("transport"),
        "filter": _IS_CAR_ROAD,
        "layout": {"line-cap": "round", "line-join": "round"},
        "paint": {
            "line-color": _per_class({g: c[0] for g, c in _ROAD_COLORS.items()}, "#ffffff"),
            "line-width": _road_width(extra=0.0),
            "line-opacity": _TUNNEL_OPACITY,
        },
    },
    {
        "id": "label",
        "type": "symbol",
        "metadata": _band("labels"),
        "minzoom": 13,
        "filter": ["all", _IS_CAR_ROAD, ["any", HAS_NAME, ["has", "ref"]]],
        "layout": {
            "symbol-placement": "line",
            "text-field": ["coalesce", ["get", "name_zh"], ["get", "name"], ["get", "ref"]],
            "text-font": [FONT_REGULAR],
            "text-size": _by_zoom({13: 10, 17: 14}),
            "text-max-angle": 30,
            "symbol-spacing": 300,
        },
        "paint": {"text-color": "#333333", **HALO},
    },
)

_BOUNDARY = {"line-join": "round"}

ADMIN_AREAS_STYLE = (
    {
        "id": "boundary-township",
        "type": "line",
        "metadata": _band("boundaries"),
        "minzoom": 9,
        "filter": ["in", ["get", "level"], ["literal", ["township", "community"]]],
        "layout": _BOUNDARY,
        "paint": {
            "line-color": "#9e71a8",
            "line-width": _by_zoom({9: 0.6, 16: 1.5}),
            "line-dasharray": [3, 2],
            "line-opacity": 0.7,
        },
    },
    {
        "id": "boundary-district",
        "type": "line",
        "metadata": _band("boundaries"),
        "filter": ["==", ["get", "level"], "district"],
        "layout": _BOUNDARY,
        "paint": {
            "line-color": "#9e71a8",
            "line-width": _by_zoom({6: 0.8, 16: 2.5}),
            "line-dasharray": [6, 2, 1, 2],
        },
    },
    {
        "id": "boundary-city",
        "type": "line",
        "metadata": _band("boundaries"),
        "filter": ["==", ["get", "level"], "city"],
        "layout": _BOUNDARY,
        "paint": {"line-color": "#8c5a97", "line-width": _by_zoom({0: 1.0, 16: 4.0})},
    },
)

_PLACE_SIZES = {
    "city": 20,
    "town": 16,
    "village": 14,
    "suburb": 14,
    "borough": 14,
    "quarter": 13,
    "hamlet": 12,
    "neighbourhood": 12,
}
_SETTLEMENT = ["==", ["get", "class"], "place"]
_CITY_TYPES = ["literal", ["city", "town"]]

PLACES_STYLE = (
    {
        "id": "natural",
        "type": "symbol",
        "metadata": _band("labels"),
        "minzoom": 12,
        "filter": ["all", ["!", _SETTLEMENT], HAS_NAME],
        "layout": {
            "text-field": NAME,
            "text-font": [FONT_REGULAR],
            "text-size": 11,
            "text-max-width": 8,
            "symbol-sort-key": ["coalesce", ["get", "rank"], 99],
        },
        "paint": {"text-color": "#7a5c2e", **HALO},
    },
    {
        "id": "settlement",
        "type": "symbol",
        "metadata": _band("labels"),
        "filter": ["all", _SETTLEMENT, HAS_NAME, ["!", ["in", ["get", "type"], _CITY_TYPES]]],
        "layout": {
            "text-field": NAME,
            "text-font": [FONT_REGULAR],
            "text-size": _by_zoom(
                {9: _match("type", _PLACE_SIZES, 11), 16: _match("type", _PLACE_SIZES, 13)}
            ),
            "text-max-width": 8,
            "text-padding": 4,
            "symbol-sort-key": ["coalesce", ["get", "rank"], 99],
        },
        "paint": {"text-color": "#333333", **HALO},
    },
    {
        "id": "city",
        "type": "symbol",
        "metadata": _band("labels"),
        "filter": ["all", _SETTLEMENT, HAS_NAME, ["in", ["get", "type"], _CITY_TYPES]],
        "layout": {
            "text-field": NAME,
            "text-font": [FONT_BOLD],
            "text-size": _match("type", {"city": 20, "town": 16}, 14),
            "text-max-width": 8,
            "symbol-sort-key": ["coalesce", ["get", "rank"], 99],
        },
        "paint": {"text-color": "#1a1a1a", **HALO},
    },
)

_POI_COLORS = {
    "amenity": "#734a08",
    "shop": "#ac39ac",
    "tourism": "#0066a8",
    "leisure": "#0c7a3e",
    "historic": "#8b4513",
    "healthcare": "#bf0000",
    "emergency": "#bf0000",
}

POIS_STYLE = (
    {
        "id": "dot",
        "type": "circle",
        "metadata": _band("labels"),
        "minzoom": 15,
        "paint": {
            "circle-color": _match("category", _POI_COLORS, "#666666"),
            "circle-radius": _by_zoom({15: 2.0, 18: 4.0}),
            "circle-stroke-color": "#ffffff",
            "circle-stroke-width": 1,
        },
    },
    {
        "id": "label",
        "type": "symbol",
        "metadata": _band("labels"),
        "minzoom": 15,
        "filter": HAS_NAME,
        "layout": {
            "text-field": NAME,
            "text-font": [FONT_REGULAR],
            "text-size": 11,
            "text-anchor": "top",
            "text-offset": [0, 0.5],
            "text-max-width": 8,
        },
        "paint": {"text-color": _match("category", _POI_COLORS, "#555555"), **HALO},
    },
)

ADDRESSES_STYLE = (
    {
        "id": "housenumber",
        "type": "symbol",
        "metadata": _band("detail_labels"),
        "minzoom": 17,
        "filter": ["has", "housenumber"],
        "layout": {
            "text-field": ["get", "housenumber"],
            "text-font": [FONT_REGULAR],
            "text-size": 10,
        },
        "paint": {"text-color": "#666666", **HALO},
    },
)
