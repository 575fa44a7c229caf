"""Tile ranges over a bounding box, and pre-filling the shared tile cache with them.

Seeding goes through ``TileService.tile``, the same path as a request, so the seeded entries sit
under exactly the keys the endpoint looks up (layer data versions included) and an edit after
seeding makes them unreachable instead of stale.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import morecantile
import redis
from sqlalchemy import Engine

from geoplatform.layer_state import layer_states
from geoplatform.registry import Layer
from tileserver.mvt import MAX_ZOOM
from tileserver.tilejson import union_of
from tileserver.tiles import TileService

BBox = tuple[float, float, float, float]
TMS = morecantile.tms.get("WebMercatorQuad")


class TileRangeArgumentError(ValueError):
    """A zoom range or bounding box no tile range can be made of."""


class CacheUnavailable(RuntimeError):
    """Redis cannot be reached, so seeding would fill nothing other processes can see."""


@dataclass(frozen=True)
class SeedSummary:
    tiles: int
    empty: int
    bytes: int  # gzipped, as stored in the cache
    seconds: float


def check_zoom_range(minzoom: int, maxzoom: int) -> None:
    for name, z in (("minzoom", minzoom), ("maxzoom", maxzoom)):
        if not 0 <= z <= MAX_ZOOM:
            raise TileRangeArgumentError(f"{name} {z} is outside 0..{MAX_ZOOM}")
    if minzoom > maxzoom:
        raise TileRangeArgumentError(f"minzoom {minzoom} is greater than maxzoom {maxzoom}")


def check_bbox(bbox: BBox) -> None:
    west, south, east, north = bbox
    if not (-180 <= west < east <= 180):
        raise TileRangeArgumentError(
            f"bbox {bbox}: need -180 <= west < east <= 180 (longitudes in degrees)"
        )
    if not (-90 <= south < north <= 90):
        raise TileRangeArgumentError(
            f"bbox {bbox}: need -90 <= south < north <= 90 (latitudes in degrees)"
        )


def layers_extent(engine: Engine, layers: tuple[Layer, ...]) -> BBox | None:
    """Union of the layers' recorded extents (lon/lat), None when no layer has data."""
    with engine.connect() as conn:
        states = layer_states(conn)
    return union_of([states[x.id].bbox for x in layers if x.id in states and states[x.id].bbox])


def tiles_over(bbox: BBox, minzoom: int, maxzoom: int) -> list[morecantile.Tile]:
    """Every Web Mercator tile meeting the bbox at zooms minzoom..maxzoom.

    Extents are recorded in CGCS2000 longitude/latitude, which agrees with WGS84 to a few
    centimetres, far below a tile at any zoom, so they go to morecantile unchanged.
    """
    check_zoom_range(minzoom, maxzoom)
    check_bbox(bbox)
    return list(TMS.tiles(*bbox, zooms=list(range(minzoom, maxzoom + 1))))


def check_redis(redis_url: str) -> None:
    if not redis_url:
        raise CacheUnavailable("REDIS_URL is empty: there is no shared cache to seed")
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise CacheUnavailable(f"Redis at {redis_url} does not answer: {exc}") from None
    finally:
        client.close()


def seed_tiles(
    service: TileService,
    layers: tuple[Layer, ...],
    tiles: Iterable[morecantile.Tile],
    on_tile: Callable[[], None] | None = None,
) -> SeedSummary:
    """Make every tile once through the service so it lands in its cache, empty ones included."""
    started = time.monotonic()
    count = empty = size = 0
    for tile in tiles:
        made = service.tile(layers, tile.z, tile.x, tile.y)
        count += 1
        empty += made.empty
        size += len(made.gzipped or b"")
        if on_tile:
            on_tile()
    if not service.cache.redis_available:
        # The cache stops writing to Redis after a failure; what was seeded is then incomplete.
        raise CacheUnavailable("Redis failed while seeding; the shared cache is incomplete")
    return SeedSummary(count, empty, size, time.monotonic() - started)
