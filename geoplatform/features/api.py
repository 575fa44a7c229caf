"""OGC API Features, the read side: landing page, conformance, items, one item, queryables.

Each endpoint reads top to bottom: parse the query (``params``), pass the one permission gate
(``readable_layer``), run one statement (``query.FeatureStore``), send the bytes PostgreSQL wrote.
Part 1 (core, GeoJSON, OpenAPI 3.0), Part 2 (``crs``, ``bbox-crs``, ``Content-Crs``) and Part 3
(``filter`` in CQL2 text or JSON, queryables, queryables as query parameters).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlencode

from flask import Blueprint, Response, jsonify, request

from geoplatform.auth import Principal, readable_layer
from geoplatform.crs import CRS84_URI
from geoplatform.errors import NotFound
from geoplatform.features import openapi
from geoplatform.features.cql import CQL2_TEXT, FILTER_LANGUAGES
from geoplatform.features.crs import EPSG_URI, STORAGE_CRS_URI, Crs, CrsResolver
from geoplatform.features.etag import format_etag
from geoplatform.features.openapi import format_parameter, operation
from geoplatform.features.params import (
    ItemsQuery,
    Limits,
    parse_feature_id,
    parse_item_query,
    parse_items_query,
    queryable_properties,
)
from geoplatform.features.query import FeatureStore, Page, with_member
from geoplatform.registry import JSON_SCHEMA_TYPES, Layer, Registry
from geoplatform.workload import heavy

GEOJSON = "application/geo+json"
SCHEMA_JSON = "application/schema+json"
TITLE = "城市时空信息平台 City spatial platform"

_FEATURES_1 = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/"
_FEATURES_2 = "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/"
_FEATURES_3 = "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/"
_FEATURES_4 = "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/"
_CQL2 = "http://www.opengis.net/spec/cql2/1.0/conf/"
CONFORMANCE = [
    _FEATURES_1 + "core",
    _FEATURES_1 + "geojson",
    _FEATURES_1 + "oas30",
    _FEATURES_2 + "crs",
    _FEATURES_3 + "filter",
    _FEATURES_3 + "features-filter",
    _FEATURES_3 + "queryables",
    _FEATURES_3 + "queryables-query-parameters",
    _CQL2 + "cql2-text",
    _CQL2 + "cql2-json",
    _CQL2 + "basic-cql2",
    _CQL2 + "advanced-comparison-operators",
    _CQL2 + "case-insensitive-comparison",
    _CQL2 + "property-property",
    # CQL2 1.0 names the spatial classes "functions"; drafts (and clients built on them) say
    # "operators". Both name the same requirements, so both are declared.
    _CQL2 + "basic-spatial-functions",
    _CQL2 + "basic-spatial-functions-plus",
    _CQL2 + "spatial-functions",
    _CQL2 + "basic-spatial-operators",
    _CQL2 + "spatial-operators",
    # Part 4 is served by the edit blueprint on the same item URLs.
    _FEATURES_4 + "create-replace-delete",
    _FEATURES_4 + "update",
]


def make_features_blueprint(
    platform,
    principal: Callable[[], Principal],
    landing_page: Callable[[], Response] | None = None,
) -> Blueprint:
    """The read side of OGC API Features; ``landing_page`` answers ``/`` for clients that prefer
    HTML (browsers, ``?f=html``), everyone else gets the landing document as JSON."""
    settings = platform.settings
    registry: Registry = platform.registry
    store = FeatureStore(platform.read_pool("geoplatform-features"))
    crs = CrsResolver(lambda: store.projected_srid() or settings.projected_srid)
    limits = Limits(settings.features_default_limit, settings.features_max_limit)
    blueprint = Blueprint("features", __name__)
    blueprint.feature_store = store
    blueprint.openapi_components = openapi_components(limits)

    @blueprint.get("/")
    @operation(summary="Landing page", tags=["capabilities"], responses=_landing_responses())
    def landing():
        if landing_page and openapi.negotiate(["application/json", "text/html"]) == "text/html":
            return landing_page()
        base = request.host_url
        return jsonify(
            title=TITLE,
            description="城市共享基础地理数据库与专题图层的要素、瓦片与样式服务。"
            "Features, tiles and styles of the city's shared base geodatabase and thematic "
            "layers.",
            links=[
                _link("self", "application/json", base, "this document"),
                _link("service-desc", openapi.OPENAPI_TYPE, f"{base}api", "the API definition"),
                _link("service-doc", "text/html", f"{base}api.html", "the API documentation"),
                _link("conformance", "application/json", f"{base}conformance", "conformance"),
                _link("data", "application/json", f"{base}collections", "collections"),
            ],
        )

    # The services' and modules' classes after the core's: each API area declares its own.
    conformance_classes = [
        *CONFORMANCE,
        *(c for part in (*platform.services, *platform.modules) for c in part.conformance),
    ]

    @blueprint.get("/conformance")
    @operation(
        summary="Conformance classes implemented",
        tags=["capabilities"],
        responses=_json_response("conformsTo"),
    )
    def conformance():
        return jsonify(conformsTo=conformance_classes)

    @blueprint.get("/collections/<layer_id>/items")
    @heavy(when=_large_page)
    @operation(
        summary="Features of a collection",
        description="A page of features as a GeoJSON FeatureCollection, with next/prev links.",
        tags=["features"],
        parameters=_items_parameters(),
        responses=_geojson_responses("FeatureCollection"),
    )
    def items(layer_id: str):
        layer = readable_layer(registry, principal(), layer_id)
        query = parse_items_query(request.args.to_dict(flat=False), layer, limits, crs)
        page = store.page(layer, query)
        body = feature_collection(page, _items_links(layer, query, page))
        return _geojson(body, query.crs)

    @blueprint.get("/collections/<layer_id>/items/<feature_id>")
    @operation(
        summary="One feature",
        description="The feature as GeoJSON, with its ETag (If-Match of edits names it).",
        tags=["features"],
        parameters=[
            {"$ref": "#/components/parameters/collectionId"},
            {
                "name": "feature_id",
                "in": "path",
                "required": True,
                "description": "The feature's integer id.",
                "schema": {"type": "string", "pattern": "^-?[0-9]+$"},
            },
            {"$ref": "#/components/parameters/crs"},
            format_parameter(("json", "geojson")),
        ],
        responses=_geojson_responses("Feature"),
    )
    def item(layer_id: str, feature_id: str):
        layer = readable_layer(registry, principal(), layer_id)
        output = parse_item_query(request.args.to_dict(flat=False), crs)
        found = store.feature(layer, parse_feature_id(feature_id, layer), output)
        if found is None:
            raise NotFound(f"no feature {feature_id} in collection {layer.id}")
        links = json.dumps(_item_links(layer), ensure_ascii=False)
        body = with_member(found.geojson, "links", links)
        response = _geojson(body, output)
        response.headers["ETag"] = format_etag(found.etag)
        return response

    @blueprint.get("/collections/<layer_id>/queryables")
    @operation(
        summary="Properties a filter may name",
        tags=["features"],
        parameters=[{"$ref": "#/components/parameters/collectionId"}],
        responses={
            "200": {"description": "A JSON Schema", "content": {SCHEMA_JSON: {}}},
            "404": {"$ref": "#/components/responses/NotFound"},
        },
    )
    def queryables(layer_id: str):
        layer = readable_layer(registry, principal(), layer_id)
        schema = queryables_schema(layer, f"{request.host_url}collections/{layer.id}/queryables")
        return Response(json.dumps(schema, ensure_ascii=False), mimetype=SCHEMA_JSON)

    return blueprint


def feature_collection(page: Page, links: list[dict]) -> str:
    head = {
        "type": "FeatureCollection",
        "numberMatched": page.matched,
        "numberReturned": page.returned,
        "timeStamp": _rfc3339(page.timestamp),
        "links": links,
    }
    return with_member(json.dumps(head, ensure_ascii=False), "features", page.features)


def queryables_schema(layer: Layer, schema_id: str) -> dict:
    """JSON Schema 2020-12 of what a filter may name (OGC API Features Part 3, 6.2)."""
    properties: dict[str, dict] = {
        "geometry": {
            "title": "几何 Geometry",
            "format": f"geometry-{layer.geometry_type.lower()}",
            "x-ogc-role": "primary-geometry",
        }
    }
    for prop in queryable_properties(layer):
        properties[prop.name] = {"title": prop.title or prop.name, **JSON_SCHEMA_TYPES[prop.type]}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": schema_id,
        "type": "object",
        "title": f"{layer.title_zh} {layer.title_en}",
        "properties": properties,
        "additionalProperties": False,
    }


def _geojson(body: str, crs: Crs) -> Response:
    response = Response(body, mimetype=GEOJSON)
    response.headers["Content-Crs"] = f"<{crs.uri}>"
    return response


def _items_links(layer: Layer, query: ItemsQuery, page: Page) -> list[dict]:
    base = f"{request.host_url}collections/{layer.id}"
    links = [
        _link("self", GEOJSON, request.url, "this page"),
        _link("collection", "application/json", base, layer.title_zh),
    ]
    if query.offset + page.returned < page.matched:
        links.append(_link("next", GEOJSON, _page_url(query.offset + page.returned), "next page"))
    if query.offset > 0:
        links.append(_link("prev", GEOJSON, _page_url(max(query.offset - query.limit, 0)), "prev"))
    return links


def _page_url(offset: int) -> str:
    """This request's URL with another offset; every other parameter kept as it came."""
    kept = [(k, v) for k, values in request.args.lists() if k != "offset" for v in values]
    return f"{request.base_url}?{urlencode([*kept, ('offset', offset)])}"


