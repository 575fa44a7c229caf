"""The tile service: vector tiles, TileJSON and OGC API Tiles for every registered layer."""

from geoplatform.modules import Module
from tileserver.api import collection_tile_links, make_tiles_blueprint

MODULE = Module(
    name="tiles",
    layers=(),
    blueprints=(make_tiles_blueprint,),
    commands=(),
    collection_links=collection_tile_links,
)
