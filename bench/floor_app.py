"""The two WSGI apps bench/tile_floor.py serves through Granian (``--factory``), each answering a
header ``X-Stamps`` on every tile.

``minimal``: the least a tile server can do over HTTP. It matches the path, runs the statement
``tile_query`` builds on the thread's own connection (prepared, generic plans, binary, as ours),
gzips as ours does, and answers. There is no access check, cache, ETag, pool or framework.

``stamped``: our app as ``geoplatform serve`` builds it (the public front, Flask behind it), with
the tile service's statement timed where it runs.

``X-Stamps`` holds four ``perf_counter_ns`` readings: the handler entered, the statement started,
the statement returned, the reply's headers were handed to the server. CLOCK_MONOTONIC is shared
by every process, so the client can split its wait into the hop in, the work before and after the
statement, the statement itself, and the hop out. The statement stamps are 0 when none ran.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterable

import psycopg
from isal import igzip

from geoplatform.app import create_app
from layers.base.layers import BASE_LAYERS
from tileserver.mvt import tile_query
from tileserver.tiles import GZIP_LEVEL, TILE_SESSION

STAMPS = "X-Stamps"
PATH = re.compile(r"/tiles/([a-z0-9_.,]+)/(\d+)/(\d+)/(\d+)\.mvt")
_statement = threading.local()


def _timed(run: Callable) -> Callable:
    def timed(*args, **kwargs):
        _statement.started = time.perf_counter_ns()
        try:
            return run(*args, **kwargs)
        finally:
            _statement.ended = time.perf_counter_ns()

    return timed


def _stamping(app: Callable) -> Callable:
    def stamped_app(environ: dict, start_response: Callable) -> Iterable[bytes]:
        entered = time.perf_counter_ns()
        _statement.started = _statement.ended = 0

        def stamped_start(status: str, headers: list, exc_info=None):
            stamps = (entered, _statement.started, _statement.ended, time.perf_counter_ns())
            headers = [*headers, (STAMPS, ",".join(map(str, stamps)))]
            return start_response(status, headers, exc_info)

        return app(environ, stamped_start)

    return stamped_app


def minimal() -> Callable:
    layers = {layer.id: layer for layer in BASE_LAYERS}
    options = " ".join(f"-c {key}={value}" for key, value in TILE_SESSION.items())
    local = threading.local()

    @_timed
    def render(sql: str, params: list) -> bytes:
        if not hasattr(local, "conn"):
            local.conn = psycopg.connect(
                os.environ["BENCH_LIBPQ_URL"],
                autocommit=True,
                prepare_threshold=0,
                cursor_factory=psycopg.RawCursor,
                options=options,
            )
        row = local.conn.execute(sql, params, binary=True).fetchone()
        return bytes(row[0]) if row and row[0] else b""

    def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
        match = PATH.fullmatch(environ["PATH_INFO"])
        z, x, y = int(match[2]), int(match[3]), int(match[4])
        query = tile_query(tuple(layers[i] for i in match[1].split(",")), z)
        data = render(query.native[0], query.bind_native(z, x, y)) if query else b""
        if not data:
            start_response("204 No Content", [])
            return [b""]
        body = igzip.compress(data, GZIP_LEVEL, mtime=0)
        headers = [
            ("Content-Type", "application/vnd.mapbox-vector-tile"),
            ("Content-Encoding", "gzip"),
            ("Content-Length", str(len(body))),
        ]
        start_response("200 OK", headers)
        return [body]

    return _stamping(app)


def stamped() -> Callable:
    app = create_app()
    reads = app.blueprints["tiles"].tile_service.reads
    reads.value = _timed(reads.value)
    app.wsgi_app = _stamping(app.wsgi_app)
    return app
