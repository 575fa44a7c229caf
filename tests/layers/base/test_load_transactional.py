"""A load is all or nothing, and loading the same file again changes nothing."""

from __future__ import annotations

import pytest
import sqlalchemy.exc
from sqlalchemy import text

from geoplatform.db import make_engine
from geoplatform.ingest import IngestError
from layers.base.load import load_osm
from tests.conftest import DEMO_OSM, count_rows
from tests.layers.base.test_load_synthetic import small_town


@pytest.fixture
def loaded(make_database):
    settings = make_database("txn")
    engine = make_engine(settings)
    load_osm(engine, settings, DEMO_OSM)
    yield settings, engine
    engine.dispose()


def snapshot(engine) -> dict:
    with engine.connect() as conn:
        versions = dict(
            conn.execute(text("SELECT layer_id, version FROM platform.layer_state")).all()
        )
        runs = conn.execute(text("SELECT count(*) FROM platform.load_runs")).scalar_one()
    counts = {layer: count_rows(engine, layer) for layer in versions}
    return {"versions": versions, "counts": counts, "runs": runs}


def test_truncated_file_changes_nothing(loaded, tmp_path):
    settings, engine = loaded
    before = snapshot(engine)
    broken = tmp_path / "broken.osm.pbf"
    broken.write_bytes(DEMO_OSM.read_bytes()[:200_000])
    with pytest.raises(IngestError, match="cannot read broken.osm.pbf"):
        load_osm(engine, settings, broken)
    assert snapshot(engine) == before


def test_failure_in_the_last_layer_rolls_back_the_earlier_ones(loaded, tmp_path):
    settings, engine = loaded
    with engine.begin() as conn:
        # Existing rows pass; any new row fails, so the load breaks after roads etc. are replaced.
        conn.execute(
            text("ALTER TABLE base.addresses ADD CONSTRAINT refuse_new CHECK (false) NOT VALID")
        )
    before = snapshot(engine)
    town = tmp_path / "town.osm.pbf"
    small_town(town)
    with pytest.raises(sqlalchemy.exc.IntegrityError, match="refuse_new"):
        load_osm(engine, settings, town)
    assert snapshot(engine) == before
    assert before["counts"]["base.roads"] == 4658


def test_same_file_twice_is_a_no_op(loaded):
    settings, engine = loaded
    before = snapshot(engine)
    again = load_osm(engine, settings, DEMO_OSM)
    assert again.unchanged
    assert again.rows()["base.buildings"] == before["counts"]["base.buildings"]
    assert snapshot(engine) == before


def test_forced_reload_replaces_without_duplicates_and_bumps_versions(loaded):
    settings, engine = loaded
    before = snapshot(engine)
    summary = load_osm(engine, settings, DEMO_OSM, force=True)
    after = snapshot(engine)
    assert not summary.unchanged
    assert after["counts"] == before["counts"]
    assert after["runs"] == before["runs"] + 1
    assert all(after["versions"][k] > v for k, v in before["versions"].items())


def test_missing_file_is_reported(loaded, tmp_path):
    settings, engine = loaded
    with pytest.raises(IngestError, match="OSM file not found"):
        load_osm(engine, settings, tmp_path / "nowhere.osm.pbf")
