"""The tile service: versions -> cache key -> cache or one SQL statement -> gzip -> cache."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache

from isal import igzip
from sqlalchemy import Engine

from geoplatform.etags import none_match
from geoplatform.layer_versions import LayerVersions
from geoplatform.notifications import Notifications
from geoplatform.reads import ReadPool, Reads, libpq_url
from geoplatform.registry import Layer
from tileserver.cache import TileCache
from tileserver.mvt import check_tile, tile_query

# Every uncached tile waits for its compression. ISA-L (python-isal, the same gzip format)
# compresses a 45 KB composite tile of Vaduz at its level 2 in 0.12 ms to 27.4 KB; zlib took
# 0.70 ms at level 1 for 27.3 KB. zlib's level 6 saved another 4 % of bytes for 1.7x its time.
GZIP_LEVEL = 2
# Marks the ETag of a tile sent without gzip (TileService.tile).
IDENTITY_ETAG_SUFFIX = "-identity"


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


# Tile statements differ only in z/x/y and the tolerances, and each finds its rows through the
# GiST index on ``&&`` whatever the tile: the generic plan is the right plan. PostgreSQL's
# default (``auto``) plans every execution anew until a statement has run five times on one
# connection, and on the demo city then often stays there: a street-level composite took 3.0 ms
# with a plan per execution against 1.4 ms with the generic plan, a z12 one 11.2 against 7.5 ms.
TILE_SESSION = {"plan_cache_mode": "force_generic_plan"}


class TileService:
    """Tiles of an engine's database; a cached tile costs no database round trip at all.

    Statements run on autocommit connections of a ``ReadPool`` (see there why); the layers'
    versions come from a ``LayerVersions`` listener, so a cache hit is a dictionary lookup.
    """

    def __init__(
        self,
        engine: Engine,
        cache: TileCache,
        reads: Reads | None = None,
        notifications: Notifications | None = None,
    ) -> None:
        self.engine = engine
        self.cache = cache
        self.reads: Reads = reads or ReadPool.for_engine(
            engine, "geoplatform-tiles", session=TILE_SESSION
        )
        self.versions = LayerVersions(self.reads, notifications or libpq_url(engine))

    def tile(
        self,
        layers: tuple[Layer, ...],
        z: int,
        x: int,
        y: int,
        if_none_match: str | None = None,
        *,
        identity: bool = False,
    ) -> Tile:
        """The tile, gzipped; with ``if_none_match`` holding its ETag only the ETag.

        ``identity``: the ETag is that of the tile sent decompressed, which must differ from the
        gzipped tile's (RFC 9110, 8.8.3: a strong validator changes with the content coding), or
        a cache holding one could revalidate it with the other's."""
        check_tile(z, x, y)
        key = self.cache_key(layers, z, x, y)
        digest = hashlib.sha1(key.encode()).hexdigest()[:24]
        etag = f'"{digest}{IDENTITY_ETAG_SUFFIX if identity else ""}"'
        if none_match(if_none_match, etag):
            return Tile(etag, None)
        cached = self.cache.get(key)
        if cached is not None:
            return Tile(etag, cached)
        data = self.render(layers, z, x, y)
        gzipped = igzip.compress(data, GZIP_LEVEL, mtime=0) if data else b""
        self.cache.set(key, gzipped)
        return Tile(etag, gzipped)

    def render(self, layers: tuple[Layer, ...], z: int, x: int, y: int) -> bytes:
        """The raw tile, bypassing the cache (exports and tests)."""
        check_tile(z, x, y)
        query = tile_query(layers, z)
        if query is None:
            return b""
        # Binary: the tile arrives as its bytes, not as hex text of twice the size (the median
        # composite tile of bench/tiles.py, 24 KB, came 0.13 ms sooner).
        data = self.reads.value(query.native[0], query.bind_native(z, x, y), binary=True)
        return bytes(data) if data else b""

    def cache_key(self, layers: tuple[Layer, ...], z: int, x: int, y: int) -> str:
        """The key the tile is cached under now (it changes with any of the layers' data)."""
        versions = self.versions.get(layer.id for layer in layers)
        parts = [
            f"{layer.id}@{versions[layer.id]}.{declaration_fingerprint(layer)}" for layer in layers
        ]
        return f"gp:tile:{','.join(parts)}:{z}/{x}/{y}"

    def close(self) -> None:
        self.versions.close()
        self.reads.close()
        self.cache.close()
