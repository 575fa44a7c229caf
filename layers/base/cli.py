"""``geoplatform base ...``: an OSM extract into the base layers (with progress and a summary)
and the rasters derived from them."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TimeElapsedColumn
from rich.table import Table

from geoplatform.db import make_engine
from geoplatform.ingest import IngestError, LayerChange, ReplacementRefused
from layers.base.density_cli import build_density_raster_command
from layers.base.load import LoadSummary, load_osm
from layers.base.osm import LAYER_NAMES

console = Console(stderr=True)


class RichLoadProgress:
    """Shows objects read from the file, then the layers written, as live progress bars."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._read = progress.add_task("reading OSM objects", total=None)
        self._write = progress.add_task("writing base layers", total=len(LAYER_NAMES))

    def reading(self, objects: int) -> None:
        self._progress.update(self._read, completed=objects)

    def writing(self, layer: str, rows: int) -> None:
        self._progress.update(self._read, total=self._progress.tasks[self._read].completed)
        self._progress.update(self._write, advance=1, description=f"wrote base.{layer} ({rows:,})")


def summary_table(summary: LoadSummary) -> Table:
    table = Table("layer", "before", "rows", "repaired", "skipped", "reasons", title="load summary")
    for layer in summary.layers:
        reasons = "; ".join(f"{n} {reason}" for reason, n in sorted(layer.skipped.items()))
        table.add_row(
            layer.layer,
            "-" if layer.before is None else f"{layer.before:,}",
            f"{layer.rows:,}",
            str(layer.repaired),
            str(sum(layer.skipped.values())),
            reasons or "-",
        )
    return table


@click.command("load-osm")
@click.argument("path", type=click.Path(path_type=Path), required=False)
@click.option(
    "--force",
    is_flag=True,
    help="Reload even if this file is already loaded, and replace layers even if that removes "
    "most of their rows.",
)
@click.pass_context
def load_osm_command(ctx: click.Context, path: Path | None, force: bool) -> None:
    """Load an OpenStreetMap extract (.osm.pbf/.osm) into the base layers, all or nothing."""
    settings = ctx.find_root().obj
    path = path or settings.osm_path
    engine = make_engine(settings)
    columns = (SpinnerColumn(), "{task.description}", BarColumn(), MofNCompleteColumn())
    try:
        with Progress(*columns, TimeElapsedColumn(), console=console) as progress:
            summary = load_osm(
                engine, settings, path, force=force, progress=RichLoadProgress(progress)
            )
    except ReplacementRefused as exc:
        console.print(changes_table(exc.changes, exc.max_loss))
        raise click.ClickException(f"{exc}; nothing was changed") from exc
    except IngestError as exc:
        raise click.ClickException(f"{exc}; nothing was changed") from exc
    finally:
        engine.dispose()
    console.print(summary_table(summary))
    if summary.unchanged:
        console.print(
            f"{path.name} is already loaded (sha256 {summary.sha256[:12]}); "
            "nothing to do. Use --force to reload."
        )
    else:
        console.print(
            f"loaded {path.name} in {summary.seconds:.1f} s; areas and lengths in "
            f"EPSG:{summary.projected_srid}"
        )


def changes_table(changes: tuple[LayerChange, ...], max_loss: float) -> Table:
    """What a refused replace would have done, layer by layer."""
    table = Table("layer", "before", "after", "removed", title="refused: the load would change")
    for change in changes:
        removed = f"{change.lost:.0%}"
        table.add_row(
            change.layer,
            f"{change.before:,}",
            f"{change.after:,}",
            f"[bold red]{removed}[/]" if change.lost > max_loss else removed,
        )
    return table


@click.group("base")
def base_command() -> None:
    """The base geodatabase: OSM extracts and the rasters derived from them."""


base_command.add_command(load_osm_command)
base_command.add_command(build_density_raster_command)
