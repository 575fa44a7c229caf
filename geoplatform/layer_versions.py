"""Each process's view of the layers' data versions, kept current by PostgreSQL notifications.

Cache keys of tiles carry the versions of their layers. Asking the database for them on every
request would cost a round trip even when the tile itself comes from memory, so each process
listens on ``CHANNEL``: ``record_change`` notifies it in the same transaction as the change, and
PostgreSQL delivers the notification to every listener when (and only if) that transaction
commits. No state lives in one worker that another must see; each reads the database.

Order matters for correctness: the listener subscribes first and reads all versions second, so a
change committed in between is in the read or in a notification, never lost. While the listener
is not connected (start-up, database restart), versions are read from the database per call;
when the database cannot answer either, the versions last heard are used: while it is down no
change can commit, so a tile cached under them is still the current one and can be served.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable

import psycopg
from psycopg_pool import PoolTimeout

from geoplatform.circuit import DatabaseUnavailable
from geoplatform.reads import Reads

log = logging.getLogger(__name__)

CHANNEL = "geoplatform_layer_state"
_ALL = "SELECT layer_id, version FROM platform.layer_state"
_SOME = "SELECT layer_id, version FROM platform.layer_state WHERE layer_id = ANY($1)"
RECONNECT_SECONDS = 1.0
CONNECT_TIMEOUT = 2
# How often the listener wakes without news, to notice that it was asked to stop.
POLL_SECONDS = 5.0


class LayerVersions:
    def __init__(self, reads: Reads, conninfo: str) -> None:
        self._reads = reads
        self._conninfo = conninfo
        self._versions: dict[str, int] = {}
        self._heard = False  # the listener has read the versions at least once
        self._live = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0

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
        self._stop.set()
        thread = self._thread
        if thread is not None and thread.is_alive() and self._pid == os.getpid():
            thread.join(POLL_SECONDS + 1)

    def _ensure_listening(self) -> None:
        pid = os.getpid()
        if self._pid == pid:
            return
        with self._lock:
            if self._pid == pid:
                return
            # A forked child inherits the parent's memory but not its thread.
            self._live.clear()
            self._stop.clear()
            self._thread = threading.Thread(target=self._listen, name="layer-versions", daemon=True)
            self._thread.start()
            self._pid = pid

    def _listen(self) -> None:
        warned = False
        while not self._stop.is_set():
            try:
                with psycopg.connect(
                    self._conninfo,
                    autocommit=True,
                    application_name="geoplatform-listen",
                    connect_timeout=CONNECT_TIMEOUT,
                ) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._versions = dict(conn.execute(_ALL).fetchall())
                    self._heard = True
                    self._live.set()
                    warned = False
                    while not self._stop.is_set():
                        for notify in conn.notifies(timeout=POLL_SECONDS):
                            self._apply(notify.payload)
            except psycopg.Error as exc:
                # Once per outage: a database that stays away must not fill the log every retry.
                if not self._stop.is_set() and not warned:
                    log.warning("layer versions: listener lost (%s); reading per request", exc)
                    warned = True
            finally:
                self._live.clear()
            self._stop.wait(RECONNECT_SECONDS)

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
