"""Maintenance records, service lives and replacement warnings on a small hand-made network."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from sqlalchemy import text

from geoplatform.db import make_engine
from geoplatform.errors import InvalidParameter, NotFound
from geoplatform.refdata import read_table
from layers.pipeline.maintenance import (
    MAINTENANCE_KINDS,
    MaintenanceInput,
    UnknownAsset,
    add_record,
    records_for,
    refresh_service_lives,
    replacement_warnings,
)
from tests.layers.pipeline.drawing import add_network, add_pipe, add_point

ORIGIN = (500_000.0, 5_200_000.0)
THIS_YEAR = dt.date.today().year
# code, network, utility, material, install year
PIPES = [
    ("OLD", "water", "JS", "ZT", THIS_YEAR - 60),  # cast iron, 50 years: 10 years overdue
    ("SOON", "water", "JS", "PE", THIS_YEAR - 47),  # PE, 50 years: 3 years left
    ("NEW", "water", "JS", "QM", THIS_YEAR),
    ("GAS", "gas", "RQ", "G", THIS_YEAR - 40),  # steel, 30 years: overdue, but gas
]


@pytest.fixture(scope="module")
def engine(make_database):
    engine = make_engine(make_database("maintenance"))
    with engine.begin() as conn:
        for code, utility in (("water", "JS"), ("gas", "RQ")):
            add_network(conn, code, utility)
        for offset, (code, network, utility, material, year) in enumerate(PIPES):
            line = [(0, offset * 10.0), (100, offset * 10.0)]
            add_pipe(
                conn,
                network,
                code,
                line,
                ORIGIN,
                utility,
                material=material,
                install_year=year,
                diameter_mm=200,
            )
        add_point(conn, "water", "V1", "valve", (0, 0), ORIGIN)
        refresh_service_lives(conn)
    yield engine
    engine.dispose()


def record(**changes) -> MaintenanceInput:
    values = {
        "network": "water",
        "asset_type": "pipe",
        "asset_code": "OLD",
        "performed_on": dt.date(2024, 5, 6),
        "kind": "repair",
        "description": "joint leak repaired",
        "cost_yuan": 1250.5,
        "contractor": "市政养护一队",
    }
    return MaintenanceInput(**(values | changes))


def maintenance_count(conn) -> int:
    return conn.execute(text("SELECT count(*) FROM pipeline.maintenance")).scalar_one()


def test_refresh_loads_every_row_of_the_csv(engine):
    with engine.begin() as conn:
        loaded = refresh_service_lives(conn)
        stored = dict(
            conn.execute(text("SELECT material, years FROM pipeline.service_lives")).all()
        )
    rows = read_table("pipe_service_lives")
    assert loaded == len(rows) == len(stored)
    assert stored == {row["material"]: int(row["years"]) for row in rows}
    assert stored["ZT"] == 50


def test_replacement_warnings_name_overdue_and_due_soon_pipes(engine):
    with engine.connect() as conn:
        collection = replacement_warnings(conn, "water")
    json.dumps(collection)
    found = {f["properties"]["code"]: f["properties"] for f in collection["features"]}
    assert set(found) == {"OLD", "SOON"}
    assert (found["OLD"]["warning"], found["OLD"]["age_years"]) == ("overdue", 60)
    assert (found["OLD"]["years_left"], found["OLD"]["service_life_years"]) == (-10, 50)
    assert (found["SOON"]["warning"], found["SOON"]["years_left"]) == ("due_soon", 3)
    assert collection["features"][0]["properties"]["code"] == "OLD"  # soonest first
    assert collection["features"][0]["geometry"]["type"] == "LineString"


def test_replacement_warnings_by_code_and_network(engine):
    with engine.connect() as conn:
        gas = replacement_warnings(conn, "RQ")
        water_in_gas = replacement_warnings(conn, "water", network="gas")
        with pytest.raises(InvalidParameter, match="unknown utility 'sewage'"):
            replacement_warnings(conn, "sewage")
        with pytest.raises(NotFound, match="unknown network 'nope'"):
            replacement_warnings(conn, "water", network="nope")
    assert [f["properties"]["code"] for f in gas["features"]] == ["GAS"]
    assert water_in_gas["features"] == []


def test_a_record_is_stored_and_listed_latest_first(engine):
    with engine.connect() as conn:
        first = add_record(conn, record())
        second = add_record(conn, record(kind="inspection", performed_on=dt.date(2025, 1, 2)))
        add_record(conn, record(asset_type="point", asset_code="V1", kind="valve_exercise"))
        listed = records_for(conn, "water", "pipe", "OLD")
        conn.rollback()
    json.dumps(listed)
    assert first["performed_on"] == "2024-05-06" and first["cost_yuan"] == 1250.5
    assert [row["id"] for row in listed] == [second["id"], first["id"]]
    assert listed[1]["contractor"] == "市政养护一队"


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        (
            {"kind": "painting"},
            InvalidParameter,
            "kind must be one of inspection, repair, replacement, flushing, valve_exercise, "
            "leak, cleaning; got 'painting'",
        ),
        (
            {"performed_on": dt.date.today() + dt.timedelta(days=1)},
            InvalidParameter,
            f"performed_on {(dt.date.today() + dt.timedelta(days=1)).isoformat()} is in the future",
        ),
        (
            {"performed_on": "2024-05-06"},
            InvalidParameter,
            "performed_on must be a date, got '2024-05-06'",
        ),
        ({"cost_yuan": -1}, InvalidParameter, "cost_yuan must be a number not below 0, got -1"),
        (
            {"cost_yuan": float("nan")},
            InvalidParameter,
            "cost_yuan must be a number not below 0, got nan",
        ),
        (
            {"asset_type": "valve"},
            InvalidParameter,
            "asset_type must be 'pipe' or 'point', got 'valve'",
        ),
        ({"network": "sewer"}, NotFound, "unknown network 'sewer'"),
        ({"asset_code": "P404"}, UnknownAsset, "no pipe 'P404' in network 'water'"),
        # A point's code is not a pipe's, and a pipe of another network is not this one's.
        ({"asset_code": "V1"}, UnknownAsset, "no pipe 'V1' in network 'water'"),
        ({"asset_code": "GAS"}, UnknownAsset, "no pipe 'GAS' in network 'water'"),
    ],
)
def test_a_refused_record_says_why_and_changes_nothing(engine, changes, error, message):
    with engine.connect() as conn:
        before = maintenance_count(conn)
        with pytest.raises(error) as raised:
            add_record(conn, record(**changes))
        assert str(raised.value) == message
        assert maintenance_count(conn) == before


def test_records_of_an_unknown_asset_are_not_found(engine):
    with engine.connect() as conn, pytest.raises(UnknownAsset, match="no point 'V9'"):
        records_for(conn, "water", "point", "V9")


def test_the_kinds_are_those_the_database_accepts(engine):
    with engine.connect() as conn:
        definition = conn.execute(
            text(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conname = 'ck_maintenance_kind'"
            )
        ).scalar_one()
    assert tuple(re.findall(r"'([a-z_]+)'::text", definition)) == MAINTENANCE_KINDS
