"""Heavy requests are bounded per caller and per worker; cheap ones never wait behind them.

Over real HTTP against ``geoplatform serve`` (two workers of five threads) on the demo city:
one key sends ten pages of 10,000 buildings at once, as the audit's viewer sent ten clearance
checks, while an anonymous client keeps asking for cheap things."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from geoplatform.db import transaction
from geoplatform.keys import create_key
from geoplatform.workload import CallerSlots
from tests.served import serve

BIG_PAGE = "/collections/base.buildings/items?limit=10000"
CHEAP = ("/collections", "/tiles/base.roads/14/8625/5753.mvt", "/healthz")


@pytest.fixture(scope="module")
def viewer_key(demo_engine) -> str:
    with transaction(demo_engine) as conn:
        return create_key(conn, "water_utility", "viewer", "workload tests")[1]


def test_one_caller_cannot_take_every_thread(demo_settings, demo_load, viewer_key):
    env = {"DATABASE_URL": demo_settings.database_url, "REDIS_URL": "redis://127.0.0.1:6379/12"}
    with serve(env) as server:
        headers = {"X-API-Key": viewer_key}
        base = server.base

        def big_page(_: int) -> requests.Response:
            return requests.get(base + BIG_PAGE, headers=headers, timeout=60)

        cheap_seconds: list[float] = []
        done = threading.Event()

        def cheap_traffic() -> None:
            with requests.Session() as session:
                while not done.is_set():
                    for path in CHEAP:
                        started = time.monotonic()
                        assert session.get(base + path, timeout=30).status_code == 200
                        cheap_seconds.append(time.monotonic() - started)

        watcher = threading.Thread(target=cheap_traffic)
        watcher.start()
        try:
            with ThreadPoolExecutor(10) as pool:
                answers = list(pool.map(big_page, range(10)))
        finally:
            done.set()
            watcher.join(30)

    statuses = [a.status_code for a in answers]
    assert set(statuses) <= {200, 429}, statuses
    assert statuses.count(429) >= 5, statuses
    assert 200 in statuses
    refused = next(a for a in answers if a.status_code == 429)
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.json()["description"].startswith(
        "this caller already runs 2 heavy requests (analyses, exports, large pages) at once"
    )
    full = next(a for a in answers if a.status_code == 200)
    assert len(full.json()["features"]) == 8994
    assert cheap_seconds and max(cheap_seconds) < 2.0, sorted(cheap_seconds)[-5:]


def test_a_small_page_is_not_heavy(client):
    for _ in range(5):
        assert client.get("/collections/base.buildings/items?limit=1000").status_code == 200


def test_slots_are_counted_per_caller_in_memory_when_redis_is_away():
    slots = CallerSlots("redis://127.0.0.1:1/0", "gp-test", per_caller=2)
    try:
        first, second = slots.take("key:a"), slots.take("key:a")
        assert first and second
        assert slots.take("key:a") is None
        assert slots.take("key:b") is not None  # another caller has its own
        first()
        assert slots.take("key:a") is not None
    finally:
        slots.close()
