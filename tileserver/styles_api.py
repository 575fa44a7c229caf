"""Style and glyph endpoints: MapLibre styles of the caller's readable layers, SDF glyphs."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from geoplatform.auth import current_principal, readable_layer, readable_layers
from geoplatform.cors import open_blueprint
from geoplatform.registry import Layer
from geoplatform.styles import build_layer_style, build_style, style_layers
from tileserver.glyphs import GlyphStore, parse_range

PROTOBUF_TYPE = "application/x-protobuf"
BASE_STYLE_NAME = "城市底图 City base map"
STYLE_MAX_AGE = 60
# A range of a given font never changes once rendered.
GLYPHS_MAX_AGE = 7 * 24 * 3600


def make_styles_blueprint(platform, glyph_store: GlyphStore | None = None) -> Blueprint:
    registry = platform.registry
    glyphs = glyph_store or GlyphStore()
    # A malformed fragment should stop start-up, not the first request for a style.
    for layer in registry:
        style_layers(layer, layer.id)
    blueprint = Blueprint("styles", __name__)
    blueprint.glyph_store = glyphs

    open_blueprint(blueprint)

    @blueprint.get("/styles/base.json")
    def base_style():
        layers = readable_layers(registry, current_principal())
        return _style_response(build_style(layers, request.host_url, BASE_STYLE_NAME), layers)

    @blueprint.get("/styles/<layer_id>.json")
    def layer_style(layer_id: str):
        layer = readable_layer(registry, current_principal(), layer_id)
        return _style_response(build_layer_style(layer, request.host_url), [layer])

    @blueprint.get("/fonts/<fontstack>/<glyph_range>.pbf")
    def glyph_range(fontstack: str, glyph_range: str):
        start = parse_range(glyph_range)
        data = glyphs.glyph_range(fontstack, start)
        headers = {"Cache-Control": f"public, max-age={GLYPHS_MAX_AGE}"}
        return Response(data, mimetype=PROTOBUF_TYPE, headers=headers)

    return blueprint


def _style_response(style: dict, layers: list[Layer]) -> Response:
    response = jsonify(style)
    # The same URL gives a department more layers than the public; shared caches must not mix them.
    scope = "public" if all(layer.is_public for layer in layers) else "private"
    response.headers["Cache-Control"] = f"{scope}, max-age={STYLE_MAX_AGE}"
    response.headers["Vary"] = "Authorization, X-API-Key"
    return response
