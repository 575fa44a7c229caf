"""``geoplatform import-raster``: any GeoTIFF into a Cloud-Optimized GeoTIFF raster layer."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from geoplatform.errors import InvalidParameter
from tileserver.raster import RasterImportError, RasterInfo, import_raster

console = Console(stderr=True)


class RescaleType(click.ParamType):
    name = "min,max"

    def convert(self, value, param, ctx) -> tuple[tuple[float, float], ...]:
        if isinstance(value, tuple):
            return value
        try:
            low, high = (float(part) for part in value.split(","))
        except ValueError:
            self.fail(f"{value!r} is not two comma-separated numbers min,max", param)
        return ((low, high),)


@click.command("import-raster")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", required=True, help="Layer name, ^[a-z][a-z0-9_-]{0,62}$.")
@click.option("--title", default=None, help="Title shown to people (default: the name).")
@click.option(
    "--access",
    default="public",
    show_default=True,
    help="public, internal, or comma-separated departments that may read it.",
)
@click.option("--attribution", default="", help="Attribution shown on maps.")
@click.option("--colormap", default=None, help="rio-tiler colormap for single-band data.")
@click.option(
    "--rescale",
    type=RescaleType(),
    default=None,
    help="Value range mapped onto the colours (default: the band's min,max).",
)
@click.pass_context
def import_raster_command(
    ctx: click.Context,
    file: Path,
    name: str,
    title: str | None,
    access: str,
    attribution: str,
    colormap: str | None,
    rescale: tuple[tuple[float, float], ...] | None,
) -> None:
    """Convert FILE (any GeoTIFF) into a COG layer served at /raster/NAME, all or nothing."""
    settings = ctx.find_root().obj
    info = run_import(
        file,
        name,
        settings.data_dir,
        title=title,
        access=access,
        attribution=attribution,
        colormap=colormap,
        rescale=rescale,
    )
    click.echo(
        f"imported {file.name} as raster {info.name}: {info.width}x{info.height} {info.dtype}, "
        f"{info.crs}, zoom {info.minzoom}-{info.maxzoom}"
    )


def run_import(source: Path, name: str, data_dir: Path, **options) -> RasterInfo:
    """``import_raster`` with a progress line per step and its errors as click errors."""
    try:
        return import_raster(source, name, data_dir, progress=_step, quiet=False, **options)
    except (InvalidParameter, RasterImportError) as exc:
        raise click.ClickException(f"{exc}; nothing was changed") from None


def _step(message: str) -> None:
    console.print(f"[bold]·[/bold] {message}")
