"""``GET /search`` and ``GET /reverse``: the gazetteer over the layers the caller may read.

Each endpoint reads top to bottom: parse (``params``), pass the one permission gate
(``readable_layers``: a layer the caller may not read takes no part, so nothing of it can show),
query (``query.search``, ``reverse.reverse_geocode``), serialise. Answers vary with the caller's
key, and are private when they draw on any layer that is not public.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from flask import Blueprint, Response, jsonify, request

from geoplatform.auth import Principal, readable_layers
from geoplatform.features.openapi import operation
from geoplatform.registry import Layer, Registry
from geoplatform.search.params import parse_reverse, parse_search
from geoplatform.search.query import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    MAX_QUERY_LENGTH,
    SESSION,
    Hit,
    search,
)
from geoplatform.search.reverse import NEAREST_WITHIN_M, Found, Location, reverse_geocode

GEOJSON = "application/geo+json"
# Short: an edit shows in search within this many seconds even through a browser's cache.
MAX_AGE = 60


def make_search_blueprint(platform, principal: Callable[[], Principal]) -> Blueprint:
    registry: Registry = platform.registry
    pool = platform.read_pool("geoplatform-search", SESSION)
    blueprint = Blueprint("search", __name__)

    @blueprint.get("/search")
    @operation(**SEARCH_OPERATION)
    def search_names():
        query = parse_search(request.args.to_dict(flat=False))
        layers = readable_layers(registry, principal())
        hits = search(pool, layers, query)
        body = {
            "type": "FeatureCollection",
            "numberReturned": len(hits),
            "features": [hit_feature(hit, request.host_url) for hit in hits],
        }
        return _respond(jsonify(body), layers, GEOJSON)

    @blueprint.get("/reverse")
    @operation(**REVERSE_OPERATION)
    def reverse():
        lon, lat = parse_reverse(request.args.to_dict(flat=False))
        layers = readable_layers(registry, principal())
        location = reverse_geocode(pool, layers, lon, lat)
        return _respond(jsonify(location_document(location)), layers, "application/json")

    return blueprint


def hit_feature(hit: Hit, base_url: str) -> dict:
    properties = {
        "layer": hit.layer.id,
        "layer_title": layer_title(hit.layer),
        "type": hit.type,
        "name": hit.name,
        "label": hit.label,
        "matched": hit.matched,
        "matched_text": hit.matched_text,
        "score": hit.score,
    }
    if hit.distance_m is not None:
        properties["distance_m"] = hit.distance_m
    return {
        "type": "Feature",
        "id": hit.fid,
        "geometry": hit.point,
        "properties": properties,
        "links": [_item_link(hit.layer, hit.fid, base_url)],
    }


def location_document(location: Location) -> dict:
    return {
        "lon": location.lon,
        "lat": location.lat,
        "admin_areas": [found_document(found) for found in location.admin_areas],
        "address": _optional(location.address),
        "road": _optional(location.road),
        "grid": _optional(location.grid),
    }


def found_document(found: Found) -> dict:
    document = {
        "layer": found.layer.id,
        "layer_title": layer_title(found.layer),
        "id": found.fid,
        "name": found.name,
        "type": found.type,
    }
    if found.distance_m is not None:
        document["distance_m"] = found.distance_m
        document["nearest_point"] = found.point
    return document


def layer_title(layer: Layer) -> str:
    return f"{layer.title_zh} {layer.title_en}"


def _optional(found: Found | None) -> dict | None:
    return None if found is None else found_document(found)


def _item_link(layer: Layer, fid: int | str, base_url: str) -> dict:
    return {
        "rel": "item",
        "type": GEOJSON,
        "href": f"{base_url}collections/{layer.id}/items/{fid}",
        "title": layer_title(layer),
    }


def _respond(response: Response, layers: Sequence[Layer], mimetype: str) -> Response:
    response.mimetype = mimetype
    scope = "public" if all(layer.is_public for layer in layers) else "private"
    response.headers["Cache-Control"] = f"{scope}, max-age={MAX_AGE}"
    response.headers["Vary"] = "Authorization, X-API-Key"
    return response


def _query_parameter(name: str, description: str, schema: dict, required: bool = False) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": schema,
    }


_NEAR_OR_BBOX_STYLE = {"style": "form", "explode": False}
_EXCEPTION = {"$ref": "#/components/responses/InvalidParameter"}

SEARCH_OPERATION = {
    "summary": "Search place names, streets, POIs and addresses",
    "description": "The layers' searchable names the caller may read, matched as typed, by "
    "prefix, by word, as a substring and with typos, accents and ß/ss folded; ranked by match "
    "quality, the layer's rank and the distance to `near`. Streets cut into segments come "
    "once per municipality. Each feature's point lies on the feature (CRS84).",
    "tags": ["search"],
    "parameters": [
        _query_parameter(
            "q",
            f"The text to search for, at most {MAX_QUERY_LENGTH} characters.",
            {"type": "string", "minLength": 1, "maxLength": MAX_QUERY_LENGTH},
            required=True,
        ),
        _query_parameter(
            "limit",
            "Most results to return.",
            {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
        ),
        {
            **_query_parameter(
                "bbox",
                "Only results intersecting west,south,east,north (CRS84 degrees).",
                {"type": "array", "minItems": 4, "maxItems": 4, "items": {"type": "number"}},
            ),
            **_NEAR_OR_BBOX_STYLE,
        },
        {
            **_query_parameter(
                "near",
                "lon,lat (CRS84 degrees): nearer results rank higher; each gets distance_m.",
                {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "number"}},
            ),
            **_NEAR_OR_BBOX_STYLE,
        },
    ],
    "responses": {
        "200": {
            "description": "A GeoJSON FeatureCollection, best match first; properties layer, "
            "layer_title, type, name, label (name and the smallest area around it), matched "
            "(the column), matched_text, score (0..1) and, with near, distance_m.",
            "content": {GEOJSON: {"schema": {"type": "object"}}},
        },
        "400": _EXCEPTION,
    },
}

REVERSE_OPERATION = {
    "summary": "What lies at a point",
    "description": "The administrative areas containing the point, largest first; the "
    f"nearest named address and road within {NEAREST_WITHIN_M:g} m, with their distance in "
    "metres and the point of them nearest to it (null when none is that near, e.g. outside "
    "the city); the unit grid cell containing it where a grid layer is readable (else null).",
    "tags": ["search"],
    "parameters": [
        _query_parameter(
            "lon",
            "Longitude, CRS84 degrees.",
            {"type": "number", "minimum": -180, "maximum": 180},
            required=True,
        ),
        _query_parameter(
            "lat",
            "Latitude, CRS84 degrees.",
            {"type": "number", "minimum": -90, "maximum": 90},
            required=True,
        ),
    ],
    "responses": {
        "200": {
            "description": "lon, lat, admin_areas, address, road, grid.",
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
        "400": _EXCEPTION,
    },
}
