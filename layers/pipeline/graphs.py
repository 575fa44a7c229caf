"""Network graphs built once per network version and reused until the data changes.

The version is the network's load time plus the data versions of its utility's pipe and point
layers (``platform.layer_state``, bumped in the same transaction as every load, import and
edit), read with one small query per request, which also tells the network's utility for the
access check. Each worker process keeps its own graphs: nothing here needs another worker to
see it, and a worker that never saw a network builds it on first use.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy import Engine, text

from geoplatform.errors import NotFound
from layers.pipeline.network import Network, load_network
from layers.pipeline.utilities import BY_CODE, Utility

_VERSION = """
SELECT n.utility, n.loaded_at,
       (SELECT coalesce(jsonb_object_agg(s.layer_id, s.version), '{}')
          FROM platform.layer_state AS s
         WHERE s.layer_id LIKE 'pipeline.%') AS versions
  FROM pipeline.networks AS n
 WHERE n.code = :network
"""


@dataclass(frozen=True)
class NetworkVersion:
    network: str
    utility: Utility
    key: tuple  # equal keys: the same data

    @classmethod
    def of(cls, network: str, row) -> NetworkVersion:
        name = BY_CODE[row.utility].name
        layers = (f"pipeline.{name}_pipes", f"pipeline.{name}_points")
        key = (row.loaded_at, *(row.versions.get(layer, 0) for layer in layers))
        return cls(network, BY_CODE[row.utility], key)


class NetworkCache:
    """Graphs of the most recently used networks, each valid for one data version.

    A graph is built under a lock of its own network: a slow build of one network never holds
    up requests for another, and two requests for the same stale network build it once.
    """

    def __init__(self, engine: Engine, size: int = 8) -> None:
        self._engine = engine
        self._size = size
        self._graphs: OrderedDict[str, tuple[tuple, Network]] = OrderedDict()
        self._lock = threading.Lock()  # guards _graphs and _building, never held while building
        self._building: dict[str, threading.Lock] = {}
        self.builds = 0

    def version(self, network: str) -> NetworkVersion:
        """The network's utility and current data version; NotFound for an unknown network."""
        with self._engine.connect() as conn:
            row = conn.execute(text(_VERSION), {"network": network}).one_or_none()
        if row is None:
            raise NotFound(f"no network {network!r}")
        return NetworkVersion.of(network, row)

    def get(self, version: NetworkVersion) -> Network:
        """The graph of that version, built now unless this process has it already."""
        cached = self._cached(version)
        if cached is not None:
            return cached
        with self._lock:
            building = self._building.setdefault(version.network, threading.Lock())
        with building:
            # Another request may have built it while this one waited.
            cached = self._cached(version)
            if cached is not None:
                return cached
            with self._engine.connect() as conn:
                graph = load_network(conn, version.network)
            with self._lock:
                self.builds += 1
                self._graphs[version.network] = (version.key, graph)
                self._graphs.move_to_end(version.network)
                while len(self._graphs) > self._size:
                    self._graphs.popitem(last=False)
            return graph

    def _cached(self, version: NetworkVersion) -> Network | None:
        with self._lock:
            cached = self._graphs.get(version.network)
            if cached is None or cached[0] != version.key:
                return None
            self._graphs.move_to_end(version.network)
            return cached[1]


def network_cache(platform) -> NetworkCache:
    """The process's one cache of network graphs, shared by the pipeline's routes and analyses."""
    return platform.shared("pipeline.network_cache", lambda: NetworkCache(platform.engine))
