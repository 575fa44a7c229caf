"""One LISTEN connection per process, for every channel the platform's parts subscribe to.

PostgreSQL delivers a ``NOTIFY`` to every listening session when (and only if) the notifying
transaction commits, so a change made by one worker reaches every other worker's subscribers
without any state kept in one process that another must see. The layer versions use it today;
live pushes (a grid case moving on, a vehicle's position) subscribe to channels of their own.

Each subscriber may pass ``on_connected(conn)``: called on the listening connection right after
its ``LISTEN`` statements, before any notification is handed out, so a subscriber that reads the
current state there misses nothing committed in between. ``on_lost()`` is called when the
connection breaks; the hub reconnects after ``RECONNECT_SECONDS``. A forked child starts its own
listener on first use (it inherits the parent's memory, not its thread).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

RECONNECT_SECONDS = 1.0
CONNECT_TIMEOUT = 2
# How often the listener wakes without news: to stop, or to listen on a new channel.
POLL_SECONDS = 1.0


@dataclass(frozen=True)
class Subscription:
    channel: str
    on_notify: Callable[[str], None]
    on_connected: Callable[[psycopg.Connection], None] | None = None
    on_lost: Callable[[], None] | None = None


class Notifications:
    def __init__(self, conninfo: str, name: str = "geoplatform-listen") -> None:
        self._conninfo = conninfo
        self._name = name
        self._subscriptions: list[Subscription] = []
        self._live = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def subscribe(
        self,
        channel: str,
        on_notify: Callable[[str], None],
        *,
        on_connected: Callable[[psycopg.Connection], None] | None = None,
        on_lost: Callable[[], None] | None = None,
    ) -> None:
        """Hand every payload on ``channel`` to ``on_notify`` (in the listener's thread)."""
        with self._lock:
            self._subscriptions.append(Subscription(channel, on_notify, on_connected, on_lost))
        self.start()

    @property
    def live(self) -> bool:
        return self._live.is_set()

    def wait_live(self, timeout: float) -> bool:
        self.start()
        return self._live.wait(timeout)

    def start(self) -> None:
        pid = os.getpid()
        if self._pid == pid:
            return
        with self._lock:
            if self._pid == pid:
                return
            self._live.clear()
            self._stop.clear()
            self._thread = threading.Thread(target=self._listen, name=self._name, daemon=True)
            self._thread.start()
            self._pid = pid

    def close(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread.is_alive() and self._pid == os.getpid():
            thread.join(POLL_SECONDS + CONNECT_TIMEOUT + 1)

    def _listen(self) -> None:
        warned = False
        while not self._stop.is_set():
            try:
                with psycopg.connect(
                    self._conninfo,
                    autocommit=True,
                    application_name=self._name,
                    connect_timeout=CONNECT_TIMEOUT,
                ) as conn:
                    self._serve(conn)
                    warned = False
            except psycopg.Error as exc:
                # Once per outage: a database that stays away must not fill the log every retry.
                if not self._stop.is_set() and not warned:
                    log.warning("notifications: listener lost (%s); reconnecting", exc)
                    warned = True
            finally:
                if self._live.is_set() or warned:
                    self._live.clear()
                    for subscription in self._current():
                        if subscription.on_lost is not None:
                            subscription.on_lost()
            self._stop.wait(RECONNECT_SECONDS)

    def _serve(self, conn: psycopg.Connection) -> None:
        started: set[int] = set()
        listening: set[str] = set()
        while not self._stop.is_set():
            subscriptions = self._current()
            for channel in sorted({s.channel for s in subscriptions} - listening):
                conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                listening.add(channel)
            # Read after LISTEN, before the first delivery: nothing committed in between is lost.
            for subscription in subscriptions:
                if id(subscription) not in started:
                    started.add(id(subscription))
                    if subscription.on_connected is not None:
                        subscription.on_connected(conn)
            self._live.set()
            for notify in conn.notifies(timeout=POLL_SECONDS):
                for subscription in subscriptions:
                    if subscription.channel == notify.channel:
                        subscription.on_notify(notify.payload)

    def _current(self) -> list[Subscription]:
        with self._lock:
            return list(self._subscriptions)
