"""The map page and the vendor files it loads; the landing route of the API hands browsers here."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, abort, render_template, send_from_directory

from geoplatform.cors import allow_any_origin
from geoplatform.site.maplibre import FILES, NODE_MODULES, find_maplibre
from geoplatform.site.sdk import make_sdk_blueprint
from geoplatform.site.studio import add_studio

VENDOR_MAX_AGE = 365 * 24 * 3600


def make_site_blueprint(node_modules: Path = NODE_MODULES) -> Blueprint:
    """The public map site; ``blueprint.map_page`` renders the page (the API's ``/`` calls it)."""
    maplibre = find_maplibre(node_modules)
    blueprint = Blueprint(
        "site",
        __name__,
        template_folder="templates",
        static_folder="static",
        static_url_path="/static/site",
    )

    @blueprint.app_context_processor
    def maplibre_context() -> dict:
        # Every map page of any blueprint links the MapLibre this site serves (_maplibre.html).
        return {"maplibre_version": maplibre.version()}

    def map_page() -> Response:
        problem = maplibre.problem()
        page = render_template("site/map.html", problem=problem)
        return Response(page, status=503 if problem else 200, mimetype="text/html")

    @blueprint.get("/static/vendor/maplibre-gl/<version>/<name>")
    def maplibre_file(version: str, name: str):
        """A file of MapLibre GL JS as npm installed it."""
        if name not in FILES or version != maplibre.version():
            abort(404)
        response = send_from_directory(maplibre.dist, name, max_age=VENDOR_MAX_AGE)
        # Pages of other origins import it through /sdk.js; its worker is fetched the same way.
        return allow_any_origin(response)

    blueprint.register_blueprint(make_sdk_blueprint(maplibre))
    add_studio(blueprint)
    blueprint.map_page = map_page
    return blueprint
