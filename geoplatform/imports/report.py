"""What an import tells its caller: the counts, the refused rows and what else it noticed."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from geoplatform.ingest import IngestError

# A file with every row wrong would list them all; the first ones and the total say enough.
MAX_LISTED_ROWS = 100


class UnreadableFile(IngestError):
    """The file cannot be read as one of the supported formats; nothing was changed."""


@dataclass(frozen=True)
class RefusedRow:
    """One row that cannot be imported: its 1-based position among the file's features (the
    data line under the header in a CSV), the column at fault, and why."""

    row: int
    column: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "reason": self.reason}


@dataclass
class ImportReport:
    """Everything an import found, filled in as it reads, checks and writes."""

    file: str
    layer: str
    mode: str
    format: str = ""
    read: int = 0
    repaired: int = 0
    written: int = 0
    before: int | None = None
    after: int | None = None
    version: int | None = None
    # Whole-file problems (no CRS, a required column missing): each refuses the import.
    problems: list[str] = field(default_factory=list)
    refused_rows: list[RefusedRow] = field(default_factory=list)
    refused_total: int = 0
    ignored_columns: list[str] = field(default_factory=list)
    geometry_types: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    def refuse(self, row: int, column: str, reason: str) -> None:
        self.refused_total += 1
        if len(self.refused_rows) < MAX_LISTED_ROWS:
            self.refused_rows.append(RefusedRow(row, column, reason))

    @property
    def refused(self) -> bool:
        return bool(self.problems or self.refused_total)

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "format": self.format,
            "layer": self.layer,
            "mode": self.mode,
            "read": self.read,
            "refused": self.refused_total,
            "repaired": self.repaired,
            "written": self.written,
            "before": self.before,
            "after": self.after,
            "version": self.version,
            "problems": self.problems,
            "refusedRows": [row.to_json() for row in self.refused_rows],
            "refusedRowsListed": len(self.refused_rows),
            "ignoredColumns": self.ignored_columns,
            "geometryTypes": dict(self.geometry_types),
            "notes": self.notes,
        }

    def summary(self) -> str:
        """One paragraph naming why the import was refused, for a log line or a terminal."""
        lines = list(self.problems)
        lines += [f"row {r.row}, {r.column}: {r.reason}" for r in self.refused_rows]
        unlisted = self.refused_total - len(self.refused_rows)
        if unlisted:
            lines.append(f"… and {unlisted:,} more refused rows")
        return "\n".join(lines)


class ImportRefused(IngestError):
    """The file has problems or refused rows; nothing was changed. ``report`` lists them."""

    def __init__(self, report: ImportReport) -> None:
        self.report = report
        rows = report.refused_total
        counted = f"{rows:,} of {report.read:,} rows refused" if rows else "the file is refused"
        super().__init__(f"{report.file} into {report.layer}: {counted}; nothing was changed")
