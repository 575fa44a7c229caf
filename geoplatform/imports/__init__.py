"""The generic import of a file into a registered layer, the same for the CLI and HTTP.

``import_file`` reads the file (``read``: GeoPackage, Shapefile plain or zipped, GeoJSON,
FlatGeobuf, CSV with WKT or x/y columns), checks every row against the layer's declaration and
its table's rules (``checks``, ``rules``), then COPYs the rows into a staging table and moves
them into the layer in one transaction with the version bump of every layer over the table and
one audit row (``write``). All or nothing: one refused row and nothing is written; the report
(``ImportReport``) lists the refused rows with their row numbers, columns and reasons.

Refusals: ``UnreadableFile`` (not a supported format, or GDAL cannot read it),
``ImportRefused`` (whole-file problems or refused rows; carries the report),
``geoplatform.ingest.ReplacementRefused`` (a replace would remove more than
``GEOPLATFORM_IMPORT_MAX_LOSS`` of the layer, without ``force``). Each is an ``IngestError``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy import Engine

from geoplatform.audit import Actor
from geoplatform.imports.checks import check_rows, source_crs
from geoplatform.imports.read import FORMATS, CsvGeometry, read_source, suffix_of
from geoplatform.imports.report import ImportRefused, ImportReport, RefusedRow, UnreadableFile
from geoplatform.imports.rules import table_rules
from geoplatform.imports.write import WriteOptions, write_rows
from geoplatform.ingest import file_sha256
from geoplatform.registry import Layer, Registry

__all__ = [
    "FORMATS",
    "ImportOptions",
    "ImportRefused",
    "ImportReport",
    "ImportResult",
    "Progress",
    "RefusedRow",
    "UnreadableFile",
    "import_file",
    "suffix_of",
]

# stage ("reading", "checking", "writing"), done, total (0: not known yet)
Progress = Callable[[str, int, int], None]
# Who the audit row names for an import from the command line: the operator, no department.
OPERATOR = Actor(department=None, role="operator", key_id=None)


@dataclass(frozen=True)
class ImportOptions:
    """How to import: ``append`` adds the rows, ``replace`` deletes the layer's rows first
    (refused when it would remove more than ``max_loss`` of them, unless ``force``). ``crs``
    names the CRS of the file's coordinates when the file declares none; ``source_layer`` the
    layer of a file that holds several; the CSV columns are looked for by the usual names when
    not given. ``name`` is the file's name in the report (an upload's, not its temporary one)."""

    mode: Literal["append", "replace"] = "append"
    crs: str | None = None
    force: bool = False
    max_loss: float = 0.5
    source_layer: str | None = None
    wkt_column: str | None = None
    x_column: str | None = None
    y_column: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class ImportResult:
    """A written import: the layer's rows before and after, its new version, and the report."""

    report: ImportReport

    @property
    def written(self) -> int:
        return self.report.written

    @property
    def before(self) -> int:
        return self.report.before or 0

    @property
    def after(self) -> int:
        return self.report.after or 0

    @property
    def version(self) -> int | None:
        return self.report.version


def import_file(
    engine: Engine,
    registry: Registry,
    layer: Layer,
    path: Path,
    options: ImportOptions,
    *,
    actor: Actor = OPERATOR,
    progress: Progress = lambda stage, done, total: None,
) -> ImportResult:
    """Import the file at ``path`` into ``layer``, or raise an IngestError having changed
    nothing (see the module docstring)."""
    report = ImportReport(file=options.name or path.name, layer=layer.id, mode=options.mode)
    progress("reading", 0, 0)
    csv = CsvGeometry(options.wkt_column, options.x_column, options.y_column)
    source = read_source(path, options.source_layer, csv, report.file)
    report.format = source.format
    total = len(source.frame)
    progress("reading", total, total)
    crs = source_crs(source, options.crs)
    if isinstance(crs, str):
        report.read = total
        report.problems.append(crs)
        raise ImportRefused(report)
    with engine.connect() as conn:
        rules = table_rules(conn, layer)
    checked = check_rows(
        source, crs, layer, rules, report, lambda done: progress("checking", done, total)
    )
    write_rows(
        engine,
        layer,
        registry.over_table(layer),
        checked,
        rules,
        report,
        WriteOptions(options.mode, options.force, options.max_loss, file_sha256(path)),
        actor,
        lambda done: progress("writing", done, len(checked.rows)),
    )
    return ImportResult(report)
