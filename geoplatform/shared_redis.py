"""Redis as a helper that may be away: short timeouts, and a pause after a failure.

The tile cache and the heavy-request slots both use Redis to share state between workers, and
both work without it (slower, or counted per worker). A Redis that hangs must not hold every
request for the client's default timeout, and one that is down must not cost a failed connect on
every request: after a failure it is left alone for ``RETRY_SECONDS``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

import redis

log = logging.getLogger(__name__)
RETRY_SECONDS = 30.0
Value = TypeVar("Value")


class SharedRedis:
    def __init__(self, url: str | None, user: str) -> None:
        self._client = (
            redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
            if url
            else None
        )
        self._user = user
        self._down_until = 0.0

    @property
    def available(self) -> bool:
        return self._client is not None and time.monotonic() >= self._down_until

    def call(self, work: Callable[[redis.Redis], Value], otherwise: Callable[[], Value]) -> Value:
        """``work`` on the client; ``otherwise()`` when Redis is away or fails on the way."""
        if not self.available:
            return otherwise()
        try:
            return work(self._client)
        except redis.RedisError as exc:
            log.warning(
                "%s: Redis unavailable (%s); retrying in %ss", self._user, exc, RETRY_SECONDS
            )
            self._down_until = time.monotonic() + RETRY_SECONDS
            return otherwise()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
