"""The base geodatabase: admin areas, roads, buildings, water, land use, POIs, places, addresses."""

from pathlib import Path

from geoplatform.modules import Module
from layers.base.cli import base_command
from layers.base.demo import load_demo
from layers.base.layers import BASE_LAYERS
from layers.base.models import metadata

MODULE = Module(
    name="base",
    title_zh="基础地理",
    title_en="Base geodatabase",
    requires=(),
    layers=BASE_LAYERS,
    metadata=metadata,
    migrations=Path(__file__).parent / "migrations",
    cli=base_command,
    demo=load_demo,
)