def _item_links(layer: Layer) -> list[dict]:
    base = f"{request.host_url}collections/{layer.id}"
    return [
        _link("self", GEOJSON, request.url, "this feature"),
        _link("collection", "application/json", base, layer.title_zh),
    ]


def _link(rel: str, media_type: str, href: str, title: str) -> dict:
    return {"rel": rel, "type": media_type, "title": title, "href": href}


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _json_response(member: str) -> dict:
    return {
        "200": {
            "description": f"A JSON document with {member}",
            "content": {"application/json": {}},
        }
    }


def _landing_responses() -> dict:
    responses = _json_response("links")
    responses["200"]["content"]["text/html"] = {}
    responses["200"]["description"] += "; browsers (Accept: text/html) get the map site"
    return responses


def _geojson_responses(kind: str) -> dict:
    return {
        "200": {
            "description": f"A GeoJSON {kind}; Content-Crs names its CRS",
            "headers": {
                "Content-Crs": {"schema": {"type": "string"}, "description": "<CRS URI>"},
                **({"ETag": {"schema": {"type": "string"}}} if kind == "Feature" else {}),
            },
            "content": {GEOJSON: {"schema": {"$ref": f"#/components/schemas/{kind}"}}},
        },
        "400": {"$ref": "#/components/responses/InvalidParameter"},
        "404": {"$ref": "#/components/responses/NotFound"},
    }


