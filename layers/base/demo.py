"""The base module's demo: the shipped OSM extract loaded, then the building-density raster.

Both steps are idempotent: a file already loaded is not loaded again, and the raster is rebuilt
only when the buildings changed since it was built.
"""

from __future__ import annotations

from rich.console import Group
from rich.text import Text

from geoplatform.ingest import IngestError
from geoplatform.modules import DemoError, DemoProgress
from layers.base.cli import summary_table
from layers.base.density import DensityError, build_density_raster
from layers.base.load import load_osm
from layers.base.osm import LAYER_NAMES


class _OsmProgress:
    def __init__(self, report: DemoProgress) -> None:
        self._report = report
        self._written = 0

    def reading(self, objects: int) -> None:
        self._report("reading OSM objects", objects, 0)

    def writing(self, layer: str, rows: int) -> None:
        self._written += 1
        self._report("writing base layers", self._written, len(LAYER_NAMES))


def load_demo(platform, progress: DemoProgress) -> Group:
    settings = platform.settings
    try:
        summary = load_osm(
            platform.engine, settings, settings.osm_path, progress=_OsmProgress(progress)
        )
    except IngestError as exc:
        raise DemoError(f"base: {exc}; nothing was changed") from exc
    try:
        build = build_density_raster(
            platform.engine,
            settings.data_dir,
            progress=lambda message: progress(f"density raster: {message}", 1, 1),
        )
    except DensityError as exc:
        raise DemoError(f"base: density raster: {exc}") from exc
    loaded = (
        f"{settings.osm_path.name} was already loaded"
        if summary.unchanged
        else f"loaded {settings.osm_path.name} in {summary.seconds:.1f} s"
    )
    raster = "rebuilt" if build.built else "up to date"
    return Group(summary_table(summary), Text(f"{loaded}; density raster {raster}"))
