"""The catalogue of loaded networks: what each is, where it came from, how big it is."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

from layers.pipeline.utilities import BY_CODE

_SUMMARIES = """
SELECT n.code, n.utility, n.name_zh, n.name_en, n.source, n.snap_tolerance_m, n.loaded_at,
       (SELECT count(*) FROM pipeline.pipes AS p WHERE p.network = n.code) AS pipes,
       (SELECT coalesce(sum(p.length_m), 0) FROM pipeline.pipes AS p
         WHERE p.network = n.code) AS length_m,
       (SELECT count(*) FROM pipeline.points AS p WHERE p.network = n.code) AS points
  FROM pipeline.networks AS n
 ORDER BY n.code
"""


def network_summaries(conn: Connection) -> list[dict]:
    """Every network with its utility, titles, source, snapping tolerance and sizes."""
    return [
        {
            "code": row.code,
            "utility": row.utility,
            "utility_name": BY_CODE[row.utility].name,
            "title_zh": row.name_zh,
            "title_en": row.name_en,
            "source": row.source,
            "snap_tolerance_m": row.snap_tolerance_m,
            "loaded_at": row.loaded_at.isoformat(),
            "pipes": row.pipes,
            "length_km": round(row.length_m / 1000, 3),
            "points": row.points,
        }
        for row in conn.execute(text(_SUMMARIES))
    ]


def existing_networks(conn: Connection, codes: list[str]) -> list[str]:
    """Which of ``codes`` name a loaded network."""
    rows = conn.execute(
        text("SELECT code FROM pipeline.networks WHERE code = ANY(:codes) ORDER BY code"),
        {"codes": codes},
    )
    return list(rows.scalars())
