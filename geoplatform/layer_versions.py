"""Each process's view of the layers' data versions, kept current by PostgreSQL notifications.

Cache keys of tiles carry the versions of their layers. Asking the database for them on every
request would cost a round trip even when the tile itself comes from memory, so each process
listens on ``CHANNEL`` through its one notification hub (``geoplatform.notifications``):
``record_change`` notifies it in the same transaction as the change, and PostgreSQL delivers the
notification to every listener when (and only if) that transaction commits. No state lives in
one worker that another must see; each reads the database.

Order matters for correctness: the listener subscribes first and reads all versions second, so a
change committed in between is in the read or in a notification, never lost. While the listener
is not connected (start-up, database restart), versions are read from the database per call;
when the database cannot answer either, the versions last heard are used: while it is down no
change can commit, so a tile cached under them is still the current one and can be served.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

import psycopg
from psycopg_pool import PoolTimeout

from geoplatform.circuit import DatabaseUnavailable
from geoplatform.notifications import Notifications
from geoplatform.reads import Reads

log = logging.getLogger(__name__)

CHANNEL = "geoplatform_layer_state"
_ALL = "SELECT layer_id, version FROM platform.layer_state"
_SOME = "SELECT layer_id, version FROM platform.layer_state WHERE layer_id = ANY($1)"


class LayerVersions:
    def __init__(self, reads: Reads, source: str | Notifications) -> None:
        """``source``: the process's notification hub, or a connection string for a hub of its
        own (a tile service used on its own, as the benches do)."""
        self._reads = reads
        self._own = isinstance(source, str)
        self._hub = Notifications(source) if isinstance(source, str) else source
        self._versions: dict[str, int] = {}
        self._heard = False  # the listener has read the versions at least once
        self._live = threading.Event()
        self._subscribed = False
        self._lock = threading.Lock()

    def get(self, layer_ids: Iterable[str]) -> dict[str, int]:
        """Current versions of the layers (0 for a layer never loaded)."""
        ids = list(layer_ids)
        self._ensure_listening()
        if self._live.is_set():
            versions = self._versions
            return {layer_id: versions.get(layer_id, 0) for layer_id in ids}
        try:
            found = dict(self._reads.rows(_SOME, [ids]))
        except (DatabaseUnavailable, PoolTimeout, psycopg.OperationalError):
            if not self._heard:
                raise
            found = self._versions
        return {layer_id: found.get(layer_id, 0) for layer_id in ids}

    @property
    def live(self) -> bool:
        """True while notifications keep the versions current without asking the database."""
        return self._live.is_set()

    def wait_live(self, timeout: float) -> bool:
        self._ensure_listening()
        return self._live.wait(timeout)

    def close(self) -> None:
        if self._own:
            self._hub.close()

    def _ensure_listening(self) -> None:
        if not self._subscribed:
            with self._lock:
                if not self._subscribed:
                    self._hub.subscribe(
                        CHANNEL, self._apply, on_connected=self._read_all, on_lost=self._lost
                    )
                    self._subscribed = True
        # A forked child inherits the subscription but not the listener's thread.
        self._hub.start()

    def _read_all(self, conn: psycopg.Connection) -> None:
        self._versions = dict(conn.execute(_ALL).fetchall())
        self._heard = True
        self._live.set()

    def _lost(self) -> None:
        self._live.clear()

    def _apply(self, payload: str) -> None:
        layer_id, _, version = payload.rpartition(" ")
        try:
            number = int(version)
        except ValueError:
            log.warning("layer versions: ignoring malformed notification %r", payload)
            return
        # Versions only grow; a late notification must not take one back.
        if number > self._versions.get(layer_id, 0):
            self._versions = {**self._versions, layer_id: number}
