"""Checked rows into the layer's table: COPY into staging, then one transaction, all or nothing.

The table is locked against other writers (``SHARE ROW EXCLUSIVE``: readers go on) for the whole
transaction, so the count a replace is judged by is the count it replaces. The staged rows are
judged by the table's code lists and CHECK rules (``rules.staged_violations``) before anything
is written; any refusal, a replace that would remove too much (``check_replacement``) or an
error of the database rolls everything back, staging included.

The audit log gets one row for the import, not one per feature: action ``create`` for an append,
``replace`` for a replace, the feature id ``import:`` and the file's SHA-256, and the summary
(file, format, mode, rows before, written, after) as ``after``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import psycopg
from psycopg import Cursor, sql
from sqlalchemy import Engine, exc
from sqlalchemy.engine import Connection

from geoplatform import audit
from geoplatform.audit import Actor
from geoplatform.db import transaction
from geoplatform.imports.checks import CheckedRows
from geoplatform.imports.report import ImportRefused, ImportReport
from geoplatform.imports.rules import TableRules, staged_violations
from geoplatform.ingest import check_replacement, copy_rows, create_staging
from geoplatform.layer_state import record_change
from geoplatform.registry import Layer

STAGE = "import_stage"
_REFUSALS = (exc.IntegrityError, exc.DataError, psycopg.IntegrityError, psycopg.DataError)
_PROGRESS_EVERY = 1000


@dataclass(frozen=True)
class WriteOptions:
    mode: str
    force: bool
    max_loss: float
    sha256: str


def write_rows(
    engine: Engine,
    layer: Layer,
    readers: tuple[Layer, ...],
    checked: CheckedRows,
    rules: TableRules,
    report: ImportReport,
    options: WriteOptions,
    actor: Actor,
    progress: Callable[[int], None] = lambda done: None,
) -> None:
    """Write the rows, or raise (ImportRefused, ReplacementRefused) having changed nothing.
    ``readers`` are the layers over the same table, whose versions the import changes."""
    try:
        with transaction(engine) as conn:
            cursor = conn.connection.driver_connection.cursor()
            cursor.execute(_lock_sql(layer))
            report.before = _count(cursor, layer)
            _stage(cursor, layer, checked, progress)
            _refuse_rule_breakers(cursor, checked.columns, rules, report)
            if report.refused:
                raise ImportRefused(report)
            after = len(checked.rows) + (report.before if options.mode == "append" else 0)
            check_replacement(
                {layer.id: report.before},
                {layer.id: after},
                max_loss=options.max_loss,
                force=options.force,
            )
            if options.mode == "replace":
                cursor.execute(sql.SQL("DELETE FROM {}").format(_table(layer)))
            cursor.execute(_insert_sql(layer, checked.columns), {"srid": layer.srid})
            report.written = cursor.rowcount
            report.after = _count(cursor, layer)
            report.version = _record_versions(conn, layer, readers)
            _audit(conn, actor, layer, report, options)
    except _REFUSALS as error:
        # A rule the checks cannot see (a unique index, a column the layer does not declare):
        # the database's own words. Timeouts and lost connections are not the file's fault and
        # go on up (a 503 over HTTP).
        report.problems.append(f"the database refuses the rows: {_primary_message(error)}")
        raise ImportRefused(report) from None


def _stage(
    cursor: Cursor, layer: Layer, checked: CheckedRows, progress: Callable[[int], None]
) -> None:
    create_staging(cursor, STAGE, (layer.schema_name, layer.table_name), checked.columns)
    cursor.execute(sql.SQL("ALTER TABLE {} ADD COLUMN row_no integer").format(_stage_name()))
    copy_rows(cursor, STAGE, [*checked.columns, "row_no"], _counted(checked.rows, progress))


def _counted(rows: list[tuple], progress: Callable[[int], None]) -> Iterator[tuple]:
    for done, row in enumerate(rows, start=1):
        yield row
        if done % _PROGRESS_EVERY == 0:
            progress(done)
    progress(len(rows))


def _refuse_rule_breakers(
    cursor: Cursor, columns: tuple[str, ...], rules: TableRules, report: ImportReport
) -> None:
    listed, total = staged_violations(cursor, STAGE, columns, rules)
    for refused in listed:
        report.refuse(refused.row, refused.column, refused.reason)
    # The listed ones were counted by refuse(); the rest only in the total.
    report.refused_total += total - len(listed)
    report.refused_rows.sort(key=lambda r: r.row)


def _record_versions(conn: Connection, layer: Layer, readers: tuple[Layer, ...]) -> int:
    versions = {reader.id: record_change(conn, reader) for reader in readers}
    return versions.get(layer.id) or record_change(conn, layer)


def _audit(
    conn: Connection, actor: Actor, layer: Layer, report: ImportReport, options: WriteOptions
) -> None:
    summary = {
        "import": {
            "file": report.file,
            "format": report.format,
            "sha256": options.sha256,
            "mode": options.mode,
            "before": report.before,
            "written": report.written,
            "after": report.after,
        }
    }
    action = "replace" if options.mode == "replace" else "create"
    fid = f"import:{options.sha256}"
    audit.record(conn, actor, layer.id, fid, action, "ok", None, summary)


def _count(cursor: Cursor, layer: Layer) -> int:
    cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(_table(layer)))
    return cursor.fetchone()[0]


def _table(layer: Layer) -> sql.Identifier:
    return sql.Identifier(layer.schema_name, layer.table_name)


def _stage_name() -> sql.Identifier:
    return sql.Identifier(STAGE)


def _lock_sql(layer: Layer) -> sql.Composed:
    return sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(_table(layer))


def _insert_sql(layer: Layer, columns: tuple[str, ...]) -> sql.Composed:
    names = sql.SQL(", ").join(map(sql.Identifier, columns))
    leading = sql.SQL("{}, ").format(names) if columns else sql.SQL("")
    return sql.SQL(
        """INSERT INTO {table} ({leading}{geometry})
           SELECT {leading}ST_SetSRID(ST_GeomFromWKB(wkb), %(srid)s)
             FROM {stage}
            ORDER BY row_no"""
    ).format(
        table=_table(layer),
        leading=leading,
        geometry=sql.Identifier(layer.geometry_column),
        stage=_stage_name(),
    )


def _primary_message(error: Exception) -> str:
    original = error.orig if isinstance(error, exc.DBAPIError) else error
    diag = getattr(original, "diag", None)
    return getattr(diag, "message_primary", None) or str(original).splitlines()[0]
