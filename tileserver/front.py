"""A WSGI front for the commonest request of all: a tile of public layers, asked for without a key
(on the XYZ path or the OGC API Tiles one).

A map view of the public site asks for dozens of tiles, most of them from the cache. Through
Flask a cached tile cost 0.37 ms of Python (routing, ten request hooks, the response object;
measured on the demo city), several times the cache lookup itself, and the framework's share
grows threefold when the process has just woken from waiting on PostgreSQL. Here it is a regular
expression, a dictionary of the layers anyone may read, and the same ``TileService`` and
``answer_tile`` the Flask route uses, so the bytes and headers are the same either way.

Everything else goes on to Flask untouched and is answered there as before: a key (its rate limit
is counted there), a query string, another method, a layer not public or unknown, a tile outside
the matrix, and any failure (the front answers no errors; Flask's handlers do).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from http import HTTPStatus

from geoplatform.auth import ANONYMOUS, can_read
from geoplatform.authn import CREDENTIAL_HEADERS
from geoplatform.cors import any_origin_headers
from geoplatform.registry import Layer, Registry
from geoplatform.styles import MAX_LAYERS_PER_TILE
from tileserver.api import WEB_MERCATOR_QUAD
from tileserver.mvt import TileRangeError
from tileserver.replies import EXPOSED_HEADERS, answer_tile
from tileserver.tiles import TileService

log = logging.getLogger(__name__)

# The XYZ route's path and the OGC API Tiles one (row before column), with only the characters
# layer ids are made of: whatever else a path holds (spaces, escapes, NUL) is for Flask to judge.
TILE_PATH = re.compile(r"/tiles/([A-Za-z0-9_.,-]+)/(\d{1,2})/(\d{1,10})/(\d{1,10})\.mvt")
OGC_TILE_PATH = re.compile(
    rf"/collections/([A-Za-z0-9_.-]+)/tiles/{WEB_MERCATOR_QUAD}/(\d{{1,2}})/(\d{{1,10}})/(\d{{1,10}})"
)
# The WSGI names of the headers that carry a key (geoplatform.authn): a caller sending one goes
# through Flask, where the key is checked and its rate limit counted.
CREDENTIAL_ENVIRON = tuple(f"HTTP_{name.upper().replace('-', '_')}" for name in CREDENTIAL_HEADERS)
STATUS_LINES = {code: f"{code} {HTTPStatus(code).phrase}" for code in (200, 204, 304)}
CORS = tuple(any_origin_headers(EXPOSED_HEADERS).items())

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


class PublicTileFront:
    def __init__(
        self, app: WSGIApp, service: TileService, registry: Registry, max_age: int, max_layers: int
    ) -> None:
        self.app = app
        self.service = service
        self.max_age = max_age
        self.max_layers = max_layers
        # The registry is fixed for the life of the process.
        self.public = {layer.id: layer for layer in registry if can_read(ANONYMOUS, layer)}

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request = self._public_tile(environ)
        if request is None:
            return self.app(environ, start_response)
        layers, z, x, y = request
        try:
            reply = answer_tile(
                self.service,
                layers,
                z,
                x,
                y,
                if_none_match=environ.get("HTTP_IF_NONE_MATCH"),
                accept_encoding=environ.get("HTTP_ACCEPT_ENCODING"),
                max_age=self.max_age,
            )
        except TileRangeError:
            return self.app(environ, start_response)
        except Exception:
            log.exception("public tile front: %s; Flask answers it", environ.get("PATH_INFO"))
            return self.app(environ, start_response)
        headers = [*reply.headers.items(), *CORS]
        if reply.status == 200:
            headers.append(("Content-Length", str(len(reply.body))))
        start_response(STATUS_LINES[reply.status], headers)
        return [reply.body]

    def _public_tile(self, environ: dict) -> tuple[tuple[Layer, ...], int, int, int] | None:
        """The layers and z/x/y of an anonymous GET of public layers' tile, else None."""
        if (
            environ.get("REQUEST_METHOD") != "GET"
            or environ.get("QUERY_STRING")
            or any(name in environ for name in CREDENTIAL_ENVIRON)
        ):
            return None
        path = environ.get("PATH_INFO", "")
        if match := TILE_PATH.fullmatch(path):
            ids, z, x, y = match[1].split(","), match[2], match[3], match[4]
        elif match := OGC_TILE_PATH.fullmatch(path):
            ids, z, y, x = [match[1]], match[2], match[3], match[4]
        else:
            return None
        if len(ids) > self.max_layers or len(set(ids)) != len(ids):
            return None
        layers = tuple(self.public.get(layer_id) for layer_id in ids)
        if None in layers:
            return None
        return layers, int(z), int(x), int(y)


def install_public_front(app, platform) -> WSGIApp:
    """The front over ``app.wsgi_app``; none when anonymous callers have a rate limit of their
    own, which only the Flask path counts."""
    settings = platform.settings
    if settings.rate_limit_enabled and settings.rate_limit_anonymous:
        return app.wsgi_app
    service = app.blueprints["tiles"].tile_service
    return PublicTileFront(
        app.wsgi_app, service, platform.registry, settings.tile_max_age, MAX_LAYERS_PER_TILE
    )
