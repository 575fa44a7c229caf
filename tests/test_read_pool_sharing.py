"""One read pool per worker: the feature, search and tile reads share its connections, each with
its own session settings, switched on a connection only when another kind of read used it."""

from __future__ import annotations

from sqlalchemy import text

from geoplatform.platform import create_platform

SETTING = "SELECT current_setting('plan_cache_mode') || ',' || current_setting('jit')"


def test_purposes_share_one_pool_with_their_own_settings(demo_settings, demo_load):
    platform = create_platform(demo_settings)
    try:
        tiles = platform.read_pool("tiles", {"plan_cache_mode": "force_generic_plan"})
        search = platform.read_pool("search", {"jit": "off"})
        features = platform.read_pool("features")
        # The server's own values, whatever the configuration of this machine says.
        with platform.engine.connect() as conn:
            jit, plan = conn.execute(
                text("SELECT reset_val FROM pg_settings WHERE name = ANY(:n) ORDER BY name"),
                {"n": ["jit", "plan_cache_mode"]},
            ).scalars()
        for _ in range(3):
            assert tiles.value(SETTING) == f"force_generic_plan,{jit}"
            assert search.value(SETTING) == f"{plan},off"
            assert features.value(SETTING) == f"{plan},{jit}"
        pids = {r.value("SELECT pg_backend_pid()") for r in (tiles, search, features)}
        # Sequential reads from one thread: the last-in-first-out pool hands out one connection.
        assert len(pids) == 1
        # The request timeouts hold for every purpose (they are the pool's own session).
        timeout = demo_settings.request_session["statement_timeout"]
        for reads in (tiles, search, features):
            shown = reads.value("SELECT setting FROM pg_settings WHERE name = 'statement_timeout'")
            assert shown == timeout
    finally:
        platform.close()


def test_a_worker_holds_one_read_pool_and_one_engine(demo_app):
    platform = demo_app.extensions["geoplatform"]
    assert platform.read_pool("a")._pool is platform.read_pool("b")._pool
