"""Where (b) - (a) of bench/tiles.py goes: the HTTP hop any tile server pays here, and our share.

    python bench/tile_floor.py [--rounds 10] [--workers 2]

Over the tiles of bench/tiles.py, each tile asked of every target in a new random order each time
(so what drifts on the machine falls on all alike), it measures the latency of:

  (a) the statement ``tile_query`` builds, run directly with psycopg, as bench/tiles.py's (a);
  (f) the floor: bench/floor_app.minimal, which only matches the path, runs the same statement on
      its thread's own connection and gzips it, served by Granian with the arguments
      ``geoplatform serve`` uses;
  (b) our endpoint, uncached (bench/floor_app.stamped: ``create_app`` with the statement timed),
      in the same Granian.

Both servers stamp their answers (X-Stamps, see floor_app), which splits each request into the
hop in (client's send to handler), before the statement, the statement, after the statement
(to the reply's headers), and the hop out (to the client's last byte). Prints a Markdown table of
medians and the ratios to (a).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from harness import REPO_ROOT, Runner, curl_get, free_port, running
from tiles import Case, connection_pool, render_sql, tile_cases

from geoplatform.cli import granian_arguments
from geoplatform.config import load_settings

GRANIAN = Path(sys.executable).with_name("granian")
SEGMENTS = ("hop in", "before statement", "statement", "after statement", "hop out")
FACTORIES = (("(f) floor: path, statement, gzip", "minimal"), ("(b) ours, uncached", "stamped"))
UNCACHED = {"GEOPLATFORM_TILE_CACHE_MB": "0", "REDIS_URL": ""}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=10, help="passes over the tile list")
    parser.add_argument("--workers", type=int, default=2, help="server processes, each server")
    args = parser.parse_args()
    settings = load_settings()
    cases = tile_cases()
    sql = connection_pool(settings.libpq_url)
    print(
        f"database {settings.libpq_url.rsplit('/', 1)[-1]}: {len(cases)} tiles, "
        f"{args.rounds} rounds, {args.workers} worker processes per server\n"
    )
    with ExitStack() as stack:
        servers = {}
        for name, factory in FACTORIES:
            port = free_port()
            command = [str(GRANIAN), *granian_arguments(settings, "127.0.0.1", port, args.workers)]
            env = {
                **UNCACHED,
                "DATABASE_URL": settings.database_url,
                "BENCH_LIBPQ_URL": settings.libpq_url,
                "PYTHONPATH": f"{Path(__file__).parent}:{REPO_ROOT}",
            }
            app = f"floor_app:{factory}"
            stack.enter_context(running([*command, app], env, port, cases[0].ours))
            servers[name] = StampedFetch(port)
        fetches = [lambda case: render_sql(sql, case), *servers.values()]
        runner = Runner(args.rounds, 1)
        for _ in range(2):  # warm: every statement prepared on every connection
            runner.paired(cases, *fetches)
        for fetch in servers.values():
            fetch.segments.clear()
        latencies = runner.paired(cases, *fetches)
    print_table(["(a) raw SQL", *servers], latencies, list(servers.values()))
    return 0


class StampedFetch:
    """A kept-alive libcurl fetch of a tile that keeps the server's stamps of each answer."""

    def __init__(self, port: int) -> None:
        self.fetch = curl_get(port, lambda case: case.ours, header=self._header)
        self.stamps: list[int] = []
        self.segments: list[tuple[int, ...]] = []

    def _header(self, line: bytes) -> None:
        name, _, value = line.decode("latin-1").partition(":")
        if name.lower() == "x-stamps":
            self.stamps = [int(part) for part in value.split(",")]

    def __call__(self, case: Case) -> int:
        self.stamps = []
        sent = time.perf_counter_ns()
        size = self.fetch(case)
        received = time.perf_counter_ns()
        if len(self.stamps) != 4:
            raise RuntimeError(f"{case.ours}: no stamps in the answer")
        entered, started, ended, replied = self.stamps
        if started:  # a statement ran
            points = (sent, entered, started, ended, replied, received)
            self.segments.append(tuple(b - a for a, b in zip(points, points[1:], strict=False)))
        return size


def print_table(names: list[str], latencies: list[list[float]], fetches: list[StampedFetch]):
    raw = statistics.median(latencies[0])
    print(f"| target | median ms | / (a) | {' | '.join(f'{s} ms' for s in SEGMENTS)} |")
    print(f"|---|---:|---:|{'---:|' * len(SEGMENTS)}")
    print(f"| {names[0]} | {raw * 1000:.3f} | 1.000 |{' |' * len(SEGMENTS)}")
    for name, times, fetch in zip(names[1:], latencies[1:], fetches, strict=True):
        median = statistics.median(times)
        parts = [statistics.median(column) / 1e6 for column in zip(*fetch.segments, strict=True)]
        cells = " | ".join(f"{part:.3f}" for part in parts)
        print(f"| {name} | {median * 1000:.3f} | {median / raw:.3f} | {cells} |")


if __name__ == "__main__":
    sys.exit(main())
