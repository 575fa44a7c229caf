"""Burst isolation latency with a warm graph, on KY10 and on the whole demo network.

Run: ``scripts/with-db.sh .venv/bin/python bench/pipeline.py [--pipes 200]`` after ``make setup``
(which generates the demo networks). Imports KY10 (WNTR's copy, strategic N-1 valves) as network
``ky10`` when it is missing. For each network prints the cold graph build time, then for a
fixed sample of pipes (every k-th pipe by code):

- (a) the analysis in process (``isolate_burst`` on the warm graph),
- (b) the same plus the JSON/GeoJSON report,
- (c) ``POST /pipeline/isolation`` over HTTP on a running server (new connection each time),

as median, p95 and requests per second, and the ratio of each to the 100 ms target.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import time
from pathlib import Path

import wntr
from harness import Runner, geoplatform_server

from geoplatform.config import load_settings
from geoplatform.db import make_engine, transaction
from geoplatform.keys import create_key
from layers.pipeline.epanet import import_epanet
from layers.pipeline.isolation import isolate_burst
from layers.pipeline.network import load_network
from layers.pipeline.reports import isolation_report

TARGET_MS = 100.0
KY10 = Path(wntr.__file__).parent / "library" / "networks" / "ky10.inp"
# KY10's coordinates are in feet; this centres the model on Vaduz in UTM 32N (as its tests do).
KY10_PLACEMENT = {"crs": 32632, "offset": (-1_216_252.0, 4_045_307.4), "scale": 0.3048}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipes", type=int, default=200, help="pipes sampled per network")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    settings = load_settings(modules=["base", "pipeline"])
    engine = make_engine(settings)
    ensure_ky10(engine)
    with transaction(engine) as conn:
        record, key = create_key(conn, "emergency_management", "viewer", "bench/pipeline.py")
    runner = Runner(args.rounds, concurrency=4)
    rows = []
    try:
        # Keys are rate limited; the bench asks more often than any department would.
        unlimited = {"GEOPLATFORM_RATE_LIMIT": "10000000 per minute"}
        with geoplatform_server(settings.database_url, args.workers, unlimited) as port:
            for network in ("ky10", "demo_water", "demo_gas"):
                rows.append(bench_network(engine, runner, port, key, network, args.pipes))
    finally:
        with transaction(engine) as conn:
            conn.exec_driver_sql("DELETE FROM platform.api_keys WHERE id = %s", (record.id,))
        engine.dispose()
    print_table(rows)
    return 0


def ensure_ky10(engine) -> None:
    with engine.connect() as conn:
        present = conn.exec_driver_sql(
            "SELECT 1 FROM pipeline.networks WHERE code = 'ky10'"
        ).scalar()
    if not present:
        print("importing KY10 as network ky10 …", flush=True)
        import_epanet(
            engine, KY10, network="ky10", valve_layer="strategic:1", seed=1, **KY10_PLACEMENT
        )


def bench_network(engine, runner, port, key, network, sample) -> dict:
    with engine.connect() as conn:
        started = time.perf_counter()
        graph = load_network(conn, network)
        build_s = time.perf_counter() - started
    codes = sorted(graph.pipes)
    step = max(1, len(codes) // sample)
    cases = codes[::step][:sample]
    print(
        f"{network}: {len(graph.pipes):,} pipes, {len(graph.points):,} points, "
        f"{graph.node_count:,} nodes; graph built in {build_s:.2f} s",
        flush=True,
    )
    analysis = runner(
        f"{network} analysis", cases, lambda c: _size(isolate_burst(graph, pipe_code=c))
    )
    report = runner(
        f"{network} analysis+report",
        cases,
        lambda c: _size(isolation_report(graph, isolate_burst(graph, pipe_code=c))),
    )
    http = runner(f"{network} HTTP", cases, _post(port, key, network), warm=1)
    valves = [len(isolate_burst(graph, pipe_code=c).valves_to_close) for c in cases]
    return {
        "network": network,
        "pipes": len(graph.pipes),
        "build_s": build_s,
        "valves_median": statistics.median(valves),
        "results": (analysis, report, http),
    }


def _size(value) -> int:
    return len(json.dumps(value, default=str)) if isinstance(value, dict) else 0


def _post(port: int, key: str, network: str):
    def fetch(code: str) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            body = json.dumps({"network": network, "pipe": code})
            conn.request(
                "POST",
                "/pipeline/isolation",
                body=body,
                headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
            )
            response = conn.getresponse()
            payload = response.read()
        finally:
            conn.close()
        if response.status != 200:
            raise RuntimeError(f"{code}: HTTP {response.status} {payload[:200]!r}")
        return len(payload)

    return fetch


def print_table(rows: list[dict]) -> None:
    print()
    print(
        f"{'network':<11} {'pipes':>7} {'build s':>8} {'valves':>6}  "
        f"{'what':<16} {'median ms':>9} {'p95 ms':>8} {'req/s':>7} {'p95/target':>10}"
    )
    for row in rows:
        for result in row["results"]:
            what = result.name.split(" ", 1)[1]
            print(
                f"{row['network']:<11} {row['pipes']:>7,} {row['build_s']:>8.2f} "
                f"{row['valves_median']:>6}  {what:<16} {result.median_ms:>9.2f} "
                f"{result.p95_ms:>8.2f} {result.per_second:>7,.0f} "
                f"{result.p95_ms / TARGET_MS:>10.2f}"
            )


if __name__ == "__main__":
    os.environ.setdefault("GEOPLATFORM_MODULES", "base,pipeline")
    sys.exit(main())
