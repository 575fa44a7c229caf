"""Tile endpoints: XYZ vector tiles, TileJSON, and OGC API Tiles over the same tiles."""

from __future__ import annotations

import morecantile
from flask import Blueprint, Response, current_app, jsonify, request

from geoplatform.auth import current_principal, readable_layer
from geoplatform.cors import open_blueprint
from geoplatform.errors import InvalidParameter
from geoplatform.layer_state import layer_states
from geoplatform.registry import JSON_SCHEMA_TYPES, Layer, Registry
from geoplatform.styles import MAX_LAYERS_PER_TILE
from tileserver.cache import TileCache
from tileserver.mvt import MAX_ZOOM, TileRangeError
from tileserver.replies import EXPOSED_HEADERS, MVT_TYPE, answer_tile
from tileserver.tilejson import tilejson_document
from tileserver.tiles import TILE_SESSION, TileService

WEB_MERCATOR_QUAD = "WebMercatorQuad"
TILESETS_VECTOR_REL = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"
TILING_SCHEME_REL = "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme"
WEB_MERCATOR_QUAD_URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"


def resolve_layers(registry: Registry, spec: str) -> tuple[Layer, ...]:
    """Layers named in a path (comma-separated), each readable by the caller, in order.

    A layer the caller may not read answers exactly like an unknown one (404), so a composite
    is refused as a whole without revealing which layers exist.
    """
    ids = [part.strip() for part in spec.split(",")]
    if not all(ids):
        raise InvalidParameter(f"malformed layer list {spec!r}: empty layer id")
    if len(ids) > MAX_LAYERS_PER_TILE:
        raise InvalidParameter(f"at most {MAX_LAYERS_PER_TILE} layers per tile, got {len(ids)}")
    principal = current_principal()
    unique = list(dict.fromkeys(ids))
    return tuple(readable_layer(registry, principal, layer_id) for layer_id in unique)


def parse_tile(z: str, x: str, y: str) -> tuple[int, int, int]:
    try:
        return int(z), int(x), int(y)
    except ValueError:
        raise InvalidParameter(
            f"tile {z}/{x}/{y}: z, x and y must be integers (z 0..{MAX_ZOOM})"
        ) from None


def tile_response(service: TileService, layers: tuple[Layer, ...], z, x, y, max_age: int):
    try:
        reply = answer_tile(
            service,
            layers,
            z,
            x,
            y,
            if_none_match=request.headers.get("If-None-Match"),
            accept_encoding=request.headers.get("Accept-Encoding"),
            max_age=max_age,
        )
    except TileRangeError as exc:
        raise InvalidParameter(str(exc)) from None
    response = Response(reply.body, status=reply.status, headers=reply.headers)
    if "Content-Type" not in reply.headers:
        del response.headers["Content-Type"]  # Werkzeug's default text/html, on a 204 or 304
    return response


def collection_tile_links(layer: Layer, base_url: str) -> list[dict]:
    return [
        {
            "rel": TILESETS_VECTOR_REL,
            "type": "application/json",
            "title": "Vector tilesets",
            "href": f"{base_url}collections/{layer.id}/tiles",
        }
    ]


