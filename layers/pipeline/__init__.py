"""Underground utility networks: pipes and points by utility, topology, burst isolation,
clearance checks, profiles and maintenance."""

from pathlib import Path

from geoplatform.modules import Module, Page
from layers.pipeline.analyses import ANALYSES
from layers.pipeline.api import make_pipeline_blueprint
from layers.pipeline.cli import pipeline_command
from layers.pipeline.demo import load_demo
from layers.pipeline.layers import PIPELINE_LAYERS
from layers.pipeline.models import metadata
from layers.pipeline.samples import insert_samples
from layers.pipeline.utilities import OWNER_DEPARTMENTS

MODULE = Module(
    name="pipeline",
    title_zh="地下管线",
    title_en="Underground utilities",
    layers=PIPELINE_LAYERS,
    metadata=metadata,
    migrations=Path(__file__).parent / "migrations",
    departments=OWNER_DEPARTMENTS,
    blueprint=make_pipeline_blueprint,
    cli=pipeline_command,
    demo=load_demo,
    samples=insert_samples,
    pages=(Page("爆管关阀", "Burst isolation map", "pipeline.isolation_map"),),
    analyses=ANALYSES,
)
