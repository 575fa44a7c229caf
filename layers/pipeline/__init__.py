"""Underground utility networks: pipes and points by utility, topology, burst isolation,
clearance checks, profiles and maintenance."""

from geoplatform.modules import Module
from layers.pipeline.api import make_pipeline_blueprint
from layers.pipeline.cli import pipeline_command
from layers.pipeline.layers import PIPELINE_LAYERS

MODULE = Module(
    name="pipeline",
    layers=PIPELINE_LAYERS,
    blueprints=(make_pipeline_blueprint,),
    commands=(pipeline_command,),
)
