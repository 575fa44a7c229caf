"""Inputs that used to end in a 500 (the reliability audit): each now gets a 400 that says what
is wrong, and changes nothing."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from geoplatform.db import transaction
from geoplatform.keys import create_key


@pytest.fixture(scope="module")
def water_editor(demo_engine, demo_city) -> dict[str, str]:
    with transaction(demo_engine) as conn:
        return {"X-API-Key": create_key(conn, "water_utility", "editor", "bad input")[1]}


def test_an_empty_in_list_matches_nothing_and_not_in_everything(client):
    url = "/collections/base.roads/items?filter-lang=cql2-json&limit=1&filter="
    inside = client.get(url + json.dumps({"op": "in", "args": [{"property": "class"}, []]}))
    assert inside.status_code == 200
    assert inside.json["numberMatched"] == 0
    outside = {"op": "not", "args": [{"op": "in", "args": [{"property": "class"}, []]}]}
    everything = client.get(url + json.dumps(outside))
    assert everything.status_code == 200
    assert (
        everything.json["numberMatched"]
        == client.get("/collections/base.roads/items?limit=1").json["numberMatched"]
    )


# Raw JSON texts: json.dumps would escape what these tests need to send as it is.
NUL = '"JS\\u0000"'
SURROGATE = '"\\ud800"'


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        (
            "/pipeline/isolation",
            '{"network": "demo\\u0000water", "pipe": "x"}',
            "the body holds a NUL character (\\u0000) at network",
        ),
        (
            "/pipeline/isolation",
            f'{{"network": {SURROGATE}, "pipe": "x"}}',
            "the body holds a lone surrogate (\\ud800-\\udfff) at network",
        ),
        (
            "/pipeline/networks/demo_water/maintenance",
            f'{{"asset_type": "pipe", "asset_code": {NUL}, "performed_on": "2024-01-01", '
            '"kind": "inspection"}',
            "the body holds a NUL character (\\u0000) at asset_code",
        ),
        (
            "/maps",
            '{"title": "a", "spec": {"layers": [{"id": "x\\u0000"}]}}',
            "the body holds a NUL character (\\u0000) at spec.layers[0].id",
        ),
        (
            "/pipeline/isolation",
            "[" * 100_000 + "]" * 100_000,
            "the body nests deeper than any document here can",
        ),
    ],
)
def test_text_postgresql_cannot_store_is_refused(
    client, water_editor, demo_engine, path, body, message
):
    with demo_engine.connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM platform.audit_log")).scalar_one()
    response = client.post(path, data=body, content_type="application/json", headers=water_editor)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.json["description"] == message
    with demo_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM platform.audit_log")).scalar_one() == before


def test_a_cost_beyond_the_column_is_refused(client, water_editor, demo_engine):
    with demo_engine.connect() as conn:
        pipe = conn.execute(
            text("SELECT code FROM pipeline.pipes WHERE network = 'demo_water' LIMIT 1")
        ).scalar_one()
        before = conn.execute(text("SELECT count(*) FROM pipeline.maintenance")).scalar_one()
    body = {
        "asset_type": "pipe",
        "asset_code": pipe,
        "performed_on": "2024-01-01",
        "kind": "inspection",
        "cost_yuan": 1e10,
    }
    response = client.post(
        "/pipeline/networks/demo_water/maintenance", json=body, headers=water_editor
    )
    assert response.status_code == 400
    assert response.json["description"] == "cost_yuan: Input should be less than 10000000000"
    with demo_engine.connect() as conn:
        assert (
            conn.execute(text("SELECT count(*) FROM pipeline.maintenance")).scalar_one() == before
        )
