"""The embed SDK: ``/sdk.js`` for department pages on any origin, and an example page using it.

A department page loads ``/sdk.js`` as an ES module from the platform; the module finds the
platform from its own URL (``import.meta.url``) and imports MapLibre GL JS from the vendor route,
so every style, tile, glyph and script answers cross-origin GETs (``Access-Control-Allow-Origin:
*``). The script names the installed MapLibre version, written in when it is served.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, abort, current_app, render_template, url_for

from geoplatform.cors import allow_any_origin
from geoplatform.features.openapi import operation
from geoplatform.site.maplibre import MapLibreDist

SDK_SOURCE = Path(__file__).resolve().parent / "static" / "sdk.js"
# Where sdk.js holds the version of MapLibre it imports; replaced when the script is served.
VERSION_PLACEHOLDER = "__MAPLIBRE_VERSION__"
# The URL carries no version, so embedding pages see a new SDK within minutes.
SDK_MAX_AGE = 300
# The saved-map example uses the first map this route lists, when the platform serves one.
SAVED_MAPS_RULE = "/maps"


def make_sdk_blueprint(maplibre: MapLibreDist) -> Blueprint:
    blueprint = Blueprint("sdk", __name__, template_folder="templates")

    @blueprint.get("/sdk.js")
    @operation(
        summary="The embed SDK (ES module)",
        description="`import { map } from '<platform>/sdk.js'` or `<script type=\"module\">`; "
        "also sets `window.geoplatform`. `map(element, options)` with `map` (a saved map's "
        "slug) or `layers` (layer ids), and `center`, `zoom`, `apiKey`, `lang`, resolves to "
        "the MapLibre map once it has loaded. "
        "Cross-origin pages may load it (CORS). See /examples/embed.html.",
        responses={
            "200": {
                "description": "the SDK",
                "content": {"text/javascript": {"schema": {"type": "string"}}},
            },
            "503": {"description": "MapLibre GL JS is not installed (`make node`)"},
        },
        tags=["sdk"],
    )
    def sdk_script() -> Response:
        version = _installed_version(maplibre)
        script = SDK_SOURCE.read_text(encoding="utf-8").replace(VERSION_PLACEHOLDER, version)
        response = Response(script, mimetype="text/javascript")
        response.headers["Cache-Control"] = f"public, max-age={SDK_MAX_AGE}"
        return allow_any_origin(response)

    @blueprint.get("/examples/embed.html")
    @operation(
        summary="Example page of the embed SDK",
        description="Two maps embedded with /sdk.js (listed layers; a saved map when one "
        "exists) and the snippet to copy.",
        responses={
            "200": {"description": "the page", "content": {"text/html": {}}},
            "503": {"description": "MapLibre GL JS is not installed (`make node`)"},
        },
        tags=["sdk"],
    )
    def embed_example() -> Response:
        _installed_version(maplibre)
        page = render_template(
            "site/embed.html",
            sdk_url=url_for("site.sdk.sdk_script", _external=True),
            saved_maps_url=SAVED_MAPS_RULE if _serves(SAVED_MAPS_RULE) else None,
        )
        return Response(page, mimetype="text/html")

    return blueprint


def _installed_version(maplibre: MapLibreDist) -> str:
    problem = maplibre.problem()
    version = maplibre.version()
    if problem or not version:
        abort(503, description=problem)
    return version


def _serves(rule: str) -> bool:
    """Whether the app answers GET at ``rule`` (saved maps are a module of their own)."""
    return any(
        r.rule == rule and "GET" in (r.methods or ()) for r in current_app.url_map.iter_rules()
    )
