"""The two WSGI apps bench/tile_floor.py serves through Granian (``--factory``), each answering a
header ``X-Stamps`` on every tile.

``minimal``: the least a tile server can do over HTTP. It matches the path, runs the statement
``tile_query`` builds on the thread's own connection (bench/tiles.py's ``tile_bytes`` on its
``connection_pool``, with our session settings), gzips as ours does, and answers. There is no
access check, cache, ETag, pool or framework.

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

from isal import igzip
from tiles import Case, connection_pool, tile_bytes

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
    connection = connection_pool(os.environ["BENCH_LIBPQ_URL"], TILE_SESSION)
    render = _timed(tile_bytes)

    def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
        match = PATH.fullmatch(environ["PATH_INFO"])
        z, x, y = int(match[2]), int(match[3]), int(match[4])
        case = Case(tuple(layers[i] for i in match[1].split(",")), z, x, y)
        data = render(connection, case) if tile_query(case.layers, z) else b""
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
