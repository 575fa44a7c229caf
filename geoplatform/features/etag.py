"""The version tag of a stored feature: what GET returns as ETag and what If-Match must name.

It is computed by PostgreSQL from the whole stored row, so any change to the row (by this API,
an import or SQL) changes it, and readers and writers agree on it without a version column.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, literal_column


def row_etag(alias: str) -> ColumnElement[str]:
    """``md5(<alias>::text)`` for a table alias named from the registry (never from input)."""
    return func.md5(literal_column(f"{alias}::text"))


def format_etag(digest: str) -> str:
    return f'"{digest}"'
