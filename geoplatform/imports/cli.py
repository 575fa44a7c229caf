"""``geoplatform import FILE --layer ID``: a file into a registered layer, with progress bars for
reading, checking and writing and a summary table; the refused rows when it is refused."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from geoplatform.db import make_engine
from geoplatform.imports import (
    ImportOptions,
    ImportRefused,
    ImportReport,
    import_file,
)
from geoplatform.ingest import IngestError, ReplacementRefused
from geoplatform.platform import create_platform
from geoplatform.progress import progress_bars, stage_reporter

console = Console(stderr=True)


@click.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--layer", "layer_id", required=True, help="Id of the layer to import into.")
@click.option(
    "--mode",
    type=click.Choice(["append", "replace"]),
    default="append",
    show_default=True,
    help="Add the rows, or replace the layer's rows with them.",
)
@click.option("--crs", help="CRS of the file's coordinates (EPSG:4326 …) if it declares none.")
@click.option(
    "--force", is_flag=True, help="Replace even if that removes most of the layer's rows."
)
@click.option("--source-layer", help="Layer of the file to read, if it holds several.")
@click.option("--wkt-column", help="CSV: the column holding WKT geometry.")
@click.option("--x-column", help="CSV: the column holding x (longitude, easting).")
@click.option("--y-column", help="CSV: the column holding y (latitude, northing).")
@click.pass_context
def import_command(
    ctx: click.Context,
    file: Path,
    layer_id: str,
    mode: str,
    crs: str | None,
    force: bool,
    source_layer: str | None,
    wkt_column: str | None,
    x_column: str | None,
    y_column: str | None,
) -> None:
    """Import FILE (GeoPackage, Shapefile or zipped Shapefile, GeoJSON, FlatGeobuf, CSV with WKT
    or x/y columns) into a layer: every row checked first, all or nothing."""
    settings = ctx.find_root().obj
    platform = create_platform(settings)
    # Not the platform's engine: its connections carry the web requests' statement and lock
    # timeouts, and an import from the command line may take as long as the file needs.
    engine = make_engine(settings)
    try:
        if layer_id not in platform.registry:
            raise click.BadParameter(f"no layer {layer_id!r}", param_hint="--layer")
        options = ImportOptions(
            mode=mode,  # type: ignore[arg-type]
            crs=crs,
            force=force,
            max_loss=settings.import_max_loss,
            source_layer=source_layer,
            wkt_column=wkt_column,
            x_column=x_column,
            y_column=y_column,
        )
        layer = platform.registry.get(layer_id)
        with progress_bars(console) as progress:
            result = import_file(
                engine,
                platform.registry,
                layer,
                file,
                options,
                progress=stage_reporter(progress),
            )
        print_summary(result.report)
        for note in result.report.notes:
            console.print(f"note: {note}", soft_wrap=True, markup=False, highlight=False)
    except ImportRefused as refused:
        print_summary(refused.report)
        # Plain lines, not a table: a reason is read whole and found with grep.
        console.print(refused.report.summary(), soft_wrap=True, markup=False, highlight=False)
        raise click.ClickException(str(refused)) from None
    except ReplacementRefused as refused:
        raise click.ClickException(f"refused: {refused}; nothing was changed") from None
    except IngestError as error:
        raise click.ClickException(f"{error}; nothing was changed") from None
    finally:
        engine.dispose()
        platform.close()


def print_summary(report: ImportReport) -> None:
    heading = f"{report.file} into {report.layer} ({report.mode})"
    console.print(heading, soft_wrap=True, markup=False, highlight=False)
    console.print(summary_table(report))


def summary_table(report: ImportReport) -> Table:
    table = Table("", "rows")
    before = "-" if report.before is None else f"{report.before:,}"
    after = "-" if report.after is None else f"{report.after:,}"
    for label, value in (
        ("read", f"{report.read:,}"),
        ("refused", f"{report.refused_total:,}"),
        ("repaired", f"{report.repaired:,}"),
        ("written", f"{report.written:,}"),
        ("layer", f"{before} -> {after}"),
    ):
        table.add_row(label, value)
    return table
