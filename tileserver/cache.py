"""Two-level tile cache: an in-process LRU in front of a shared Redis.

Keys carry the data versions of every layer in the tile, so an entry can never be stale: a
changed layer changes the key. Redis being down only makes tiles slower; after a failure the
cache stops asking Redis for a while instead of paying a timeout on every request.
"""

from __future__ import annotations

import threading

from cachetools import LRUCache

from geoplatform.shared_redis import SharedRedis


class TileCache:
    def __init__(self, redis_url: str | None, memory_bytes: int, ttl_seconds: int) -> None:
        self._memory: LRUCache = LRUCache(maxsize=max(memory_bytes, 1), getsizeof=_size)
        self._lock = threading.Lock()
        self._ttl = ttl_seconds
        self._redis = SharedRedis(redis_url, "tile cache")

    def get(self, key: str) -> bytes | None:
        with self._lock:
            value = self._memory.get(key)
        if value is not None:
            return value
        value = self._redis.call(lambda r: r.get(key), lambda: None)
        if value is not None:
            self._remember(key, value)
        return value

    def set(self, key: str, value: bytes) -> None:
        self._remember(key, value)
        self._redis.call(lambda r: r.set(key, value, ex=self._ttl), lambda: None)

    def close(self) -> None:
        """Closes the Redis connections (the memory level needs nothing)."""
        self._redis.close()

    def clear_memory(self) -> None:
        with self._lock:
            self._memory.clear()

    @property
    def redis_available(self) -> bool:
        return self._redis.available

    def _remember(self, key: str, value: bytes) -> None:
        if _size(value) <= self._memory.maxsize:
            with self._lock:
                self._memory[key] = value


def _size(value: bytes) -> int:
    # Empty tiles are cached too; count them as a small entry so the LRU bound stays meaningful.
    return len(value) + 64
