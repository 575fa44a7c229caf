"""What the benchmarks share: servers started on free ports, the timing runner, HTTP fetches.

Imported by the scripts in this directory (run as ``python bench/<name>.py``, which puts this
directory on ``sys.path``).
"""

from __future__ import annotations

import http.client
import io
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pycurl

REPO_ROOT = Path(__file__).resolve().parent.parent
GEOPLATFORM = Path(sys.executable).with_name("geoplatform")
TIPG_VENV = REPO_ROOT / "var" / "bench-venv"


@dataclass(frozen=True)
class Result:
    name: str
    cases: int
    latencies: list[float]  # seconds, sequential
    per_second: float  # concurrent
    mean_bytes: float

    @property
    def median_ms(self) -> float:
        return statistics.median(self.latencies) * 1000

    @property
    def p95_ms(self) -> float:
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[94] * 1000


class Runner:
    """Latency from ``rounds`` sequential passes, throughput from ``concurrency`` threads."""

    def __init__(self, rounds: int, concurrency: int) -> None:
        self.rounds = rounds
        self.concurrency = concurrency

    def paired(self, cases: list, *fetches: Callable[[object], int]) -> list[list[float]]:
        """Latencies (seconds) of several fetches of the same cases, each case asked of every
        fetch in turn, in a new random order each time (random interleaving): whatever drifts on
        the machine meanwhile falls on all of them alike."""
        latencies: list[list[float]] = [[] for _ in fetches]
        order = list(range(len(fetches)))
        shuffle = random.Random(0).shuffle
        for _ in range(self.rounds):
            for case in cases:
                shuffle(order)
                for i in order:
                    started = time.perf_counter()
                    fetches[i](case)
                    latencies[i].append(time.perf_counter() - started)
        return latencies

    def throughput_of(self, fetch: Callable[[object], int]) -> Callable[[list, int], float]:
        """Requests/s of ``concurrency`` client threads doing ``rounds`` passes over the cases."""

        def load(cases: list, concurrency: int) -> float:
            work = cases * self.rounds
            with ThreadPoolExecutor(concurrency) as pool:
                started = time.perf_counter()
                list(pool.map(fetch, work))
                return len(work) / (time.perf_counter() - started)

        return load

    def __call__(
        self,
        name: str,
        cases: list,
        fetch: Callable[[object], int],
        warm: int = 1,
        load: Callable[[list, int], float] | None = None,
    ) -> Result:
        """``load(cases, concurrency)``, when given, measures requests/s instead of client
        threads calling ``fetch`` (see ``wrk_load``)."""
        for _ in range(warm):
            sizes = [fetch(case) for case in cases]
        latencies = []
        for _ in range(self.rounds):
            for case in cases:
                started = time.perf_counter()
                fetch(case)
                latencies.append(time.perf_counter() - started)
        per_second = (load or self.throughput_of(fetch))(cases, self.concurrency)
        result = Result(name, len(cases), latencies, per_second, statistics.mean(sizes))
        print(f"  {name}: median {result.median_ms:.2f} ms, {per_second:,.0f} req/s", flush=True)
        return result


def http_get(port: int, path: Callable[[object], str]) -> Callable[[object], int]:
    """A fetch of ``path(case)`` on a new connection, asking for gzip like a browser."""

    def fetch(case) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            conn.request("GET", path(case), headers={"Accept-Encoding": "gzip"})
            response = conn.getresponse()
            body = response.read()
        finally:
            conn.close()
        if response.status not in (200, 204):
            raise RuntimeError(f"{path(case)}: HTTP {response.status} {body[:200]!r}")
        return len(body)

    return fetch


def curl_get(
    port: int,
    path: Callable[[object], str],
    keep_alive: bool = True,
    header: Callable[[bytes], None] | None = None,
) -> Callable[[object], int]:
    """A fetch of ``path(case)`` through libcurl (pycurl), asking for gzip like a browser.

    ``keep_alive``: on the calling thread's persistent connection, as MapLibre, GDAL and QGIS
    fetch tiles (HTTP/1.1 keep-alive; a connection the server closed while idle is opened again,
    as they do); otherwise on a new connection per request. libcurl is what GDAL and QGIS fetch
    tiles with, and C like the libpq under (a): http.client's parsing of the response headers
    cost the client 0.10 ms of every tile (0.26 against 0.16 ms from the server's answer to the
    client's last byte), time no server spends. ``header`` is given each header line received.
    """
    local = threading.local()

    def fetch(case) -> int:
        curl = getattr(local, "curl", None)
        if curl is None:
            curl = local.curl = _curl_handle(keep_alive)
            if header is not None:
                curl.setopt(pycurl.HEADERFUNCTION, header)
        body = io.BytesIO()
        target = path(case)
        curl.setopt(pycurl.URL, f"http://127.0.0.1:{port}{target}")
        curl.setopt(pycurl.WRITEDATA, body)
        curl.perform()
        status = curl.getinfo(pycurl.RESPONSE_CODE)
        if status not in (200, 204):
            raise RuntimeError(f"{target}: HTTP {status} {body.getvalue()[:200]!r}")
        return body.tell()

    return fetch


def _curl_handle(keep_alive: bool) -> pycurl.Curl:
    """A libcurl handle asking for gzip like a browser; ``keep_alive`` as in ``curl_get``."""
    curl = pycurl.Curl()
    curl.setopt(pycurl.HTTPHEADER, ["Accept-Encoding: gzip"])
    curl.setopt(pycurl.TIMEOUT, 60)
    if not keep_alive:
        curl.setopt(pycurl.FRESH_CONNECT, 1)
        curl.setopt(pycurl.FORBID_REUSE, 1)
    return curl


WRK_SCRIPT = Path(__file__).with_name("wrk_paths.lua")


def wrk_load(port: int, path: Callable[[object], str], close: bool = False, seconds: float = 8.0):
    """Requests/s that wrk gets from a server, cycling through ``path(case)`` of the cases on
    ``concurrency`` kept-alive connections with Accept-Encoding: gzip (``close``: a new
    connection for every request).

    wrk is C on epoll: it can load a server harder than the Python client, whose threads share
    one interpreter and topped out near 2,100 requests/s on two cores, below what the server
    answers from its cache. Refuses to report a run with failed or unexpected responses.
    """

    def load(cases: list, concurrency: int) -> float:
        if shutil.which("wrk") is None:
            sys.exit("wrk is not installed: apt-get install wrk (see bench/README.md)")
        with tempfile.NamedTemporaryFile("w", suffix=".txt") as paths:
            paths.write("".join(f"{path(case)}\n" for case in cases))
            paths.flush()
            command = ["wrk", "--threads", str(min(concurrency, 2)), "--connections"]
            command += [str(concurrency), "--duration", f"{seconds:g}s", "--script"]
            command += [str(WRK_SCRIPT), f"http://127.0.0.1:{port}"]
            env = {**os.environ, "WRK_PATHS": paths.name, "WRK_CLOSE": "1" if close else ""}
            out = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        if "Non-2xx" in out.stdout or "Socket errors" in out.stdout:
            sys.exit(f"wrk saw failed requests:\n{out.stdout}")
        return float(re.search(r"Requests/sec:\s+([\d.]+)", out.stdout)[1])

    return load


@contextmanager
def geoplatform_server(database_url: str, workers: int, env: dict[str, str]) -> Iterator[int]:
    port = free_port()
    command = [str(GEOPLATFORM), "serve", "--port", str(port), "--workers", str(workers)]
    with running(command, {"DATABASE_URL": database_url, **env}, port, "/healthz"):
        yield port


@contextmanager
def tipg_server(libpq_url: str, workers: int) -> Iterator[int]:
    uvicorn = TIPG_VENV / "bin" / "uvicorn"
    if not uvicorn.exists():
        sys.exit(f"tipg is not installed: see bench/README.md ({uvicorn} is missing)")
    port = free_port()
    env = {
        "DATABASE_URL": libpq_url,
        "TIPG_DB_SCHEMAS": '["base"]',
        # Ours never caps features per tile; tipg's default of 10,000 would cut tiles short.
        "TIPG_MAX_FEATURES_PER_TILE": "1000000",
    }
    command = [str(uvicorn), "tipg.main:app", "--host", "127.0.0.1", "--port", str(port)]
    with running([*command, "--workers", str(workers)], env, port, "/collections"):
        yield port


@contextmanager
def running(command: list[str], env: dict[str, str], port: int, ready: str) -> Iterator[None]:
    # Logs go to a file, not a pipe: a pipe nobody reads would stall the server once full.
    with tempfile.TemporaryFile("w+") as log:
        server = subprocess.Popen(
            command,
            env={**os.environ, **env},
            cwd=REPO_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=log,
            text=True,
        )
        try:
            wait_until_up(server, port, ready, log)
            yield
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def wait_until_up(server: subprocess.Popen, port: int, path: str, log, seconds=60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            log.seek(0)
            sys.exit(f"server exited: {log.read()}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            time.sleep(0.3)
    sys.exit(f"no answer on port {port} within {seconds} s")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
