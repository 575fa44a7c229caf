"""The tile service: versions -> cache key -> cache or one SQL statement -> gzip -> cache."""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from functools import cache

from sqlalchemy import Engine, text

from geoplatform.registry import Layer
from tileserver.cache import TileCache
from tileserver.mvt import check_tile, tile_query

_VERSIONS = text("SELECT layer_id, version FROM platform.layer_state WHERE layer_id = ANY(:ids)")


@dataclass(frozen=True)
class Tile:
    etag: str
    gzipped: bytes | None  # None when not modified; b"" when the tile is empty

    @property
    def empty(self) -> bool:
        return self.gzipped == b""


@cache
def declaration_fingerprint(layer: Layer) -> str:
    """Changes when a layer's declaration changes, so a redeploy never serves old tiles."""
    return hashlib.sha1(repr(layer).encode()).hexdigest()[:8]


class TileService:
    def __init__(self, engine: Engine, cache: TileCache) -> None:
        self.engine = engine
        self.cache = cache

    def tile(self, layers: tuple[Layer, ...], z: int, x: int, y: int, if_none_match=None) -> Tile:
        """The tile, gzipped; with ``if_none_match`` equal to its ETag only the ETag."""
        check_tile(z, x, y)
        with self.engine.connect() as conn:
            key = self._key(conn, layers, z, x, y)
            etag = '"' + hashlib.sha1(key.encode()).hexdigest()[:24] + '"'
            if if_none_match and etag in _etags(if_none_match):
                return Tile(etag, None)
            cached = self.cache.get(key)
            if cached is not None:
                return Tile(etag, cached)
            data = self._render(conn, layers, z, x, y)
        gzipped = gzip.compress(data, compresslevel=6, mtime=0) if data else b""
        self.cache.set(key, gzipped)
        return Tile(etag, gzipped)

    def render(self, layers: tuple[Layer, ...], z: int, x: int, y: int) -> bytes:
        """The raw tile, bypassing the cache (exports and tests)."""
        check_tile(z, x, y)
        with self.engine.connect() as conn:
            return self._render(conn, layers, z, x, y)

    @staticmethod
    def _render(conn, layers: tuple[Layer, ...], z: int, x: int, y: int) -> bytes:
        query = tile_query(layers, z)
        if query is None:
            return b""
        row = conn.exec_driver_sql(query.sql, query.bind(z, x, y)).first()
        return bytes(row[0]) if row and row[0] else b""

    def cache_key(self, layers: tuple[Layer, ...], z: int, x: int, y: int) -> str:
        """The key the tile is cached under now (it changes with any of the layers' data)."""
        with self.engine.connect() as conn:
            return self._key(conn, layers, z, x, y)

    @staticmethod
    def _key(conn, layers: tuple[Layer, ...], z: int, x: int, y: int) -> str:
        versions = dict(conn.execute(_VERSIONS, {"ids": [layer.id for layer in layers]}).all())
        parts = [
            f"{layer.id}@{versions.get(layer.id, 0)}.{declaration_fingerprint(layer)}"
            for layer in layers
        ]
        return f"gp:tile:{','.join(parts)}:{z}/{x}/{y}"


def _etags(header: str) -> set[str]:
    return {part.strip().removeprefix("W/") for part in header.split(",")}
