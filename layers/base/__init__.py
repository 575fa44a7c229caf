"""The base geodatabase: admin areas, roads, buildings, water, land use, POIs, places, addresses."""

from geoplatform.modules import Module
from layers.base.cli import load_osm_command
from layers.base.density_cli import build_density_raster_command
from layers.base.layers import BASE_LAYERS

MODULE = Module(
    name="base",
    layers=BASE_LAYERS,
    commands=(load_osm_command, build_density_raster_command),
)
