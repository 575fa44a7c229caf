"""Reference tables kept as data under ``data/`` (see data/README.md for their sources)."""

from __future__ import annotations

import csv
from functools import cache

from geoplatform.config import REPO_ROOT

DATA_DIR = REPO_ROOT / "data"


@cache
def read_table(name: str) -> tuple[dict[str, str], ...]:
    """Rows of ``data/<name>.csv`` as dicts; read once per process."""
    with (DATA_DIR / f"{name}.csv").open(encoding="utf-8", newline="") as handle:
        return tuple(csv.DictReader(handle))
