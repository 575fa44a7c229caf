"""Failing fast while PostgreSQL is away: one circuit per process in front of every connection.

Without it, a request that needs the database while the database is down waits for a connection
as long as the pool lets it (psycopg_pool: 30 s; SQLAlchemy: 30 s) and then fails with a 500, and
under load every thread is soon waiting, so even answers that need no database (cached tiles,
``/healthz``) queue behind them. Measured on a stopped cluster: items hung 30 s, cached tiles
90 s, and nothing at all answered for 28 s under load.

The circuit opens on the first failure that says the server cannot be reached (a connection
error, a shutdown in progress). While it is open, everything that would connect is refused at
once with ``DatabaseUnavailable`` (503, ``Retry-After``), and one thread of the process probes the
server every ``retry_seconds`` on a connection of its own, outside every pool. The first probe
that gets an answer closes the circuit and tells the pools to replace their broken connections,
so recovery takes one probe interval whatever the traffic during the outage. A statement that
the server cancels (``statement_timeout``, ``lock_timeout``) proves the server is there and
leaves the circuit closed.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable

import psycopg
import psycopg_pool
import sqlalchemy.exc
from flask import Flask, Response

from geoplatform.errors import ServiceUnavailable, error_response

log = logging.getLogger(__name__)

# SQLSTATE classes of a server that cannot serve: 08 connection exception, 57P operator
# intervention (admin or crash shutdown, "the database system is starting up").
UNREACHABLE_SQLSTATES = ("08", "57P")
# A statement the server cancelled because it ran or waited too long.
CANCELLED = {
    "57014": "ran longer than the statement timeout",
    "55P03": "waited too long for a lock",
}


class DatabaseUnavailable(ServiceUnavailable):
    """The database cannot be reached now; the request changed nothing and may be retried."""


def database_error(exc: BaseException) -> psycopg.Error | psycopg_pool.PoolTimeout | None:
    """The psycopg error inside ``exc`` (SQLAlchemy wraps it), or None for another error."""
    if isinstance(exc, sqlalchemy.exc.DBAPIError):
        exc = exc.orig
    if isinstance(exc, psycopg.Error | psycopg_pool.PoolTimeout):
        return exc
    return None


def is_unreachable(exc: BaseException) -> bool:
    """True when ``exc`` says the server could not be reached (not that a statement failed)."""
    error = database_error(exc)
    if not isinstance(error, psycopg.OperationalError):
        return False
    state = error.sqlstate
    return state is None or state.startswith(UNREACHABLE_SQLSTATES)


class DatabaseCircuit:
    """Closed while the database answers; open, refusing at once, while it does not."""

    def __init__(
        self, conninfo: str, *, retry_seconds: float = 1.0, connect_timeout: int = 2
    ) -> None:
        self._conninfo = conninfo
        self.retry_seconds = retry_seconds
        self._connect_timeout = connect_timeout
        self._lock = threading.Lock()
        self._opened_at: float | None = None
        self._reason = ""
        self._probing = False
        self._pid = os.getpid()
        self._recover_hooks: list[Callable[[], None]] = []

    @property
    def retry_after(self) -> int:
        """Seconds a client should wait before retrying (the header wants whole seconds)."""
        return max(1, math.ceil(self.retry_seconds))

    @property
    def is_open(self) -> bool:
        self._own_process()
        return self._opened_at is not None

    def check(self) -> None:
        """Raise DatabaseUnavailable while the circuit is open; return at once when closed."""
        if self.is_open:
            raise self.unavailable()

    def unavailable(self, detail: str | None = None) -> DatabaseUnavailable:
        down_for = time.monotonic() - (self._opened_at or time.monotonic())
        reason = detail or f"the database is unreachable ({self._reason}) for {down_for:.0f} s"
        return DatabaseUnavailable(f"{reason}; retry in {self.retry_after} s", self.retry_after)

    def failed(self, exc: BaseException) -> None:
        """Open the circuit when ``exc`` says the server is unreachable."""
        if is_unreachable(exc):
            self.open(_first_line(exc))

    def suspect(self) -> None:
        """A connection was not had in time: busy, or down? A probe finds out, off the request."""
        self._start_probe()

    def open(self, reason: str) -> None:
        self._own_process()
        with self._lock:
            if self._opened_at is None:
                self._opened_at = time.monotonic()
                self._reason = reason
                log.warning("database circuit open: %s", reason)
        self._start_probe()

    def on_recover(self, hook: Callable[[], None]) -> None:
        """Call ``hook`` (a pool's ``check``) when the database answers again."""
        self._recover_hooks.append(hook)

    def _own_process(self) -> None:
        # A forked worker inherits the parent's state but not its probe thread.
        if self._pid != os.getpid():
            with self._lock:
                self._pid = os.getpid()
                self._opened_at = None
                self._probing = False

    def _start_probe(self) -> None:
        with self._lock:
            if self._probing:
                return
            self._probing = True
        threading.Thread(target=self._probe, name="database-probe", daemon=True).start()

    def probe(self) -> bool:
        """Ask the server now, on a connection of its own: True (and closed) when it answers,
        False (and open, probing in the background) when it does not."""
        try:
            with psycopg.connect(
                self._conninfo,
                connect_timeout=self._connect_timeout,
                application_name="geoplatform-probe",
            ) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error as exc:
            self.open(_first_line(exc))
            return False
        self._close()
        return True

    def _probe(self) -> None:
        try:
            while not self.probe():
                time.sleep(self.retry_seconds)
        finally:
            with self._lock:
                self._probing = False

    def _close(self) -> None:
        with self._lock:
            was_open = self._opened_at is not None
            self._opened_at = None
        if was_open:
            log.warning("database circuit closed: the database answers again")
            for hook in self._recover_hooks:
                try:
                    hook()
                except Exception:  # a pool already closed must not stop the others
                    log.exception("database circuit: recovery hook failed")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".strip(": ")


# What a request may meet when the database is away or too slow: connection errors and
# cancelled statements (OperationalError), a pool without a free connection in time.
DATABASE_FAILURES = (
    psycopg.OperationalError,
    psycopg_pool.PoolTimeout,
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.TimeoutError,
)


def install_database_errors(app: Flask, circuit: DatabaseCircuit, pool_timeout: float) -> None:
    """Answer every database failure that reaches Flask with 503 and ``Retry-After`` (a 500 says
    the server is broken; this says come back shortly), feeding the circuit on the way."""

    def database_failure(exc: Exception) -> Response:
        circuit.failed(exc)
        error = database_error(exc)
        state = getattr(error, "sqlstate", None)
        if isinstance(error, psycopg_pool.PoolTimeout) or isinstance(
            exc, sqlalchemy.exc.TimeoutError
        ):
            circuit.suspect()
            detail = f"no database connection was free within {pool_timeout:g} s"
        elif state in CANCELLED:
            detail = f"the request's database statement {CANCELLED[state]}; narrow the request"
        elif circuit.is_open:
            detail = None
        else:
            detail = f"the database failed ({_first_line(error or exc)})"
        return error_response(circuit.unavailable(detail))

    for failure in DATABASE_FAILURES:
        app.register_error_handler(failure, database_failure)
