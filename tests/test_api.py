"""/healthz and /collections through the Flask test client on the demo city."""

from __future__ import annotations

from geoplatform import migrate
from geoplatform.app import create_app
from tests.conftest import count_rows


def test_healthz_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    heads = migrate.head_revisions(client.application.extensions["geoplatform"].settings)
    assert response.json == {"status": "ok", "revisions": sorted(heads)}


def test_healthz_503_when_schema_behind(make_database):
    settings = make_database("behind", revision="0001")
    app = create_app(settings, validate=False)
    # The core's history and the enabled modules' branches have one head between them today.
    (heads,) = migrate.head_revisions(settings)
    response = app.test_client().get("/healthz")
    app.extensions["geoplatform"].close()
    assert response.status_code == 503
    assert response.json["reason"] == (
        f"database schema at revision 0001, expected revision {heads}: run `geoplatform db upgrade`"
    )


def test_healthz_503_when_database_unreachable(demo_settings, demo_load):
    settings = demo_settings.model_copy(
        update={"database_url": "postgresql://postgres@127.0.0.1:1/geoplatform"}
    )
    app = create_app(settings, validate=False)
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["reason"].startswith("database unreachable: OperationalError")


def test_collections_list_base_layers_with_counts_and_extent(client, demo_engine):
    response = client.get("/collections")
    assert response.status_code == 200
    assert response.content_type == "application/json"
    collections = {c["id"]: c for c in response.json["collections"]}
    assert list(collections) == [
        "base.admin_areas",
        "base.roads",
        "base.buildings",
        "base.water",
        "base.landuse",
        "base.pois",
        "base.places",
        "base.addresses",
    ]
    for layer_id, collection in collections.items():
        assert collection["featureCount"] == count_rows(demo_engine, layer_id)
        ((west, south, east, north),) = collection["extent"]["spatial"]["bbox"]
        assert 9.3 < west < east < 9.8 and 46.9 < south < north < 47.6
        assert collection["attribution"] == "© OpenStreetMap contributors"
    assert collections["base.roads"]["title"] == "道路"
    assert collections["base.roads"]["title_en"] == "Roads"


def test_unknown_path_is_json_404(client):
    response = client.get("/no/such/thing")
    assert response.status_code == 404
    assert response.json["code"] == "NotFound"


def test_one_collection(client):
    response = client.get("/collections/base.places")
    assert response.status_code == 200
    assert response.json["id"] == "base.places"
    assert response.json["links"][0]["href"].endswith("/collections/base.places")


def test_unknown_collection_is_404_with_message(client):
    response = client.get("/collections/base.nothing")
    assert response.status_code == 404
    assert response.json == {"code": "NotFound", "description": "no collection 'base.nothing'"}
