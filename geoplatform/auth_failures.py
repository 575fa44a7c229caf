"""Failed authentications counted per client address, so that guessing keys never reaches the
database faster than a person could mistype one.

A key that is unknown, revoked or malformed counts one failure for the address it came from, in
a fixed window shared by every worker through Redis (per worker when Redis is away). Past
``limit`` failures in the window the address is answered 429 with ``Retry-After`` before its key
is looked up at all; a valid key from that address is refused too until the window ends, which
is the point: the lookups are what an attacker pays for. Recently failed keys are also
remembered for a few seconds, so the same wrong key sent in a loop costs no lookup.
"""

from __future__ import annotations

import threading
import time

from cachetools import TTLCache

from geoplatform.shared_redis import SharedRedis


class FailedAuthentications:
    def __init__(
        self,
        redis_url: str | None,
        prefix: str,
        limit: int,
        window_seconds: int = 60,
        remember_seconds: float = 5.0,
    ) -> None:
        self._redis = SharedRedis(redis_url, "failed-authentication limit")
        self._prefix = f"{prefix}:auth-failures"
        self.limit = limit
        self.window = window_seconds
        self._local: dict[tuple[str, int], int] = {}
        self._failed_keys: TTLCache[str, bool] = TTLCache(maxsize=10_000, ttl=remember_seconds)
        self._lock = threading.Lock()

    def _slot(self) -> int:
        return int(time.time()) // self.window

    def retry_after(self) -> int:
        return self.window - int(time.time()) % self.window

    def blocked(self, address: str) -> bool:
        """Whether ``address`` used up its failures in this window."""
        if self.limit <= 0:
            return False
        key, slot = f"{self._prefix}:{address}:{self._slot()}", self._slot()
        count = self._redis.call(
            lambda client: int(client.get(key) or 0), lambda: self._local_count(address, slot)
        )
        return count >= self.limit

    def failed(self, address: str, digest: str) -> None:
        slot = self._slot()
        key = f"{self._prefix}:{address}:{slot}"

        def count(client) -> None:
            pipe = client.pipeline()
            pipe.incr(key)
            pipe.expire(key, self.window * 2)
            pipe.execute()

        self._redis.call(count, lambda: self._count_locally(address, slot))
        with self._lock:
            self._failed_keys[digest] = True

    def recently_failed(self, digest: str) -> bool:
        with self._lock:
            return digest in self._failed_keys

    def _local_count(self, address: str, slot: int) -> int:
        with self._lock:
            return self._local.get((address, slot), 0)

    def _count_locally(self, address: str, slot: int) -> None:
        with self._lock:
            # Only this window's counts are kept.
            for stale in [k for k in self._local if k[1] != slot]:
                del self._local[stale]
            self._local[(address, slot)] = self._local.get((address, slot), 0) + 1

    def close(self) -> None:
        self._redis.close()
