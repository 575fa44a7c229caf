"""A load is all or nothing, and loading the same file again changes nothing."""

from __future__ import annotations

import pytest
import sqlalchemy.exc
from sqlalchemy import text

from geoplatform.db import make_engine
from geoplatform.ingest import IngestError, ReplacementRefused
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
        load_osm(engine, settings, town, force=True)
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


def block_ends(path) -> list[int]:
    """Offsets just past each block of a PBF file (a 4-byte length, a BlobHeader, a Blob)."""
    data = path.read_bytes()
    ends, offset = [], 0
    while offset < len(data):
        header_length = int.from_bytes(data[offset : offset + 4], "big")
        header = data[offset + 4 : offset + 4 + header_length]
        offset += 4 + header_length + _blob_size(header)
        ends.append(offset)
    return ends


def _blob_size(header: bytes) -> int:
    """Field 3 (datasize, a varint) of a BlobHeader; fields 1 and 2 are length-delimited."""
    at = 0
    while at < len(header):
        key = header[at]
        value, at = _varint(header, at + 1)
        if key >> 3 == 3 and key & 7 == 0:
            return value
        if key & 7 == 2:
            at += value
    raise ValueError("BlobHeader without datasize")


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, at


# The demo file has 21 blocks: the header, nodes up to the 19th, which starts the ways, and
# relations only in the 21st. Cut after 19 blocks it ends with ways, after 10 or 2 with nodes.
@pytest.mark.parametrize(
    ("blocks", "reason"),
    [(19, "tagged ways but no relation"), (10, "tagged nodes but no way"), (2, "311 tagged")],
)
def test_file_cut_between_blocks_is_refused_and_changes_nothing(loaded, tmp_path, blocks, reason):
    settings, engine = loaded
    before = snapshot(engine)
    data = DEMO_OSM.read_bytes()
    ends = block_ends(DEMO_OSM)
    assert len(ends) == 21 and ends[-1] == len(data)
    cut = tmp_path / "partial.osm.pbf"
    cut.write_bytes(data[: ends[blocks - 1]])
    for force in (False, True):
        message = f"partial.osm.pbf ends early: it holds .*{reason}"
        with pytest.raises(IngestError, match=message):
            load_osm(engine, settings, cut, force=force)
    assert snapshot(engine) == before
    assert before["counts"]["base.roads"] == 4658


def test_file_cut_short_is_refused_on_an_empty_database_too(make_database, tmp_path):
    settings = make_database("cut")
    engine = make_engine(settings)
    data = DEMO_OSM.read_bytes()
    cut = tmp_path / "partial.osm.pbf"
    cut.write_bytes(data[: block_ends(DEMO_OSM)[18]])
    try:
        with pytest.raises(IngestError, match="ends early"):
            load_osm(engine, settings, cut)
        assert count_rows(engine, "base.roads") == 0
        assert count_rows(engine, "platform.load_runs") == 0
    finally:
        engine.dispose()


def test_a_load_that_would_remove_most_of_a_layer_needs_force(loaded, tmp_path):
    settings, engine = loaded
    before = snapshot(engine)
    town = tmp_path / "town.osm.pbf"
    small_town(town)
    with pytest.raises(ReplacementRefused) as refused:
        load_osm(engine, settings, town)
    assert snapshot(engine) == before
    changes = {c.layer: (c.before, c.after) for c in refused.value.changes}
    assert changes["base.roads"] == (4658, 2)
    assert changes["base.buildings"] == (before["counts"]["base.buildings"], 1)
    assert "more than 50% of 8 layers" in str(refused.value)
    assert "base.roads 4,658 -> 2 rows" in str(refused.value)
    assert "--force" in str(refused.value)

    summary = load_osm(engine, settings, town, force=True)
    assert summary.rows()["base.roads"] == count_rows(engine, "base.roads") == 2
    assert {s.layer: s.before for s in summary.layers}["base.roads"] == 4658


def test_the_share_a_load_may_remove_is_a_setting(loaded, tmp_path):
    settings, engine = loaded
    town = tmp_path / "town.osm.pbf"
    small_town(town)
    lenient = settings.model_copy(update={"import_max_loss": 1.0})
    summary = load_osm(engine, lenient, town)
    assert summary.rows()["base.roads"] == count_rows(engine, "base.roads") == 2
