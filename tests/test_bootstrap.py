"""scripts/ensure-postgres.sh: which database `make demo` uses, including the embedded default."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from geoplatform import migrate
from geoplatform.config import load_settings
from geoplatform.db import ensure_database, make_engine
from tests.test_cli import REPO_ROOT, free_port

SCRIPT = REPO_ROOT / "scripts" / "ensure-postgres.sh"


def ensure_postgres(**env) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return subprocess.run(
        [str(SCRIPT)], env={**environment, **env}, capture_output=True, text=True, timeout=120
    )


def test_explicit_database_url_wins():
    result = ensure_postgres(DATABASE_URL="postgresql://someone@db.example:6543/city")
    assert result.stdout.strip() == "postgresql://someone@db.example:6543/city"


def test_answering_default_server_is_used():
    server_port = os.environ.get("DATABASE_URL", "").rsplit(":", 1)[-1].split("/")[0] or "5432"
    result = ensure_postgres(GEOPLATFORM_PROBE_PORT=server_port)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"postgresql://postgres@127.0.0.1:{server_port}/geoplatform"


@pytest.mark.skipif(not glob.glob("/usr/lib/postgresql/*/bin/initdb"), reason="no server binaries")
def test_private_cluster_when_nothing_answers():
    var = REPO_ROOT / "var" / f"test-embedded-{uuid.uuid4().hex[:8]}"
    port = free_port()
    try:
        result = ensure_postgres(
            GEOPLATFORM_PROBE_PORT=str(free_port()),
            GEOPLATFORM_EMBEDDED_PORT=str(port),
            GEOPLATFORM_VAR_DIR=str(var),
        )
        assert result.returncode == 0, result.stderr
        url = result.stdout.strip()
        assert url == f"postgresql://postgres@127.0.0.1:{port}/geoplatform"
        assert "initialising a private cluster" in result.stderr
        # The private cluster is a full PostGIS: the migrations run on it.
        settings = load_settings(database_url=url)
        ensure_database(url)
        migrate.upgrade(settings)
        engine = make_engine(settings)
        assert migrate.current_revisions(engine) == migrate.head_revisions(settings)
        engine.dispose()
        # A second call finds it running and says so without initialising again.
        again = ensure_postgres(
            GEOPLATFORM_PROBE_PORT=str(free_port()),
            GEOPLATFORM_EMBEDDED_PORT=str(port),
            GEOPLATFORM_VAR_DIR=str(var),
        )
        assert again.stdout.strip() == url and "initialising" not in again.stderr
    finally:
        _stop(var / "postgres")
        shutil.rmtree(var, ignore_errors=True)


def _stop(data: Path) -> None:
    if not (data / "postmaster.pid").exists():
        return
    pg_ctl = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))[-1]
    command = [pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"]
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    subprocess.run(command, capture_output=True, timeout=60)
