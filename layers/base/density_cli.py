"""``geoplatform base build-density-raster``: the buildings' floor-area density as a raster."""

from __future__ import annotations

import click
from rich.console import Console

from geoplatform.db import make_engine
from geoplatform.errors import InvalidParameter
from layers.base.density import (
    DEFAULT_NAME,
    DEFAULT_RESOLUTION,
    DensityError,
    build_density_raster,
)
from tileserver.raster import RasterImportError

console = Console(stderr=True)


@click.command("build-density-raster")
@click.option(
    "--resolution",
    type=click.FloatRange(min=1, max=10_000),
    default=DEFAULT_RESOLUTION,
    show_default=True,
    help="Cell size in metres, in the city's projected CRS.",
)
@click.option("--name", default=DEFAULT_NAME, show_default=True, help="Raster layer name.")
@click.option("--force", is_flag=True, help="Rebuild even if the buildings have not changed.")
@click.pass_context
def build_density_raster_command(
    ctx: click.Context, resolution: float, name: str, force: bool
) -> None:
    """Rasterise building floor area (area_m2 × levels) per cell and serve it at /raster/NAME."""
    settings = ctx.find_root().obj
    engine = make_engine(settings)
    try:
        build = build_density_raster(
            engine,
            settings.data_dir,
            resolution=resolution,
            name=name,
            force=force,
            progress=lambda message: console.print(f"[bold]·[/bold] {message}"),
            quiet=False,
        )
    except (DensityError, InvalidParameter, RasterImportError) as exc:
        raise click.ClickException(f"{exc}; nothing was changed") from None
    finally:
        engine.dispose()
    raster = build.raster
    if not build.built:
        console.print(
            f"raster {raster.name} is up to date with base.buildings "
            f"(version {raster.provenance['inputs']['layer_version']}); nothing to do. "
            "Use --force to rebuild."
        )
        return
    console.print(
        f"built raster {raster.name}: {raster.width}x{raster.height} cells of {resolution:g} m "
        f"in {raster.crs}, {build.total_floor_area_m2:,.0f} m² floor area, "
        f"in {build.seconds:.1f} s"
    )
