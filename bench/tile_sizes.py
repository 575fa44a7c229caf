"""Every tile of the loaded city at z0-16 is under 500 KB raw: measured, not assumed.

    python bench/tile_sizes.py [--maxzoom 16] [--processes 1]

Enumerates every Web Mercator tile over the union extent of the base layers and renders the
composite of all base layers with the statement the endpoint runs (``tile_query``), straight
through psycopg. A composite tile is the concatenation of its layers' tiles, so the largest
composite bounds every single-layer tile of the same z/x/y; per-layer sizes are measured too
(on every tile: it is cheap at city scale) and must add up to the composite. Prints a Markdown
table per zoom and exits 1 when any tile exceeds the limit.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from multiprocessing import Pool

import morecantile
import psycopg

from geoplatform.config import load_settings
from layers.base.layers import BASE_LAYERS
from tileserver.mvt import tile_query

LIMIT_BYTES = 500 * 1000  # the stricter reading of "500 KB"
TMS = morecantile.tms.get("WebMercatorQuad")
SINGLE = tuple((layer,) for layer in BASE_LAYERS)

_conn: psycopg.Connection | None = None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minzoom", type=int, default=0)
    parser.add_argument("--maxzoom", type=int, default=16)
    parser.add_argument("--processes", type=int, default=1)
    args = parser.parse_args()

    url = load_settings().libpq_url
    bbox = union_extent(url)
    tiles = [
        (t.z, t.x, t.y) for t in TMS.tiles(*bbox, zooms=list(range(args.minzoom, args.maxzoom + 1)))
    ]
    print(f"database {url.rsplit('/', 1)[-1]}, extent {format_bbox(bbox)}, {len(tiles):,} tiles")
    started = time.monotonic()
    with Pool(args.processes, initializer=connect, initargs=(url,)) as pool:
        sizes = pool.map(measure, tiles, chunksize=64)
    seconds = time.monotonic() - started
    print(f"rendered {len(tiles):,} composite + {len(tiles) * len(SINGLE):,} single-layer tiles")
    print(f"in {seconds:.1f} s with {args.processes} process(es)\n")

    too_big = print_per_zoom(tiles, sizes)
    print()
    print_per_layer(tiles, sizes)
    if too_big:
        listed = ", ".join(too_big[:20])
        print(f"\nFAIL: {len(too_big)} tile(s) over {LIMIT_BYTES:,} bytes: {listed}")
        return 1
    print(f"\nOK: every tile is under {LIMIT_BYTES:,} bytes raw (before gzip)")
    return 0


def union_extent(url: str) -> tuple[float, float, float, float]:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            """SELECT min(bbox[1]), min(bbox[2]), max(bbox[3]), max(bbox[4])
                 FROM platform.layer_state WHERE layer_id = ANY(%s)""",
            ([layer.id for layer in BASE_LAYERS],),
        ).fetchone()
    if row[0] is None:
        sys.exit("no base layer has data: load the demo city first (make setup)")
    return row


def connect(url: str) -> None:
    global _conn
    _conn = psycopg.connect(url, autocommit=True)


def measure(tile: tuple[int, int, int]) -> tuple[int, tuple[int, ...]]:
    """Raw bytes of the composite tile and of each single-layer tile."""
    composite = render(BASE_LAYERS, *tile)
    singles = tuple(render(layers, *tile) for layers in SINGLE)
    if composite != sum(singles):
        raise AssertionError(f"tile {tile}: composite {composite} != sum of layers {singles}")
    return composite, singles


def render(layers, z: int, x: int, y: int) -> int:
    query = tile_query(layers, z)
    if query is None:
        return 0
    row = _conn.execute(query.sql, query.bind(z, x, y)).fetchone()
    return len(row[0]) if row and row[0] else 0


def print_per_zoom(tiles, sizes) -> list[str]:
    print("| zoom | tiles | non-empty | max bytes | p95 bytes | largest tile |")
    print("|---:|---:|---:|---:|---:|---|")
    too_big = []
    for z in sorted({t[0] for t in tiles}):
        at_zoom = [(size, t) for t, (size, _) in zip(tiles, sizes, strict=True) if t[0] == z]
        filled = sorted(size for size, _ in at_zoom if size)
        largest, where = max(at_zoom)
        too_big += [f"{t[0]}/{t[1]}/{t[2]}" for size, t in at_zoom if size > LIMIT_BYTES]
        print(
            f"| {z} | {len(at_zoom):,} | {len(filled):,} | {largest:,} "
            f"| {percentile(filled, 95):,} "
            f"| {'/'.join(map(str, where)) if largest else '-'} |"
        )
    return too_big


def print_per_layer(tiles, sizes) -> None:
    print("| layer | non-empty tiles | max bytes | largest tile |")
    print("|---|---:|---:|---|")
    for index, (layer,) in enumerate(SINGLE):
        own = [(singles[index], tile) for tile, (_, singles) in zip(tiles, sizes, strict=True)]
        largest, where = max(own)
        filled = sum(1 for size, _ in own if size)
        print(f"| {layer.id} | {filled:,} | {largest:,} | {'/'.join(map(str, where))} |")


def percentile(values: list[int], q: int) -> int:
    if len(values) < 2:
        return values[0] if values else 0
    return round(statistics.quantiles(values, n=100, method="inclusive")[q - 1])


def format_bbox(bbox) -> str:
    return ",".join(f"{v:.5f}" for v in bbox)


if __name__ == "__main__":
    sys.exit(main())
