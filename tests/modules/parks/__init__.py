"""A thematic module kept inside the tests, built only on the module contract: its own schema,
migration branch, layer, department, settings, demo loader, samples, page and commands. Enabled
by its package path (``tests.modules.parks``), it must show up everywhere a module does without
any file outside this folder changing."""

from pathlib import Path

from geoplatform.keys import Department
from geoplatform.modules import Module, Page
from tests.modules.parks.api import make_blueprint
from tests.modules.parks.cli import parks_command
from tests.modules.parks.demo import insert_samples, load_demo
from tests.modules.parks.layers import LAYERS, PARKS_BUREAU
from tests.modules.parks.models import metadata
from tests.modules.parks.settings import ParksSettings

CONFORMANCE = "https://example.org/geoplatform/parks/1.0/conf/count"

MODULE = Module(
    name="parks",
    title_zh="公园",
    title_en="Parks",
    layers=LAYERS,
    metadata=metadata,
    migrations=Path(__file__).parent / "migrations",
    departments=(Department(PARKS_BUREAU, "园林局", "Parks Bureau"),),
    settings=ParksSettings,
    blueprint=make_blueprint,
    cli=parks_command,
    demo=load_demo,
    samples=insert_samples,
    pages=(Page("公园", "Parks", "parks.index"),),
    conformance=(CONFORMANCE,),
)
