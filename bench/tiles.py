"""Tile latency and throughput: raw SQL, our endpoint uncached and cached, and tipg.

    python bench/tiles.py [--rounds 10] [--concurrency 4] [--workers 2]

Over a fixed list of real tiles of the demo city (centre and edges, z8-16; composites of all
base layers and single layers) it measures, on this machine and only against 127.0.0.1:

  (a) the statement ``tile_query`` builds, run directly with psycopg (and again as (a') with the
      session settings our tile connections use: generic plans);
  (b) ``/tiles/{layers}/{z}/{x}/{y}.mvt`` of ``geoplatform serve`` with no cache at all
      (GEOPLATFORM_TILE_CACHE_MB=0 and an empty REDIS_URL);
  (c) the same endpoint of a second server with its caches warmed;
  (d) tipg over the same tables (``/collections/{schema.table}/tiles/WebMercatorQuad/...``), for
      the single-layer tiles only: tipg has no composite tiles. It runs from its own virtualenv
      (var/bench-venv; see bench/README.md) because it pins its own dependencies.

Target after target, every server with the same number of worker processes. Latency (median,
p95) comes from sequential requests of one client, libcurl through pycurl for the servers
(harness.curl_get) and psycopg for the SQL; requests/s of raw SQL from ``--concurrency`` client
threads, of the servers from wrk on ``--concurrency`` connections (Python threads cannot load a
server answering from its cache; harness.wrk_load). Requests go over kept-alive connections, as
MapLibre, GDAL and QGIS send them, for every server alike; the rows "new connection per tile"
open one per request. Prints Markdown tables and the issue's ratios.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
from dataclasses import dataclass

import morecantile
import psycopg
from harness import Result, Runner, curl_get, geoplatform_server, tipg_server, wrk_load

from geoplatform.config import load_settings
from geoplatform.reads import session_options
from geoplatform.registry import Layer
from layers.base.layers import BASE_LAYERS, BUILDINGS, LANDUSE, ROADS
from tileserver.mvt import tile_query
from tileserver.tiles import TILE_SESSION

TMS = morecantile.tms.get("WebMercatorQuad")

VADUZ = (9.5209, 47.1410)  # the centre
SCHAAN = (9.5095, 47.1650)
TRIESEN = (9.5283, 47.1075)
BALZERS = (9.5003, 47.0663)  # southern edge
RUGGELL = (9.5290, 47.2450)  # northern edge
MALBUN = (9.6090, 47.1020)  # eastern edge, in the mountains

# (layers, places, zooms): what a map of the city asks for, from overview to street level.
TILE_PLAN = (
    (BASE_LAYERS, (VADUZ, SCHAAN, BALZERS, RUGGELL, MALBUN), (8, 10, 12, 14, 15, 16)),
    ((ROADS,), (VADUZ, BALZERS, RUGGELL), (10, 12, 14, 16)),
    ((BUILDINGS,), (VADUZ, SCHAAN, TRIESEN), (13, 14, 15, 16)),
    ((LANDUSE,), (VADUZ, MALBUN), (9, 12, 14)),
)


@dataclass(frozen=True)
class Case:
    layers: tuple[Layer, ...]
    z: int
    x: int
    y: int

    @property
    def single(self) -> bool:
        return len(self.layers) == 1

    @property
    def ours(self) -> str:
        ids = ",".join(layer.id for layer in self.layers)
        return f"/tiles/{ids}/{self.z}/{self.x}/{self.y}.mvt"

    @property
    def tipg(self) -> str:
        (layer,) = self.layers
        # Our geometry column in Web Mercator and our property set: tipg's best case.
        names = ",".join(p.name for p in layer.properties_at(self.z))
        return (
            f"/collections/{layer.table}/tiles/WebMercatorQuad/{self.z}/{self.x}/{self.y}"
            f"?geom-column={layer.mercator_column}&properties={names}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=10, help="passes over the tile list")
    parser.add_argument("--concurrency", type=int, default=4, help="client threads")
    parser.add_argument("--workers", type=int, default=2, help="server processes, each server")
    args = parser.parse_args()
    settings = load_settings()
    cases = tile_cases()
    singles = [case for case in cases if case.single]
    print(
        f"database {settings.libpq_url.rsplit('/', 1)[-1]}: {len(cases)} tiles "
        f"({len(cases) - len(singles)} composite of all {len(BASE_LAYERS)} base layers, "
        f"{len(singles)} single-layer), {args.rounds} rounds, {args.concurrency} client threads, "
        f"{args.workers} worker processes per server\n"
    )
    run = Runner(args.rounds, args.concurrency)
    sql = connection_pool(settings.libpq_url)
    results: dict[str, Result] = {}
    results["a"] = run("(a) raw SQL, psycopg", cases, lambda case: render_sql(sql, case))
    results["a1"] = run("(a) raw SQL, single-layer", singles, lambda c: render_sql(sql, c))
    # The same statements with the session settings our tile connections use (generic plans).
    tuned = connection_pool(settings.libpq_url, TILE_SESSION)
    results["a2"] = run("(a') raw SQL, our session settings", cases, lambda c: render_sql(tuned, c))
    uncached = {"GEOPLATFORM_TILE_CACHE_MB": "0", "REDIS_URL": ""}
    with geoplatform_server(settings.database_url, args.workers, uncached) as port:
        results |= server_rows(run, "b", "(b) endpoint, uncached", port, ours, cases, singles)
        # (a) and (b) again, each tile asked of both in random order: the ratio without the
        # drift of the machine between the two runs above.
        paired = run.paired(cases, lambda c: render_sql(sql, c), curl_get(port, ours))
    with geoplatform_server(settings.database_url, args.workers, {}) as port:
        results |= server_rows(run, "c", "(c) endpoint, cached", port, ours, cases, singles)
    with tipg_server(settings.libpq_url, args.workers) as port:
        # Over kept-alive connections uvicorn's answers stall on delayed ACKs (tipg's median
        # tile took 60 ms instead of 19 ms here): tipg is compared in its better mode.
        results |= server_rows(run, "d", "(d) tipg", port, tipg, singles)
    print_results(results, paired)
    return 0


def server_rows(run, key, name, port, path, cases, singles=None) -> dict[str, Result]:
    """A server's rows: over kept-alive connections (``key``; ``key1`` for the single-layer
    tiles), and with a new connection per tile (``keyn``).

    Three warm passes first: each worker's connections prepare each statement once (a first
    execution on a new connection takes 15-30 ms: catalogue caches, PREPARE), and (a) ran each
    statement before it was timed too."""
    kept = {"fetch": curl_get(port, path), "load": wrk_load(port, path), "warm": 3}
    rows = {key: run(name, cases, **kept)}
    if singles:
        rows[f"{key}1"] = run(f"{name}, single-layer", singles, **kept)
    rows[f"{key}n"] = run(
        f"{name}, new connection per tile",
        cases,
        curl_get(port, path, keep_alive=False),
        load=wrk_load(port, path, close=True),
    )
    return rows


def ours(case: Case) -> str:
    return case.ours


def tipg(case: Case) -> str:
    return case.tipg


def tile_cases() -> list[Case]:
    cases = []
    for layers, places, zooms in TILE_PLAN:
        for z in zooms:
            for lon, lat in places:
                tile = TMS.tile(lon, lat, z)
                cases.append(Case(layers, z, tile.x, tile.y))
    return list(dict.fromkeys(cases))


def connection_pool(url: str, session: dict[str, str] | None = None):
    """One connection per client thread: psycopg connections are not shared across threads."""
    local = threading.local()

    def connection() -> psycopg.Connection:
        if not hasattr(local, "conn"):
            # As fast as psycopg runs it: prepared at once, $n placeholders sent unparsed, the
            # tile's bytea fetched in binary (render_sql).
            local.conn = psycopg.connect(
                url,
                autocommit=True,
                prepare_threshold=0,
                cursor_factory=psycopg.RawCursor,
                **session_options(session),
            )
        return local.conn

    return connection


def render_sql(connection, case: Case) -> int:
    return len(tile_bytes(connection, case))


def tile_bytes(connection, case: Case) -> bytes:
    """The tile, from the statement the endpoint runs, on the thread's ``connection()``."""
    query = tile_query(case.layers, case.z)
    if query is None:
        return b""
    sql, _ = query.native
    params = query.bind_native(case.z, case.x, case.y)
    row = connection().execute(sql, params, binary=True).fetchone()
    return bytes(row[0]) if row and row[0] else b""