def make_tiles_blueprint(platform) -> Blueprint:
    settings = platform.settings
    cache = TileCache(
        settings.redis_url, settings.tile_cache_mb * 1024 * 1024, settings.tile_cache_ttl
    )
    reads = platform.read_pool("geoplatform-tiles", TILE_SESSION)
    service = TileService(platform.engine, cache, reads, platform.notifications)
    registry = platform.registry
    tms = morecantile.tms.get(WEB_MERCATOR_QUAD)
    blueprint = Blueprint("tiles", __name__)
    blueprint.tile_service = service
    platform.on_close(service.close)

    open_blueprint(blueprint, expose=EXPOSED_HEADERS)

    @blueprint.get("/tiles/<layers>/<z>/<x>/<y>.mvt")
    def xyz_tile(layers: str, z: str, x: str, y: str):
        chosen = resolve_layers(registry, layers)
        return tile_response(service, chosen, *parse_tile(z, x, y), settings.tile_max_age)

    @blueprint.get("/tiles/<layers>.json")
    def tilejson(layers: str):
        chosen = resolve_layers(registry, layers)
        with platform.engine.connect() as conn:
            states = layer_states(conn)
        return jsonify(tilejson_document(chosen, states, request.host_url))

    @blueprint.get("/collections/<layer_id>/tiles")
    def collection_tilesets(layer_id: str):
        layer = readable_layer(registry, current_principal(), layer_id)
        base = f"{request.host_url}collections/{layer.id}/tiles"
        return jsonify(
            links=[{"rel": "self", "type": "application/json", "href": base}],
            tilesets=[_tileset_summary(layer, base)],
        )

    @blueprint.get(f"/collections/<layer_id>/tiles/{WEB_MERCATOR_QUAD}")
    def collection_tileset(layer_id: str):
        layer = readable_layer(registry, current_principal(), layer_id)
        base = f"{request.host_url}collections/{layer.id}/tiles"
        document = _tileset_summary(layer, f"{base}")
        document["tileMatrixSetLimits"] = _limits(layer)
        document["layers"] = [
            {
                "id": layer.id,
                "title": layer.title_zh,
                "dataType": "vector",
                "geometryDimension": _dimension(layer),
                "minTileMatrix": str(layer.minzoom),
                "maxTileMatrix": str(layer.maxzoom),
                "propertiesSchema": {
                    "type": "object",
                    "properties": {p.name: JSON_SCHEMA_TYPES[p.type] for p in layer.properties},
                },
            }
        ]
        return jsonify(document)

    @blueprint.get(f"/collections/<layer_id>/tiles/{WEB_MERCATOR_QUAD}/<z>/<y>/<x>")
    def collection_tile(layer_id: str, z: str, y: str, x: str):
        layer = readable_layer(registry, current_principal(), layer_id)
        return tile_response(service, (layer,), *parse_tile(z, x, y), settings.tile_max_age)

    @blueprint.get("/tileMatrixSets")
    def tile_matrix_sets():
        href = f"{request.host_url}tileMatrixSets/{WEB_MERCATOR_QUAD}"
        return jsonify(
            tileMatrixSets=[
                {
                    "id": WEB_MERCATOR_QUAD,
                    "title": tms.title,
                    "uri": WEB_MERCATOR_QUAD_URI,
                    "links": [{"rel": "self", "type": "application/json", "href": href}],
                }
            ]
        )

    @blueprint.get(f"/tileMatrixSets/{WEB_MERCATOR_QUAD}")
    def tile_matrix_set():
        return current_app.response_class(
            tms.model_dump_json(exclude_none=True, by_alias=True), mimetype="application/json"
        )

    return blueprint


def _tileset_summary(layer: Layer, base: str) -> dict:
    tileset = f"{base}/{WEB_MERCATOR_QUAD}"
    return {
        "title": f"{layer.title_zh} {layer.title_en}",
        "dataType": "vector",
        "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
        "tileMatrixSetURI": WEB_MERCATOR_QUAD_URI,
        "links": [
            {"rel": "self", "type": "application/json", "href": tileset},
            {
                "rel": TILING_SCHEME_REL,
                "type": "application/json",
                "href": base.rsplit("/collections/", 1)[0] + f"/tileMatrixSets/{WEB_MERCATOR_QUAD}",
            },
            {
                "rel": "item",
                "type": MVT_TYPE,
                "templated": True,
                "href": f"{tileset}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}",
            },
        ],
    }


def _limits(layer: Layer) -> list[dict]:
    return [
        {
            "tileMatrix": str(z),
            "minTileRow": 0,
            "maxTileRow": 2**z - 1,
            "minTileCol": 0,
            "maxTileCol": 2**z - 1,
        }
        for z in range(layer.minzoom, layer.maxzoom + 1)
    ]


def _dimension(layer: Layer) -> int | None:
    return {"Point": 0, "MultiPoint": 0, "LineString": 1, "MultiLineString": 1}.get(
        layer.geometry_type, 2 if "Polygon" in layer.geometry_type else None
    )