def _items_parameters() -> list[dict]:
    names = ["collectionId", "limit", "offset", "bbox", "bbox-crs", "crs", "datetime"]
    names += ["properties", "sortby", "filter", "filter-lang", "filter-crs"]
    return [{"$ref": f"#/components/parameters/{name}"} for name in names] + [
        format_parameter(("json", "geojson"))
    ]


def openapi_components(limits: Limits) -> dict:
    """Parameters and schemas the feature operations refer to with ``$ref``."""
    crs_text = (
        f"CRS URI: {CRS84_URI} (default), {STORAGE_CRS_URI} (latitude, longitude), "
        f"{EPSG_URI.format(3857)}, or the city's projected CRS (a collection's crs lists them)"
    )

    def query(name: str, description: str, schema: dict, **extra) -> dict:
        return {
            "name": name,
            "in": "query",
            "required": False,
            "description": description,
            "schema": schema,
            **extra,
        }

    parameters = {
        "collectionId": {
            "name": "layer_id",
            "in": "path",
            "required": True,
            "description": "Collection (layer) id, e.g. base.roads.",
            "schema": {"type": "string", "pattern": "^[^/]+$"},
        },
        "limit": query(
            "limit",
            f"Features per page; more than {limits.maximum} is refused.",
            {"type": "integer", "minimum": 1, "maximum": limits.maximum, "default": limits.default},
        ),
        "offset": query(
            "offset",
            "Features to skip (next/prev links carry it).",
            {"type": "integer", "minimum": 0, "maximum": 2**63 - 1, "default": 0},
        ),
        "bbox": query(
            "bbox",
            "minx,miny,maxx,maxy (or 6 numbers with heights) in bbox-crs, in its axis order; "
            "features whose geometry intersects it.",
            {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
            style="form",
            explode=False,
        ),
        "bbox-crs": query("bbox-crs", crs_text, {"type": "string", "format": "uri"}),
        "crs": query("crs", crs_text, {"type": "string", "format": "uri"}),
        "datetime": query(
            "datetime",
            "RFC 3339 instant or interval start/end (.. for open), on collections with a "
            "temporal property.",
            {"type": "string"},
        ),
        "properties": query(
            "properties",
            "Comma-separated property names to return (default all).",
            {"type": "array", "items": {"type": "string"}},
            style="form",
            explode=False,
        ),
        "sortby": query(
            "sortby",
            "Comma-separated property names, each with + (ascending) or - (descending).",
            {"type": "array", "items": {"type": "string"}},
            style="form",
            explode=False,
        ),
        "filter": query("filter", "A CQL2 expression over the queryables.", {"type": "string"}),
        "filter-lang": query(
            "filter-lang",
            "Language of filter.",
            {"type": "string", "enum": list(FILTER_LANGUAGES), "default": CQL2_TEXT},
        ),
        "filter-crs": query("filter-crs", crs_text, {"type": "string", "format": "uri"}),
    }
    feature = {
        "type": "object",
        "required": ["type", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"type": "integer"},
            "geometry": {"type": "object", "nullable": True},
            "properties": {"type": "object", "nullable": True},
            "links": {"type": "array", "items": {"$ref": "#/components/schemas/Link"}},
        },
    }
    collection = {
        "type": "object",
        "required": ["type", "features"],
        "properties": {
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "features": {"type": "array", "items": {"$ref": "#/components/schemas/Feature"}},
            "links": {"type": "array", "items": {"$ref": "#/components/schemas/Link"}},
            "numberMatched": {"type": "integer", "minimum": 0},
            "numberReturned": {"type": "integer", "minimum": 0},
            "timeStamp": {"type": "string", "format": "date-time"},
        },
    }
    return {
        "parameters": parameters,
        "schemas": {"Feature": feature, "FeatureCollection": collection},
    }


# A page of more features than this is heavy work (geoplatform.workload): 10,000 buildings are
# megabytes of GeoJSON built and sent while a thread waits.
LARGE_PAGE = 1000


def _large_page() -> bool:
    limit = request.args.get("limit", "")
    return limit.isdigit() and int(limit) > LARGE_PAGE
