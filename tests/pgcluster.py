"""A private PostgreSQL cluster a test starts, stops and throws away (outages, replicas)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

BIN = max(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres() -> list[str]:
    # initdb and the server refuse to run as root.
    return ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []


class PrivateCluster:
    """A cluster in ``directory`` on a port of its own, trust authentication, loopback only."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory
        self.data = directory / "data"
        self.port = port or free_port()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def init(self) -> PrivateCluster:
        self._make_directory()
        self._run(BIN / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8")
        return self

    def base_backup_of(self, primary: PrivateCluster) -> PrivateCluster:
        """A streaming replica of ``primary`` (``pg_basebackup -R`` writes standby.signal)."""
        self._make_directory()
        self._run(
            BIN / "pg_basebackup",
            "-h", "127.0.0.1", "-p", primary.port, "-U", "postgres",
            "-D", self.data, "-R", "-X", "stream",
        )  # fmt: skip
        return self

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
        self._run(
            BIN / "pg_ctl", "-D", self.data, "-l", self.directory / "server.log", "-w",
            "-o", options, "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run(BIN / "pg_ctl", "-D", self.data, "-m", mode, "-w", "stop")

    def running(self) -> bool:
        status = subprocess.run(
            [*_as_postgres(), str(BIN / "pg_ctl"), "-D", str(self.data), "status"],
            capture_output=True,
        )
        return status.returncode == 0

    def destroy(self) -> None:
        if self.data.exists() and self.running():
            self.stop("immediate")
        shutil.rmtree(self.directory, ignore_errors=True)

    def _make_directory(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if os.getuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")

    def _run(self, *args: object) -> None:
        subprocess.run(
            [*_as_postgres(), *map(str, args)], check=True, capture_output=True, timeout=120
        )
