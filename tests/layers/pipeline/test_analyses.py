"""The pipeline's analyses as the core mounts them: the clearance check over HTTP equals the
direct computation, bad parameters are a 400 naming them, and the OpenAPI document describes
each analysis' input."""

from __future__ import annotations

import json

import pytest

from geoplatform.db import transaction
from geoplatform.keys import create_key
from layers.pipeline.clearance import check_clearances


@pytest.fixture(scope="module")
def emergency_key(demo_engine, demo_pipeline) -> dict[str, str]:
    # Emergency management reads every network: the check compares water against gas.
    with transaction(demo_engine) as conn:
        return {"X-API-Key": create_key(conn, "emergency_management", "viewer", "analyses")[1]}


def test_clearances_over_http_equal_the_direct_check(client, demo_engine, emergency_key):
    bbox = (9.50, 47.12, 9.54, 47.16)
    with demo_engine.connect() as conn:
        direct = check_clearances(conn, networks=["demo_water", "demo_gas"], bbox=bbox).to_dict()
    response = client.get(
        "/pipeline/clearances?networks=demo_water,demo_gas&bbox=9.50,47.12,9.54,47.16",
        headers=emergency_key,
    )
    assert response.status_code == 200, response.json
    assert response.headers["Cache-Control"].startswith("private")
    answer = response.json
    answer.pop("geojson")
    # As JSON carries it: tuples become lists.
    assert answer == json.loads(json.dumps(direct))


def test_clearances_as_geojson(client, emergency_key):
    response = client.get(
        "/pipeline/clearances?networks=demo_water,demo_gas&bbox=9.50,47.12,9.54,47.16&f=geojson",
        headers=emergency_key,
    )
    assert response.status_code == 200
    assert response.mimetype == "application/geo+json"
    assert response.json["type"] == "FeatureCollection"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("bbox=1,2,3", "bbox: bbox must be four numbers: west,south,east,north"),
        ("limit=many", "limit: Input should be a valid integer"),
        ("f=pdf", "f must be one of json, geojson, got 'pdf'"),
    ],
)
def test_bad_parameters_name_what_is_wrong(client, emergency_key, query, message):
    response = client.get(f"/pipeline/clearances?{query}", headers=emergency_key)
    assert response.status_code == 400
    assert message in response.json["description"]


def test_a_hidden_network_is_an_unknown_one(client, demo_engine, demo_pipeline):
    with transaction(demo_engine) as conn:
        gas = {"X-API-Key": create_key(conn, "gas_utility", "viewer", "analyses")[1]}
    hidden = client.get("/pipeline/clearances?networks=demo_water", headers=gas)
    missing = client.get("/pipeline/clearances?networks=demo_nowhere", headers=gas)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json["description"] == "no network 'demo_water'"
    assert missing.json["description"] == "no network 'demo_nowhere'"


def test_the_openapi_document_describes_each_analysis_input(client):
    paths = client.get("/api").get_json(force=True)["paths"]
    isolation = paths["/pipeline/isolation"]["post"]
    schema = isolation["requestBody"]["content"]["application/json"]["schema"]
    assert {"network", "pipe", "point", "inoperable_valves"} <= set(schema["properties"])
    assert isolation["tags"] == ["pipeline"]
    names = {p["name"] for p in paths["/pipeline/clearances"]["get"]["parameters"]}
    assert {"networks", "bbox", "limit"} <= names
