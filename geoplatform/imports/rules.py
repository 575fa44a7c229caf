"""What the layer's table itself demands of a row, read from the catalog.

A declaration (``geoplatform.registry.Property``) names a property and its type, nothing more;
the rest lives in the table: which columns may not be empty (NOT NULL, and whether a default
fills them when the file leaves them out), how wide an integer column is, the code lists (a
foreign key from a property's column to a table of codes) and the CHECK rules. The import
checks each row against them and names the row, the column and the rule, where the database
would refuse the first offending row of the whole statement, without saying which.

Code lists and CHECK rules are judged in the staging table, which has the layer's column names
and types: the rule's expression (the catalog's own text, ``pg_get_expr``) or a join with the
code table, counted per staged row.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import Cursor, sql
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geoplatform.imports.report import RefusedRow
from geoplatform.registry import Layer

INTEGER_RANGES = {
    "smallint": (-(2**15), 2**15 - 1),
    "integer": (-(2**31), 2**31 - 1),
    "bigint": (-(2**63), 2**63 - 1),
}
# At most this many offenders of one rule are fetched; the total is counted in full.
_LISTED_PER_RULE = 100

_COLUMNS = text(
    """
    SELECT a.attname AS name,
           format_type(a.atttypid, NULL) AS sql_type,
           a.attnotnull AS not_null,
           a.atthasdef OR a.attidentity <> '' AS has_default
      FROM pg_attribute AS a
     WHERE a.attrelid = CAST(:table AS regclass) AND a.attnum > 0 AND NOT a.attisdropped
    """
)

# Single-column foreign keys: a code list is a table of codes another column points to.
_CODE_LISTS = text(
    """
    SELECT a.attname AS name, c.confrelid::regclass::text AS code_table,
           n.nspname AS code_schema, r.relname AS code_relation, fa.attname AS code_column
      FROM pg_constraint AS c
      JOIN pg_attribute AS a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
      JOIN pg_attribute AS fa ON fa.attrelid = c.confrelid AND fa.attnum = c.confkey[1]
      JOIN pg_class AS r ON r.oid = c.confrelid
      JOIN pg_namespace AS n ON n.oid = r.relnamespace
     WHERE c.conrelid = CAST(:table AS regclass) AND c.contype = 'f'
       AND cardinality(c.conkey) = 1
    """
)

_CHECKS = text(
    """
    SELECT c.conname AS name, pg_get_expr(c.conbin, c.conrelid) AS expression,
           ARRAY(SELECT a.attname FROM pg_attribute AS a
                  WHERE a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)) AS columns
      FROM pg_constraint AS c
     WHERE c.conrelid = CAST(:table AS regclass) AND c.contype = 'c'
     ORDER BY c.conname
    """
)


@dataclass(frozen=True)
class CodeList:
    column: str
    schema: str
    table: str
    code_column: str
    shown: str


@dataclass(frozen=True)
class CheckRule:
    name: str
    expression: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class TableRules:
    """The demands of the layer's table on the declared property columns."""

    sql_types: dict[str, str]
    # NOT NULL: a row's empty value is refused; absent from the file, the default fills it in.
    not_null: frozenset[str]
    # NOT NULL without a default: the file must have the column.
    required: frozenset[str]
    code_lists: tuple[CodeList, ...]
    checks: tuple[CheckRule, ...]

    def integer_range(self, column: str) -> tuple[int, int] | None:
        return INTEGER_RANGES.get(self.sql_types.get(column, ""))


def table_rules(conn: Connection, layer: Layer) -> TableRules:
    declared = set(layer.property_names())
    params = {"table": layer.table}
    columns = [row for row in conn.execute(_COLUMNS, params) if row.name in declared]
    code_lists = tuple(
        CodeList(row.name, row.code_schema, row.code_relation, row.code_column, row.code_table)
        for row in conn.execute(_CODE_LISTS, params)
        if row.name in declared
    )
    checks = tuple(
        CheckRule(row.name, row.expression, tuple(row.columns))
        for row in conn.execute(_CHECKS, params)
    )
    return TableRules(
        sql_types={row.name: row.sql_type for row in columns},
        not_null=frozenset(row.name for row in columns if row.not_null),
        required=frozenset(row.name for row in columns if row.not_null and not row.has_default),
        code_lists=code_lists,
        checks=checks,
    )


def staged_violations(
    cursor: Cursor, stage: str, staged: tuple[str, ...], rules: TableRules
) -> tuple[list[RefusedRow], int]:
    """The staged rows that break a code list or a CHECK rule (the first of each rule), and
    how many there are in all."""
    refused: list[RefusedRow] = []
    total = 0
    for code_list in rules.code_lists:
        if code_list.column not in staged:
            continue
        rows, count = _offenders(cursor, _code_list_sql(stage, code_list))
        total += count
        refused += [
            RefusedRow(row, code_list.column, f"{value!r} is not a code of {code_list.shown}")
            for row, value in rows
        ]
    for check in rules.checks:
        # A rule over a column the file leaves to its default is the database's to judge.
        if not set(check.columns) <= set(staged):
            continue
        rows, count = _offenders(cursor, _check_sql(stage, check))
        total += count
        column = ", ".join(check.columns)
        refused += [
            RefusedRow(row, column, f"breaks the rule {check.name}: CHECK ({check.expression})")
            for row, _ in rows
        ]
    return sorted(refused, key=lambda r: r.row), total


def _offenders(cursor: Cursor, query: sql.Composed) -> tuple[list[tuple[int, object]], int]:
    cursor.execute(query, {"limit": _LISTED_PER_RULE})
    rows = cursor.fetchall()
    total = rows[0][2] if rows else 0
    return [(row, value) for row, value, _ in rows], total


def _code_list_sql(stage: str, code_list: CodeList) -> sql.Composed:
    return sql.SQL(
        """SELECT s.row_no, s.{column}, count(*) OVER ()
             FROM {stage} AS s
            WHERE s.{column} IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM {codes} AS c WHERE c.{code} = s.{column})
            ORDER BY s.row_no
            LIMIT %(limit)s"""
    ).format(
        column=sql.Identifier(code_list.column),
        stage=sql.Identifier(stage),
        codes=sql.Identifier(code_list.schema, code_list.table),
        code=sql.Identifier(code_list.code_column),
    )


def _check_sql(stage: str, check: CheckRule) -> sql.Composed:
    # The expression is the catalog's own text of a rule on these very column names; a CHECK
    # refuses a row only when it is false (null passes), hence IS FALSE.
    return sql.SQL(
        """SELECT s.row_no, NULL, count(*) OVER ()
             FROM {stage} AS s
            WHERE ({expression}) IS FALSE
            ORDER BY s.row_no
            LIMIT %(limit)s"""
    ).format(stage=sql.Identifier(stage), expression=sql.SQL(check.expression))
