"""What a tile answers over HTTP (status, headers, body), whoever serves it.

The Flask route and the public front (tileserver/front.py) both answer tiles; both build the
answer here, so a tile never differs by the path it took.
"""

from __future__ import annotations

from dataclasses import dataclass

from isal import igzip

from geoplatform.authn import named_layers_caching
from geoplatform.registry import Layer
from tileserver.tiles import Tile, TileService

MVT_TYPE = "application/vnd.mapbox-vector-tile"
# Browsers read the ETag of a cross-origin tile only if it is exposed (MapLibre revalidates).
EXPOSED_HEADERS = ("ETag",)


@dataclass(frozen=True)
class TileReply:
    status: int
    headers: dict[str, str]
    body: bytes


def answer_tile(
    service: TileService,
    layers: tuple[Layer, ...],
    z: int,
    x: int,
    y: int,
    *,
    if_none_match: str | None,
    accept_encoding: str | None,
    max_age: int,
) -> TileReply:
    """The answer to a GET of a tile; raises ``TileRangeError`` for z/x/y outside the matrix.

    The encoding is chosen first: the gzipped and the decompressed tile have different ETags, so
    whether ``if_none_match`` holds the tile's ETag depends on which of the two is sent."""
    gzip_ok = "gzip" in (accept_encoding or "")
    tile = service.tile(layers, z, x, y, if_none_match, identity=not gzip_ok)
    return _reply(tile, layers, max_age, gzip_ok)


def _reply(tile: Tile, layers: tuple[Layer, ...], max_age: int, gzip_ok: bool) -> TileReply:
    """200 with the tile (gzipped if the client accepts it), 204 empty, 304 not modified."""
    public = all(layer.is_public for layer in layers)
    headers = {
        "ETag": tile.etag,
        **named_layers_caching(public, max_age, vary=("Accept-Encoding",)),
    }
    if tile.gzipped is None:
        return TileReply(304, headers, b"")
    if tile.empty:
        return TileReply(204, headers, b"")
    headers["Content-Type"] = MVT_TYPE
    if gzip_ok:
        headers["Content-Encoding"] = "gzip"
        return TileReply(200, headers, tile.gzipped)
    return TileReply(200, headers, igzip.decompress(tile.gzipped))
