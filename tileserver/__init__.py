"""The tile service: vector tiles, TileJSON and OGC API Tiles for every registered layer."""

from geoplatform.modules import Service
from tileserver.api import collection_tile_links, make_tiles_blueprint
from tileserver.cli import export_pmtiles_command, seed_tiles_command
from tileserver.front import install_public_front
from tileserver.raster_api import make_raster_blueprint
from tileserver.raster_cli import import_raster_command
from tileserver.styles_api import make_styles_blueprint

_TILES_1 = "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/"

SERVICE = Service(
    name="tiles",
    blueprints=(make_tiles_blueprint, make_styles_blueprint, make_raster_blueprint),
    commands=(seed_tiles_command, export_pmtiles_command, import_raster_command),
    collection_links=collection_tile_links,
    fronts=(install_public_front,),
    conformance=tuple(
        _TILES_1 + name
        for name in ("core", "tileset", "tilesets-list", "geodata-tilesets", "mvt", "oas30")
    ),
)
