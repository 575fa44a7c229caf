"""Bounded heavy work: no caller takes every thread, and cheap requests never wait behind it.

A worker runs ``GEOPLATFORM_THREADS`` requests at once. An analysis over the city (a clearance
check took 7.3 s and built 9.3 MB) holds one for seconds; before this, ten parallel clearance
checks from one viewer key held all ten threads of two workers and an anonymous tile waited
37.8 s. Views that are heavy say so (``@heavy``, optionally only when a predicate over the
request holds: a page of many features). A heavy request then needs two things first:

- a slot of its caller (API key, or client address without one): at most
  ``GEOPLATFORM_HEAVY_PER_CALLER`` at once across all workers, counted in Redis (each worker in
  memory while Redis is away). Over it: 429 with ``Retry-After``;
- a heavy slot of this worker: at most ``GEOPLATFORM_HEAVY_PER_WORKER`` at once, so the other
  threads stay free for tiles, small pages and ``/healthz``. None free within
  ``GEOPLATFORM_HEAVY_WAIT_SECONDS``: 503 with ``Retry-After``.
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Callable
from typing import TypeVar

import redis
from flask import Flask, current_app, g, request

from geoplatform.errors import ServiceUnavailable, TooManyRequests
from geoplatform.ratelimit import caller_key
from geoplatform.shared_redis import SharedRedis

View = TypeVar("View", bound=Callable)
ATTRIBUTE = "heavy_when"
# A caller's slot outlives a worker killed mid-request by at most this long.
SLOT_TTL_SECONDS = 600


class TooManyHeavyRequests(TooManyRequests):
    """The caller already runs as many heavy requests as it may; it should wait for one."""


def heavy(when: Callable[[], bool] | None = None) -> Callable[[View], View]:
    """Mark a view as heavy work, always or only when ``when()`` holds for the request."""

    def mark(view: View) -> View:
        setattr(view, ATTRIBUTE, when or (lambda: True))
        return view

    return mark


class CallerSlots:
    """Heavy requests in flight per caller, across workers (Redis) or in this worker (memory)."""

    def __init__(self, redis_url: str | None, prefix: str, per_caller: int) -> None:
        self.per_caller = per_caller
        self._prefix = f"{prefix}:heavy:"
        self._redis = SharedRedis(redis_url, "heavy slots")
        self._local: Counter[str] = Counter()
        self._lock = threading.Lock()

    def take(self, caller: str) -> Callable[[], None] | None:
        """A release function when the caller may start one more, else None."""
        return self._redis.call(
            lambda client: self._take_shared(client, caller), lambda: self._take_local(caller)
        )

    def _take_shared(self, client: redis.Redis, caller: str) -> Callable[[], None] | None:
        key = self._prefix + caller
        pipe = client.pipeline()
        pipe.incr(key)
        pipe.expire(key, SLOT_TTL_SECONDS)
        count, _ = pipe.execute()
        if count > self.per_caller:
            client.decr(key)
            return None

        def release() -> None:
            with contextlib.suppress(redis.RedisError):  # else the key expires on its own
                client.decr(key)

        return release

    def _take_local(self, caller: str) -> Callable[[], None] | None:
        with self._lock:
            if self._local[caller] >= self.per_caller:
                return None
            self._local[caller] += 1

        def release() -> None:
            with self._lock:
                self._local[caller] -= 1

        return release

    def close(self) -> None:
        self._redis.close()


def install_heavy_limits(
    app: Flask, slots: CallerSlots, per_worker: int, wait_seconds: float
) -> None:
    """Gate heavy views (register after authentication: slots are counted per caller)."""
    worker = threading.BoundedSemaphore(per_worker)
    retry_after = 1

    @app.before_request
    def take_heavy_slots() -> None:
        view = current_app.view_functions.get(request.endpoint or "")
        when = getattr(view, ATTRIBUTE, None)
        if when is None or not when():
            return
        release_caller = slots.take(caller_key())
        if release_caller is None:
            raise TooManyHeavyRequests(
                f"this caller already runs {slots.per_caller} heavy requests (analyses, exports, "
                "large pages) at once, the most it may; wait for one to finish or narrow the "
                "request (bbox, limit)",
                retry_after,
            )
        if not worker.acquire(timeout=wait_seconds):
            release_caller()
            raise ServiceUnavailable(
                f"the server is busy with {per_worker} heavy requests; retry shortly",
                retry_after,
            )
        g.release_heavy = lambda: (worker.release(), release_caller())

    @app.teardown_request
    def release_heavy_slots(_exc: BaseException | None) -> None:
        release = g.pop("release_heavy", None)
        if release is not None:
            release()
