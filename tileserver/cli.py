"""``geoplatform seed-tiles`` and ``geoplatform export-pmtiles``: tile ranges, with progress."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from geoplatform.config import load_settings
from geoplatform.platform import Platform, create_platform
from geoplatform.registry import Layer, Registry
from tileserver.cache import TileCache
from tileserver.export import ExportError, check_public, export_pmtiles, pmtiles_metadata
from tileserver.mvt import MAX_ZOOM
from tileserver.seed import (
    BBox,
    CacheUnavailable,
    TileRangeArgumentError,
    check_redis,
    layers_extent,
    seed_tiles,
    tiles_over,
)
from tileserver.tiles import TileService

console = Console(stderr=True)
ZOOM = click.IntRange(0, MAX_ZOOM)


class BBoxType(click.ParamType):
    name = "w,s,e,n"

    def convert(self, value, param, ctx) -> BBox:
        if isinstance(value, tuple):
            return value
        parts = value.split(",")
        try:
            numbers = tuple(float(part) for part in parts)
        except ValueError:
            numbers = ()
        if len(numbers) != 4:
            self.fail(f"{value!r} is not four comma-separated numbers west,south,east,north", param)
        return numbers


def range_options(command):
    """The options both commands take, in the same order and with the same meaning."""
    options = (
        click.option(
            "--layers",
            "layer_spec",
            required=True,
            help="Comma-separated layer ids; several make composite tiles, e.g. "
            "base.roads,base.buildings.",
        ),
        click.option("--minzoom", type=ZOOM, default=0, show_default=True),
        click.option("--maxzoom", type=ZOOM, default=14, show_default=True),
        click.option(
            "--bbox",
            type=BBoxType(),
            default=None,
            help="Longitude/latitude box (default: union of the layers' extents).",
        ),
    )
    for option in reversed(options):
        command = option(command)
    return command


@click.command("seed-tiles")
@range_options
@click.pass_context
def seed_tiles_command(
    ctx: click.Context, layer_spec: str, minzoom: int, maxzoom: int, bbox: BBox | None
) -> None:
    """Pre-fill the shared tile cache (Redis) with every tile of a zoom range."""
    with platform_from(ctx) as platform:
        layers = resolve(platform.registry, layer_spec)
        tiles = tile_range(platform, layers, minzoom, maxzoom, bbox)
        settings = platform.settings
        try:
            check_redis(settings.redis_url)
            cache = TileCache(settings.redis_url, 0, settings.tile_cache_ttl)
            service = TileService(platform.engine, cache)
            with progress_bar() as progress:
                task = progress.add_task(f"seeding {layer_spec}", total=len(tiles))
                summary = seed_tiles(service, layers, tiles, lambda: progress.advance(task))
        except CacheUnavailable as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(
        f"seeded {summary.tiles:,} tiles ({summary.empty:,} empty), "
        f"{summary.bytes:,} bytes gzipped, in {summary.seconds:.1f} s"
    )


@click.command("export-pmtiles")
@range_options
@click.option(
    "--allow-internal",
    is_flag=True,
    help="Export layers that are not public too (the archive is readable by whoever has it).",
)
@click.argument("out", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.pass_context
def export_pmtiles_command(
    ctx: click.Context,
    layer_spec: str,
    minzoom: int,
    maxzoom: int,
    bbox: BBox | None,
    allow_internal: bool,
    out: Path,
) -> None:
    """Write the layers' tiles to a PMTiles v3 archive OUT that a CDN can serve on its own."""
    with platform_from(ctx) as platform:
        layers = resolve(platform.registry, layer_spec)
        try:
            check_public(layers, allow_internal)
        except ExportError as exc:
            raise click.ClickException(str(exc)) from None
        bbox = bbox or default_bbox(platform, layers)
        tiles = tile_range(platform, layers, minzoom, maxzoom, bbox)
        metadata = pmtiles_metadata(platform.engine, layers, bbox)
        service = TileService(platform.engine, TileCache(None, 0, platform.settings.tile_cache_ttl))
        try:
            with progress_bar() as progress:
                task = progress.add_task(f"exporting {layer_spec}", total=len(tiles))
                summary = export_pmtiles(
                    service, layers, tiles, metadata, out, lambda: progress.advance(task)
                )
        except ExportError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(
        f"wrote {summary.path} with {summary.tiles:,} tiles ({summary.empty:,} empty skipped), "
        f"{summary.bytes:,} bytes of tile data, in {summary.seconds:.1f} s"
    )


@contextmanager
def platform_from(ctx: click.Context) -> Iterator[Platform]:
    settings = ctx.find_root().obj or load_settings()
    platform = create_platform(settings)
    try:
        yield platform
    finally:
        platform.engine.dispose()


def resolve(registry: Registry, spec: str) -> tuple[Layer, ...]:
    ids = list(dict.fromkeys(part.strip() for part in spec.split(",")))
    if not all(ids):
        raise click.BadParameter(f"malformed layer list {spec!r}", param_hint="--layers")
    unknown = [layer_id for layer_id in ids if layer_id not in registry]
    if unknown:
        raise click.BadParameter(
            f"unknown layer {', '.join(unknown)}; known layers: {', '.join(registry.ids())}",
            param_hint="--layers",
        )
    return tuple(registry.get(layer_id) for layer_id in ids)


def default_bbox(platform: Platform, layers: tuple[Layer, ...]) -> BBox:
    bbox = layers_extent(platform.engine, layers)
    if bbox is None:
        raise click.UsageError("the layers have no recorded extent (no data?); pass --bbox")
    return bbox


def tile_range(platform: Platform, layers, minzoom: int, maxzoom: int, bbox: BBox | None) -> list:
    try:
        return tiles_over(bbox or default_bbox(platform, layers), minzoom, maxzoom)
    except TileRangeArgumentError as exc:
        raise click.UsageError(str(exc)) from None


def progress_bar() -> Progress:
    return Progress(
        SpinnerColumn(),
        "{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )
