"""What every writer of network data (the demo generator, the EPANET import) does last, in its
own transaction: refresh what the layers join, refresh the planner's statistics, and bump the
data versions of the utilities' layers so caches and network graphs see the change."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geoplatform.layer_state import record_change
from layers.pipeline.layers import PIPELINE_LAYERS
from layers.pipeline.maintenance import refresh_service_lives
from layers.pipeline.utilities import Utility


def networks_changed(conn: Connection, utilities: Iterable[Utility]) -> None:
    # The replacement layers join the service lives of data/pipe_service_lives.csv.
    refresh_service_lives(conn)
    # Fresh statistics, or the planner misjudges per-network queries (topology, clearances).
    conn.execute(text("ANALYZE pipeline.pipes, pipeline.points"))
    prefixes = tuple(f"pipeline.{utility.name}_" for utility in utilities)
    for layer in PIPELINE_LAYERS:
        if layer.id.startswith(prefixes):
            record_change(conn, layer)
