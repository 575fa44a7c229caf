"""``geoplatform serve`` in a subprocess (Granian, two workers) and a keep-alive client for it."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest
import requests

from tests.pgcluster import free_port

GEOPLATFORM = str(Path(sys.executable).with_name("geoplatform"))
REPO_ROOT = Path(__file__).resolve().parent.parent


class Client(requests.Session):
    """A keep-alive session on one base URL, as a department's system holds one."""

    def __init__(self, port: int, server: subprocess.Popen) -> None:
        super().__init__()
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.server = server

    def get(self, path: str, **kwargs) -> requests.Response:  # type: ignore[override]
        return self.request("GET", path, **kwargs)

    def request(self, method: str, path: str, **kwargs) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", 30)
        return super().request(method, self.base + path, **kwargs)

    def worker_rss(self) -> list[int]:
        """Resident bytes of each worker process of the server."""
        children = psutil.Process(self.server.pid).children(recursive=True)
        return [child.memory_info().rss for child in children]


@contextmanager
def serve(env: Mapping[str, str], workers: int = 2) -> Iterator[Client]:
    port = free_port()
    environment = {**os.environ, "GEOPLATFORM_WORKERS": str(workers), **env}
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(
            [GEOPLATFORM, "serve", "--port", str(port)],
            env=environment,
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            with Client(port, server) as client:
                _wait_ready(client, server, log)
                yield client
        finally:
            stop(server)


def stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(10)
    except subprocess.TimeoutExpired:
        # Granian waits for open connections before it exits; a test must not wait for them.
        server.kill()
        server.wait(10)


def _wait_ready(client: Client, server: subprocess.Popen, log) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if client.get("/healthz").status_code == 200:
                return
        except requests.ConnectionError:
            pass
        if server.poll() is not None:
            log.seek(0)
            pytest.fail(f"server exited: {log.read().decode()}")
        assert time.monotonic() < deadline, "the server did not become ready"
        time.sleep(0.2)
