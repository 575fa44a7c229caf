"""Autocommit connections for hot read paths (tiles), beside the SQLAlchemy engine.

A tile is one statement. Through the engine it costs a pool ping, a BEGIN and a ROLLBACK around
it and is planned anew every time; here it is one round trip, and psycopg prepares a statement
on first use (``prepare_threshold=0``): the same few statements (one per layer set and zoom) run
over and over, and a prepared one skips parsing and analysing its long text (about 2 ms of a
street-level composite tile of the demo city). Statements use PostgreSQL's own ``$1``
placeholders (psycopg's RawCursor), which psycopg sends without parsing. Reads only: anything
that writes goes through the engine and its transactions.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import psycopg
from psycopg_pool import ConnectionPool
from sqlalchemy import Engine

from geoplatform.circuit import DatabaseCircuit, is_unreachable

log = logging.getLogger(__name__)


def libpq_url(engine: Engine) -> str:
    """The engine's database as a libpq connection string (password included)."""
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


class Reads(Protocol):
    """What a service reads through: a ``ReadPool`` or one purpose of it."""

    def value(
        self,
        sql: str,
        params: Mapping[str, Any] | Sequence[Any] | None = None,
        *,
        binary: bool = False,
    ) -> Any: ...

    def rows(self, sql: str, params: Mapping[str, Any] | Sequence[Any] | None = None) -> list: ...

    def close(self) -> None: ...

    def check(self) -> None: ...


class LastInFirstOutPool(ConnectionPool):
    """A pool that hands out the connection returned last.

    psycopg_pool queues idle connections first in, first out: after one burst of requests grew
    the pool, even one request at a time cycles through every connection, and each statement
    then runs in a backend whose caches went cold since its last turn. Last in, first out (as
    PgBouncer reuses server connections by default) keeps light traffic on one warm backend and
    leaves the rest idle, where the pool's ``max_idle`` closes them. After a burst of six
    concurrent clients, the statements of bench/tiles.py's uncached tiles then ran 0.14-0.25 ms
    longer (median) on the rotating connections than on a client's own, and as fast LIFO."""

    def _get_ready_connection(self, timeout: float | None) -> psycopg.Connection | None:
        if self._pool:
            # The superclass takes the leftmost: rotate the newest there first (under the
            # pool's lock, held by the caller).
            self._pool.rotate(1)
        return super()._get_ready_connection(timeout)


def session_options(session: Mapping[str, str] | None) -> dict[str, str]:
    """Connection arguments that start a session with these settings (libpq ``options``), for
    statements that need them, e.g. pg_trgm's thresholds, which no statement can set itself."""
    if not session:
        return {}
    return {"options": " ".join(f"-c {key}={value}" for key, value in session.items())}


def _configure(conn: psycopg.Connection) -> None:
    conn.prepare_threshold = 0
    conn.cursor_factory = psycopg.RawCursor


