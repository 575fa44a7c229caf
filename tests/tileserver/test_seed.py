"""Seeding fills the shared Redis cache under the keys the endpoint looks up."""

from __future__ import annotations

import gzip
import re

import pytest
import redis
from click.testing import CliRunner

from layers.base.layers import BUILDINGS, ROADS
from tileserver.cache import TileCache
from tileserver.cli import seed_tiles_command
from tileserver.seed import layers_extent, tiles_over
from tileserver.tiles import TileService

LAYERS = (ROADS, BUILDINGS)
SPEC = "base.roads,base.buildings"


def seed(settings, *args):
    return CliRunner().invoke(seed_tiles_command, list(args), obj=settings)


def test_seeded_tiles_are_in_redis_under_the_service_keys(
    demo_settings, demo_engine, client, closing
):
    tiles = tiles_over(layers_extent(demo_engine, LAYERS), 11, 14)
    # A cache with no memory level: only Redis, shared by every worker, can answer.
    probe = TileService(demo_engine, TileCache(demo_settings.redis_url, 0, 60))
    closing.callback(probe.close)
    keys = [probe.cache_key(LAYERS, t.z, t.x, t.y) for t in tiles]
    shared = redis.Redis.from_url(demo_settings.redis_url)
    closing.callback(shared.close)
    shared.delete(*keys)
    assert all(probe.cache.get(key) is None for key in keys)

    result = seed(demo_settings, "--layers", SPEC, "--minzoom", "11", "--maxzoom", "14")

    assert result.exit_code == 0, result.output
    fresh = TileCache(demo_settings.redis_url, 0, 60)
    closing.callback(fresh.close)
    stored = {tile: fresh.get(key) for tile, key in zip(tiles, keys, strict=True)}
    assert all(value is not None for value in stored.values())
    empty = sum(value == b"" for value in stored.values())
    size = sum(len(value) for value in stored.values())
    summary = re.search(r"seeded ([\d,]+) tiles \(([\d,]+) empty\), ([\d,]+) bytes", result.stdout)
    assert summary, result.stdout
    assert [int(n.replace(",", "")) for n in summary.groups()] == [len(tiles), empty, size]
    assert 0 < empty < len(tiles)
    assert 0 < shared.ttl(keys[0]) <= demo_settings.tile_cache_ttl

    for tile, value in list(stored.items())[:: max(1, len(stored) // 25)]:
        response = client.get(f"/tiles/{SPEC}/{tile.z}/{tile.x}/{tile.y}.mvt")
        if value == b"":
            assert response.status_code == 204
        else:
            assert response.data == gzip.decompress(value)


def test_seeding_twice_keeps_the_same_entries(demo_settings, demo_load):
    args = ("--layers", "base.water", "--minzoom", "9", "--maxzoom", "11")
    first, second = seed(demo_settings, *args), seed(demo_settings, *args)
    assert first.exit_code == second.exit_code == 0, first.output + second.output
    count = re.compile(r"seeded ([\d,]+) tiles \(([\d,]+) empty\), ([\d,]+) bytes")
    assert count.search(first.stdout).groups() == count.search(second.stdout).groups()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--layers", "base.roads,base.nowhere"), "unknown layer base.nowhere"),
        (("--layers", "base.roads,"), "malformed layer list"),
        (("--layers", "base.roads", "--minzoom", "12", "--maxzoom", "10"), "minzoom 12 is greater"),
        (("--layers", "base.roads", "--maxzoom", "25"), "25 is not in the range 0<=x<=24"),
        (("--layers", "base.roads", "--minzoom", "-1"), "-1 is not in the range 0<=x<=24"),
        (("--layers", "base.roads", "--bbox", "9.5,47.1,9.6"), "is not four comma-separated"),
        (("--layers", "base.roads", "--bbox", "a,b,c,d"), "is not four comma-separated"),
        (("--layers", "base.roads", "--bbox", "9.6,47.1,9.5,47.2"), "west < east"),
        (("--layers", "base.roads", "--bbox", "9.5,47.2,9.6,47.1"), "south < north"),
        (("--minzoom", "3"), "Missing option '--layers'"),
    ],
)
def test_bad_arguments_are_clear_errors(demo_settings, demo_load, args, message):
    result = seed(demo_settings, *args)
    assert result.exit_code == 2
    assert message in result.output


def test_unreachable_redis_is_an_error_not_a_silent_no_op(demo_settings, demo_load):
    # Port 1 is never a Redis: the connection is refused at once.
    settings = demo_settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    result = seed(settings, "--layers", "base.roads", "--minzoom", "10", "--maxzoom", "10")
    assert result.exit_code == 1
    assert "Redis at redis://127.0.0.1:1/0 does not answer" in result.output
