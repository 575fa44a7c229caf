"""The tile service: vector tiles, TileJSON and OGC API Tiles for every registered layer."""

from geoplatform.modules import Module
from tileserver.api import collection_tile_links, make_tiles_blueprint
from tileserver.cli import export_pmtiles_command, seed_tiles_command
from tileserver.front import install_public_front
from tileserver.raster_api import make_raster_blueprint
from tileserver.raster_cli import import_raster_command
from tileserver.styles_api import make_styles_blueprint

MODULE = Module(
    name="tiles",
    layers=(),
    blueprints=(make_tiles_blueprint, make_styles_blueprint, make_raster_blueprint),
    commands=(seed_tiles_command, export_pmtiles_command, import_raster_command),
    collection_links=collection_tile_links,
    fronts=(install_public_front,),
)