def print_results(results: dict[str, Result], paired: list[list[float]]) -> None:
    print("\n| target | tiles | median ms | p95 ms | req/s | mean body bytes |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in results.values():
        print(
            f"| {r.name} | {r.cases} | {r.median_ms:.2f} | {r.p95_ms:.2f} "
            f"| {r.per_second:,.0f} | {r.mean_bytes:,.0f} |"
        )
    a, b, c = results["a"], results["b"], results["c"]
    d = max(results["d"], results["dn"], key=lambda r: r.per_second)
    b1, c1, a1 = results["b1"], results["c1"], results["a1"]
    bn, cn = results["bn"], results["cn"]
    rows = (
        ("b/a median latency (endpoint uncached vs raw SQL)", b.median_ms / a.median_ms, "≤ 1.25"),
        ("b/a p95 latency", b.p95_ms / a.p95_ms, "-"),
        ("b/a' median latency (same session settings)", b.median_ms / results["a2"].median_ms, "-"),
        ("b/a median latency, single-layer tiles", b1.median_ms / a1.median_ms, "-"),
        (
            "b/a median latency, paired: each tile of (a) and (b) in random order",
            statistics.median(paired[1]) / statistics.median(paired[0]),
            "-",
        ),
        ("b/a throughput (raw SQL vs endpoint uncached)", a.per_second / b.per_second, "-"),
        ("c/b median latency (cached vs uncached)", c.median_ms / b.median_ms, "≤ 0.10"),
        ("c/b throughput (cached vs uncached)", c.per_second / b.per_second, "≥ 10"),
        ("c/b median latency, new connection per tile", cn.median_ms / bn.median_ms, "-"),
        ("c/b throughput, new connection per tile", cn.per_second / bn.per_second, "-"),
        (
            "ours uncached / tipg throughput (tipg's better mode)",
            b1.per_second / d.per_second,
            "≥ 2",
        ),
        ("ours cached / tipg throughput (tipg's better mode)", c1.per_second / d.per_second, "-"),
        ("tipg (better mode) / ours uncached median latency", d.median_ms / b1.median_ms, "-"),
    )
    print("\n| ratio | value | target | met |")
    print("|---|---:|---:|---|")
    for label, value, target in rows:
        print(f"| {label} | {value:.2f} | {target} | {verdict(value, target)} |")


def verdict(value: float, target: str) -> str:
    if target == "-":
        return ""
    bound = float(target.split()[1])
    return "yes" if (value <= bound if target.startswith("≤") else value >= bound) else "NO"


if __name__ == "__main__":
    sys.exit(main())
