"""Gazetteer latency and throughput: the quality table's queries against ``geoplatform serve``.

    python bench/search.py [--rounds 5] [--concurrency 4] [--workers 2]

Sends every query of ``tests/search/gazetteer_cases.csv`` (real names of the demo city as
people type them: exact, partial, typos, ß/ss, umlauts, Chinese) to ``/search?q=…`` as it is,
then with ``near`` (Vaduz centre) and ``limit=50``, and ``/reverse`` at points over the city, on
a server started on a free port (``DATABASE_URL`` picks the database; it must be at the
migrations' head with the demo city loaded: ``make setup``). Every answer must be a 200. Prints
median and p95 latency (sequential requests, each on a new connection), requests/s from
``--concurrency`` client threads, and the issue's target: median under 50 ms.
"""

from __future__ import annotations

import argparse
import csv
import sys
import urllib.parse
from pathlib import Path

from harness import REPO_ROOT, Result, Runner, geoplatform_server, http_get

from geoplatform.config import load_settings

CASES = REPO_ROOT / "tests" / "search" / "gazetteer_cases.csv"
VADUZ = (9.5209, 47.1410)
TARGET_MEDIAN_MS = 50.0
# Points over the city from Balzers in the south to Ruggell in the north, and Malbun up east.
REVERSE_POINTS = [
    (9.5009, 47.0660),
    (9.5260, 47.0930),
    (9.5420, 47.1180),
    (9.5209, 47.1410),
    (9.5095, 47.1650),
    (9.5600, 47.2000),
    (9.5280, 47.2450),
    (9.5850, 47.1000),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="passes over the query list")
    parser.add_argument("--concurrency", type=int, default=4, help="client threads")
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    args = parser.parse_args()
    queries = read_queries(CASES)
    near = ",".join(map(str, VADUZ))
    scenarios = {
        "search q": [search_path(q) for q in queries],
        "search q, near, limit 50": [search_path(q, near=near, limit=50) for q in queries],
        "reverse": [f"/reverse?lon={lon}&lat={lat}" for lon, lat in REVERSE_POINTS],
    }
    run = Runner(args.rounds, args.concurrency)
    settings = load_settings()
    print(f"{len(queries)} queries from {CASES.relative_to(REPO_ROOT)}")
    with geoplatform_server(settings.database_url, args.workers, {}) as port:
        fetch = http_get(port, lambda path: path)
        results = [run(name, paths, fetch) for name, paths in scenarios.items()]
    print_results(results)
    return 0 if all(r.median_ms < TARGET_MEDIAN_MS for r in results) else 1


def read_queries(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as file:
        return [row["query"] for row in csv.DictReader(file)]


def search_path(query: str, **params) -> str:
    return "/search?" + urllib.parse.urlencode({"q": query, **params})


def print_results(results: list[Result]) -> None:
    print("\n| requests | cases | median ms | p95 ms | req/s | target |")
    print("|---|---:|---:|---:|---:|---|")
    for result in results:
        met = "yes" if result.median_ms < TARGET_MEDIAN_MS else "NO"
        print(
            f"| {result.name} | {result.cases} | {result.median_ms:.1f} | {result.p95_ms:.1f} "
            f"| {result.per_second:,.0f} | median < {TARGET_MEDIAN_MS:.0f} ms {met} |"
        )


if __name__ == "__main__":
    sys.exit(main())