class ReadPool:
    """A psycopg pool opened on first use in the process that uses it.

    gunicorn forks workers; a pool (and its maintenance threads) opened before the fork would be
    shared by processes that must not share connections, so the pool belongs to a pid.
    """

    def __init__(
        self,
        conninfo: str,
        max_size: int = 4,
        name: str = "geoplatform-reads",
        session: Mapping[str, str] | None = None,
        *,
        circuit: DatabaseCircuit | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._conninfo = conninfo
        self._max_size = max(max_size, 1)
        self._name = name
        self._session = session_options(session)
        self._circuit = circuit
        self._timeout = timeout
        self._pool: ConnectionPool | None = None
        self._pid = 0
        self._lock = threading.Lock()
        if circuit is not None:
            circuit.on_recover(self.check)

    @classmethod
    def for_engine(
        cls,
        engine: Engine,
        name: str = "geoplatform-reads",
        session: Mapping[str, str] | None = None,
    ) -> ReadPool:
        size = getattr(engine.pool, "size", lambda: 4)()
        return cls(libpq_url(engine), size, name, session)

    def value(
        self,
        sql: str,
        params: Mapping[str, Any] | Sequence[Any] | None = None,
        *,
        binary: bool = False,
    ) -> Any:
        """The first column of the first row, or None when there is no row.

        ``binary`` asks for the result in PostgreSQL's binary format: a ``bytea`` then arrives as
        its bytes, not as hexadecimal text of twice the size that psycopg has to decode."""
        return self._value(sql, params, binary, ())

    def rows(self, sql: str, params: Mapping[str, Any] | Sequence[Any] | None = None) -> list:
        return self._rows(sql, params, ())

    def _value(self, sql: str, params, binary: bool, session: tuple[tuple[str, str], ...]) -> Any:
        row = self._run(lambda conn: conn.execute(sql, params, binary=binary).fetchone(), session)
        return row[0] if row else None

    def _rows(self, sql: str, params, session: tuple[tuple[str, str], ...]) -> list:
        return self._run(lambda conn: conn.execute(sql, params).fetchall(), session)

    def for_purpose(self, name: str, session: Mapping[str, str] | None = None) -> PurposeReads:
        """This pool's connections for one kind of read with settings of its own (the tiles'
        generic plans, the gazetteer's trigram threshold), switched on a connection only when
        it last served another kind: one pool per worker, whatever reads it serves."""
        return PurposeReads(self, name, tuple(sorted((session or {}).items())))

    def close(self) -> None:
        with self._lock:
            if self._pool is not None and self._pid == os.getpid():
                self._pool.close()
            self._pool = None

    def check(self) -> None:
        """Replace the broken connections of the pool (after the database came back)."""
        with self._lock:
            pool = self._pool if self._pid == os.getpid() else None
        if pool is not None:
            pool.check()

    def _run(self, work, session: tuple[tuple[str, str], ...] = ()):
        circuit = self._circuit
        if circuit is not None:
            circuit.check()
        pool = self._current()
        try:
            with pool.connection(timeout=self._timeout) as conn:
                _switch_session(conn, session)
                return work(conn)
        except psycopg.OperationalError as exc:
            if not is_unreachable(exc):
                raise
            # A restarted database leaves every pooled connection broken: when the server
            # answers a fresh connection, replace them and try once more, so a restart costs
            # the first request a reconnect, not an error; when it does not, fail now.
            if circuit is not None and not circuit.probe():
                raise circuit.unavailable() from exc
            log.warning("read pool: %s; reconnecting", exc)
            pool.check()
            with pool.connection(timeout=self._timeout) as conn:
                _switch_session(conn, session)
                return work(conn)

    def _current(self) -> ConnectionPool:
        pid = os.getpid()
        if self._pool is not None and self._pid == pid:
            return self._pool
        with self._lock:
            if self._pool is None or self._pid != pid:
                self._pool = LastInFirstOutPool(
                    self._conninfo,
                    min_size=1,
                    max_size=self._max_size,
                    kwargs={
                        "autocommit": True,
                        "application_name": self._name,
                        **self._session,
                    },
                    configure=_configure,
                    name=self._name,
                    timeout=self._timeout,
                    # Give up on a connection that cannot be made within a few seconds rather
                    # than retrying it with a backoff that grows to minutes: demand starts a
                    # new attempt anyway, and a late retry would delay the recovery.
                    reconnect_timeout=max(2 * self._timeout, 2.0),
                    open=False,
                )
                self._pool.open(wait=False)
                self._pid = pid
        return self._pool


class PurposeReads:
    """One kind of read over a shared ``ReadPool`` (see ``ReadPool.for_purpose``)."""

    def __init__(self, pool: ReadPool, name: str, session: tuple[tuple[str, str], ...]) -> None:
        self.name = name
        self._pool = pool
        self._session = session

    def value(
        self,
        sql: str,
        params: Mapping[str, Any] | Sequence[Any] | None = None,
        *,
        binary: bool = False,
    ) -> Any:
        return self._pool._value(sql, params, binary, self._session)

    def rows(self, sql: str, params: Mapping[str, Any] | Sequence[Any] | None = None) -> list:
        return self._pool._rows(sql, params, self._session)

    def close(self) -> None:
        """The shared pool is the platform's to close."""

    def check(self) -> None:
        self._pool.check()


# What a connection's purpose settings are now, and what RESET would give each (by connection).
_SESSION_ATTRIBUTE = "_geoplatform_session"
_RESET_VALUES = "SELECT name, reset_val FROM pg_settings WHERE name = ANY($1)"


def _switch_session(conn: psycopg.Connection, session: tuple[tuple[str, str], ...]) -> None:
    current: tuple[tuple[str, str], ...] = getattr(conn, _SESSION_ATTRIBUTE, ())
    if current == session:
        return
    wanted = dict(session)
    # Settings of the last purpose this one does not name go back to the session's own value.
    dropped = [key for key, _ in current if key not in wanted]
    if dropped:
        for key, value in conn.execute(_RESET_VALUES, [dropped]).fetchall():
            wanted[key] = value
    if wanted:
        keys, values = list(wanted), list(wanted.values())
        conn.execute(
            "SELECT set_config(k, v, false) FROM unnest($1::text[], $2::text[]) AS s(k, v)",
            [keys, values],
        )
    setattr(conn, _SESSION_ATTRIBUTE, session)
