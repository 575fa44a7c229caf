"""Serve a WSGI app over real HTTP on 127.0.0.1, for clients that cannot use Flask's test client.

GDAL, OWSLib and schemathesis speak HTTP themselves, so the tests that check the feature API
against them need a server: werkzeug's, threaded (a client may hold one connection while it opens
another), on a port the kernel picks (port 0), so parallel sessions never collide. A client that
holds the GIL while it waits for an answer (pyogrio, for GDAL) must run in another process.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from werkzeug.serving import WSGIRequestHandler, make_server

HOST = "127.0.0.1"


class QuietRequestHandler(WSGIRequestHandler):
    """No access log line per request (a schemathesis run makes hundreds); errors still log."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@contextmanager
def serve(app, host: str = HOST) -> Iterator[str]:
    """Serve ``app`` in a background thread; yields its base URL (no trailing slash)."""
    server = make_server(host, 0, app, threaded=True, request_handler=QuietRequestHandler)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
