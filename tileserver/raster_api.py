"""Raster tile endpoints: PNG/WEBP tiles of the COG layers, their TileJSON and a listing.

Tiles wholly outside a raster answer 204 No Content, like empty vector tiles, so map clients
draw nothing and do not log errors; unknown rasters and rasters the caller may not read answer
the same 404.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from geoplatform.auth import current_principal
from geoplatform.authn import named_layers_caching
from geoplatform.cors import open_blueprint
from geoplatform.errors import InvalidParameter
from geoplatform.etags import none_match
from tileserver.api import parse_tile
from tileserver.mvt import TileRangeError, check_tile
from tileserver.raster import (
    IMAGE_TYPES,
    TILE_SIZE,
    RasterCatalogue,
    RasterInfo,
    can_read_raster,
    render_tile,
    tile_etag,
)


def make_raster_blueprint(platform) -> Blueprint:
    catalogue = RasterCatalogue(platform.settings.data_dir)
    max_age = platform.settings.tile_max_age
    blueprint = Blueprint("raster", __name__)

    open_blueprint(blueprint, expose=("ETag",))

    @blueprint.get("/raster")
    def raster_list():
        principal = current_principal()
        rasters = [r for r in catalogue if can_read_raster(principal, r)]
        return jsonify(rasters=[_summary(raster, request.host_url) for raster in rasters])

    @blueprint.get("/raster/<name>.json")
    def raster_tilejson(name: str):
        raster = catalogue.readable(current_principal(), name)
        return jsonify(tilejson(raster, request.host_url))

    @blueprint.get("/raster/<name>/<z>/<x>/<y>.<image_format>")
    def raster_tile(name: str, z: str, x: str, y: str, image_format: str):
        raster = catalogue.readable(current_principal(), name)
        if image_format not in IMAGE_TYPES:
            raise InvalidParameter(f"tile format must be png or webp, got {image_format!r}")
        tile = parse_tile(z, x, y)
        try:
            check_tile(*tile)
        except TileRangeError as exc:
            raise InvalidParameter(str(exc)) from None
        etag = tile_etag(raster, *tile, image_format)
        headers = {"ETag": etag, **named_layers_caching(raster.is_public, max_age)}
        if none_match(request.headers.get("If-None-Match"), etag):
            return Response(status=304, headers=headers)
        image = render_tile(catalogue.cog_path(name), raster, *tile, image_format)
        if image is None:
            return Response(status=204, headers=headers)
        return Response(image, status=200, mimetype=IMAGE_TYPES[image_format], headers=headers)

    return blueprint


def tilejson(raster: RasterInfo, base_url: str) -> dict:
    """TileJSON 3.0 for the raster, with its band statistics and how it is drawn."""
    west, south, east, north = raster.bounds
    return {
        "tilejson": "3.0.0",
        "name": raster.name,
        "description": raster.title,
        "attribution": raster.attribution,
        "scheme": "xyz",
        "tiles": [f"{base_url}raster/{raster.name}/{{z}}/{{x}}/{{y}}.png"],
        "tileSize": TILE_SIZE,
        "bounds": [west, south, east, north],
        "center": [(west + east) / 2, (south + north) / 2, raster.maxzoom],
        "minzoom": raster.minzoom,
        "maxzoom": raster.maxzoom,
        "crs": raster.crs,
        "dtype": raster.dtype,
        "nodata": raster.nodata,
        "colormap": raster.colormap,
        "rescale": [list(r) for r in raster.rescale] if raster.rescale else None,
        "statistics": raster.statistics,
    }


def _summary(raster: RasterInfo, base_url: str) -> dict:
    return {
        "name": raster.name,
        "title": raster.title,
        "attribution": raster.attribution,
        "links": [
            {
                "rel": "tilejson",
                "type": "application/json",
                "href": f"{base_url}raster/{raster.name}.json",
            }
        ],
    }
