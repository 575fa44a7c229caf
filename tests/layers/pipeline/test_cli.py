"""``geoplatform pipeline load-demo``: generates once; running make setup again changes nothing."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import text

from layers.pipeline.cli import pipeline_command

_VERSIONS = "SELECT layer_id, version FROM platform.layer_state WHERE layer_id LIKE 'pipeline.%'"


def test_load_demo_leaves_existing_networks_alone(demo_settings, demo_engine, demo_pipeline):
    with demo_engine.connect() as conn:
        before = dict(conn.execute(text(_VERSIONS)).all())
    result = CliRunner().invoke(pipeline_command, ["load-demo"], obj=demo_settings)
    assert result.exit_code == 0, result.output
    assert "demo_water, demo_gas exist; nothing to do" in result.output
    with demo_engine.connect() as conn:
        assert dict(conn.execute(text(_VERSIONS)).all()) == before
