"""Feature API latency and throughput: bbox queries on buildings and roads, ours against tipg.

    python bench/features.py [--rounds 5] [--concurrency 4] [--workers 2]

For ``base.buildings`` and ``base.roads`` and for 100, 1,000 and 10,000 features it picks a box
around Vaduz that holds at least that many features (the smallest square, grown from the centre,
found with SQL; 10,000 is more than either layer holds, so that query returns the whole layer),
then asks ``/collections/{id}/items?bbox=…&limit=N`` of both servers: ours (``geoplatform serve``)
and tipg (from var/bench-venv, see bench/README.md), with the same property set and the
authoritative geometry column. Every request is checked: both must return the same number of
features. Prints a Markdown table and the throughput ratio the feature issue asks for (≥ 1.5).
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import urllib.parse
from dataclasses import dataclass

import psycopg
from harness import Result, Runner, geoplatform_server, http_get, tipg_server

from geoplatform.config import load_settings
from geoplatform.registry import Layer
from layers.base.layers import BUILDINGS, ROADS

VADUZ = (9.5209, 47.1410)
SIZES = (100, 1_000, 10_000)
TARGET = 1.5


@dataclass(frozen=True)
class Query:
    layer: Layer
    limit: int
    bbox: tuple[float, float, float, float]
    matched: int  # features in the box, by SQL

    def params(self) -> dict[str, str]:
        return {"bbox": ",".join(f"{v:.6f}" for v in self.bbox), "limit": str(self.limit)}

    def ours(self) -> str:
        return f"/collections/{self.layer.id}/items?{urllib.parse.urlencode(self.params())}"

    def tipg(self) -> str:
        names = ",".join(p.name for p in self.layer.properties)
        params = {**self.params(), "geom-column": self.layer.geometry_column, "properties": names}
        return f"/collections/{self.layer.table}/items?{urllib.parse.urlencode(params)}"

    @property
    def returned(self) -> int:
        return min(self.limit, self.matched)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="passes over the query list")
    parser.add_argument("--concurrency", type=int, default=4, help="client threads")
    parser.add_argument("--workers", type=int, default=2, help="server processes, each server")
    args = parser.parse_args()
    settings = load_settings()
    with psycopg.connect(settings.libpq_url) as conn:
        queries = [box_for(conn, layer, n) for layer in (BUILDINGS, ROADS) for n in SIZES]
    for query in queries:
        print(
            f"{query.layer.id} limit {query.limit:,}: bbox {query.params()['bbox']} "
            f"holds {query.matched:,}"
        )
    run = Runner(args.rounds, args.concurrency)
    results: dict[tuple[str, str], Result] = {}
    with geoplatform_server(settings.database_url, args.workers, {}) as port:
        fetch = http_get(port, Query.ours)
        check(port, queries, Query.ours, "ours")
        for query in queries:
            results["ours", label(query)] = run(f"ours {label(query)}", [query], fetch)
    with tipg_server(settings.libpq_url, args.workers) as port:
        fetch = http_get(port, Query.tipg)
        check(port, queries, Query.tipg, "tipg")
        for query in queries:
            results["tipg", label(query)] = run(f"tipg {label(query)}", [query], fetch)
    print_results(queries, results)
    return 0


def label(query: Query) -> str:
    return f"{query.layer.id} {query.returned:,}"


def box_for(conn: psycopg.Connection, layer: Layer, n: int) -> Query:
    """The smallest square around Vaduz (grown by 10 %) holding at least n features, else all."""
    table = layer.table  # from the registry, never from input
    total = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    half = 0.002
    while True:
        bbox = (VADUZ[0] - half, VADUZ[1] - half * 0.7, VADUZ[0] + half, VADUZ[1] + half * 0.7)
        matched = conn.execute(
            f"SELECT count(*) FROM {table} WHERE geom && ST_MakeEnvelope(%s, %s, %s, %s, 4490)",
            bbox,
        ).fetchone()[0]
        if matched >= n or matched == total:
            return Query(layer, n, bbox, matched)
        half *= 1.1


def check(port: int, queries: list[Query], path, name: str) -> None:
    """Both servers must answer with the features SQL counts, or the comparison means nothing."""
    for query in queries:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        conn.request("GET", path(query))
        body = json.loads(conn.getresponse().read())
        conn.close()
        got = len(body.get("features", []))
        if got != query.returned:
            sys.exit(f"{name}: {got} features for {label(query)}; SQL says {query.returned}")


def print_results(queries: list[Query], results: dict[tuple[str, str], Result]) -> None:
    print(
        "\n| query | features | ours median ms | ours p95 ms | ours req/s | tipg median ms "
        "| tipg p95 ms | tipg req/s | throughput ours/tipg | target |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for query in queries:
        ours, tipg = results["ours", label(query)], results["tipg", label(query)]
        ratio = ours.per_second / tipg.per_second
        met = "yes" if ratio >= TARGET else "NO"
        print(
            f"| {query.layer.id} bbox | {query.returned:,} | {ours.median_ms:.1f} "
            f"| {ours.p95_ms:.1f} | {ours.per_second:,.1f} | {tipg.median_ms:.1f} "
            f"| {tipg.p95_ms:.1f} | {tipg.per_second:,.1f} | {ratio:.2f} | ≥ {TARGET} {met} |"
        )


if __name__ == "__main__":
    sys.exit(main())
