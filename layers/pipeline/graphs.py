"""Network graphs built once per network version and reused until the data changes.

The key is the network's load time plus the data versions of its utility's pipe and point
layers (``platform.layer_state``, bumped in the same transaction as every load, import and
edit), read with one small query per request. Each worker process keeps its own graphs: nothing
here needs another worker to see it, and a worker that never saw a network builds it on first
use.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from sqlalchemy import Engine, text

from geoplatform.errors import NotFound
from layers.pipeline.network import Network, load_network
from layers.pipeline.utilities import UTILITIES

_VERSION = """
SELECT n.utility, n.loaded_at,
       (SELECT coalesce(array_agg(s.version ORDER BY s.layer_id), '{}')
          FROM platform.layer_state AS s
         WHERE s.layer_id IN ('pipeline.' || u.name || '_pipes', 'pipeline.' || u.name || '_points')
       ) AS versions
  FROM pipeline.networks AS n
  JOIN unnest(CAST(:codes AS text[]), CAST(:names AS text[])) AS u(code, name)
    ON u.code = n.utility
 WHERE n.code = :network
"""
_CODES = [u.code for u in UTILITIES]
_NAMES = [u.name for u in UTILITIES]


class NetworkCache:
    """Graphs of the most recently used networks, each valid for one data version."""

    def __init__(self, engine: Engine, size: int = 8) -> None:
        self._engine = engine
        self._size = size
        self._graphs: OrderedDict[str, tuple[tuple, Network]] = OrderedDict()
        self._lock = threading.Lock()
        self.builds = 0

    def get(self, network: str) -> Network:
        with self._engine.connect() as conn:
            row = conn.execute(
                text(_VERSION), {"network": network, "codes": _CODES, "names": _NAMES}
            ).one_or_none()
            if row is None:
                raise NotFound(f"no network {network!r}")
            version = (row.loaded_at, tuple(row.versions))
            with self._lock:
                cached = self._graphs.get(network)
                if cached is not None and cached[0] == version:
                    self._graphs.move_to_end(network)
                    return cached[1]
                graph = load_network(conn, network)
                self.builds += 1
                self._graphs[network] = (version, graph)
                self._graphs.move_to_end(network)
                while len(self._graphs) > self._size:
                    self._graphs.popitem(last=False)
                return graph

    def utility_of(self, network: str) -> str:
        with self._engine.connect() as conn:
            utility = conn.execute(
                text("SELECT utility FROM pipeline.networks WHERE code = :network"),
                {"network": network},
            ).scalar()
        if utility is None:
            raise NotFound(f"no network {network!r}")
        return utility
