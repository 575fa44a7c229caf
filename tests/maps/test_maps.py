"""Saved maps through HTTP: validation, who may do what, If-Match, and the style each caller gets.

One app with the internal fixture layers over the demo city, real keys, real PostGIS.
"""

from __future__ import annotations

import copy
import uuid

import pytest

from tests.maps.conftest import auth
from tests.tileserver.test_styles import maplibre_errors, strings

VADUZ = [9.5209, 47.141]


@pytest.fixture(scope="module")
def water_viewer(demo_engine):
    return auth(demo_engine, "water_utility", "viewer")


@pytest.fixture(scope="module")
def gas_editor(demo_engine):
    return auth(demo_engine, "gas_utility", "editor")


def new_map(**changes) -> dict:
    document = {
        "slug": f"map-{uuid.uuid4().hex[:12]}",
        "title": "供水与道路 Water and roads",
        "description": "",
        "visibility": "public",
        "spec": {
            "layers": [
                {
                    "layer": "base.buildings",
                    "color": "#3366cc",
                    "opacity": 0.6,
                    "filter": "levels >= 3",
                    "label": "name",
                },
                {"layer": "internal.roads", "color": "#aa0000", "visible": True},
            ],
            "view": {"center": VADUZ, "zoom": 14, "bearing": 0, "pitch": 0},
            "basemap": True,
        },
    }
    document.update(changes)
    return document


def create(client, headers, document=None):
    return client.post("/maps", json=document or new_map(), headers=headers)


def with_layer(index: int, **changes) -> dict:
    document = new_map()
    document["spec"]["layers"][index].update(changes)
    return document


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (new_map(slug="-bad"), "slug: lower-case letters"),
        (new_map(slug="Bad Slug"), "slug: lower-case letters"),
        (with_layer(1, color="red"), "spec.layers[1].color: not a CSS hex colour"),
        (with_layer(1, layer="no.such"), "layers[1].layer: unknown layer 'no.such'"),
        (with_layer(0, filter="levels >>= 3"), "layers[0].filter: invalid cql2-text"),
        (with_layer(0, filter="name LIKE 'A%'"), "layers[0].filter: LIKE cannot be drawn"),
        (with_layer(0, filter="nosuch = 1"), "layers[0].filter: unknown property 'nosuch'"),
        (
            with_layer(0, filter="levels = 'three'"),
            "layers[0].filter: 'three' is not of type integer",
        ),
        (with_layer(0, label="nosuch"), "layers[0].label: 'nosuch' is not a property"),
        (new_map(visibility="secret"), "visibility: Input should be 'public' or 'internal'"),
    ],
)
def test_a_bad_map_is_refused_naming_the_field(client, water_editor, document, message):
    response = create(client, water_editor, document)
    assert response.status_code == 400, response.json
    assert message in response.json["description"]


def test_a_bad_view_is_refused_naming_the_field(client, water_editor):
    document = new_map()
    document["spec"]["view"] = {"center": [200, 47], "zoom": 30}
    response = create(client, water_editor, document)
    assert response.status_code == 400
    assert "spec.view.center[0]" in response.json["description"]
    assert "spec.view.zoom" in response.json["description"]


def test_a_layer_the_caller_may_not_read_is_refused_like_an_unknown_one(client, gas_editor):
    response = create(client, gas_editor, with_layer(1, layer="internal.water_only"))
    assert response.status_code == 400
    unreadable = response.json["description"]
    unknown = create(client, gas_editor, with_layer(1, layer="internal.no_such")).json
    assert unreadable == "spec.layers[1].layer: unknown layer 'internal.water_only'"
    assert unknown["description"] == unreadable.replace("water_only", "no_such")


def test_who_may_create(client, water_viewer, water_editor):
    assert create(client, {}).status_code == 403
    assert create(client, water_viewer).status_code == 403
    response = create(client, water_editor)
    assert response.status_code == 201, response.json
    assert response.json["owner"] == "water_utility"
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"].endswith(f"/maps/{response.json['slug']}")
    again = client.post("/maps", json=new_map(slug=response.json["slug"]), headers=water_editor)
    assert again.status_code == 400
    assert again.json["description"].startswith("slug: a map")


def test_a_spec_round_trips(client, water_editor):
    document = new_map()
    document["spec"]["layers"][0].update(minzoom=12, maxzoom=18)
    create(client, water_editor, document)
    fetched = client.get(f"/maps/{document['slug']}", headers=water_editor).json
    expected = copy.deepcopy(document["spec"])
    defaults = {
        "visible": True,
        "opacity": 1.0,
        "label": None,
        "filter": None,
        "minzoom": None,
        "maxzoom": None,
    }
    expected["layers"] = [{**defaults, **layer} for layer in expected["layers"]]
    assert fetched["spec"] == expected
    assert fetched["title"] == document["title"]


def test_internal_maps_are_hidden_from_anonymous_callers(client, water_editor, gas_editor):
    document = new_map(visibility="internal")
    create(client, water_editor, document)
    slug = document["slug"]
    for path in (f"/maps/{slug}", f"/maps/{slug}/style.json", f"/m/{slug}"):
        assert client.get(path).status_code == 404
        assert client.get(path, headers=gas_editor).status_code == 200
    assert slug not in {m["slug"] for m in client.get("/maps").json["maps"]}
    assert slug in {m["slug"] for m in client.get("/maps", headers=gas_editor).json["maps"]}


def test_only_the_owner_department_changes_a_map_with_if_match(client, water_editor, gas_editor):
    document = new_map()
    create(client, water_editor, document)
    path = f"/maps/{document['slug']}"
    changed = copy.deepcopy(document) | {"title": "新标题 New title"}

    assert (
        client.put(path, json=changed, headers=gas_editor | {"If-Match": '"1"'}).status_code == 403
    )
    assert client.delete(path, headers=gas_editor | {"If-Match": '"1"'}).status_code == 403
    assert client.put(path, json=changed, headers=water_editor).status_code == 428

    response = client.put(path, json=changed, headers=water_editor | {"If-Match": '"1"'})
    assert response.status_code == 200, response.json
    assert response.headers["ETag"] == '"2"'
    assert response.json["title"] == "新标题 New title"

    stale = client.put(path, json=changed, headers=water_editor | {"If-Match": '"1"'})
    assert stale.status_code == 412
    assert client.delete(path, headers=water_editor).status_code == 428
    assert client.delete(path, headers=water_editor | {"If-Match": '"1"'}).status_code == 412
    assert client.delete(path, headers=water_editor | {"If-Match": '"2"'}).status_code == 204
    assert client.get(path).status_code == 404


def test_the_style_shows_an_internal_layer_only_to_callers_who_may_read_it(
    client, water_editor, tmp_path
):
    document = new_map()
    create(client, water_editor, document)
    path = f"/maps/{document['slug']}/style.json"

    anonymous = client.get(path)
    assert anonymous.status_code == 200
    assert anonymous.headers["Cache-Control"].startswith("private")
    assert "Authorization" in anonymous.headers["Vary"]
    assert not [s for s in strings(anonymous.json) if "internal" in s]
    assert maplibre_errors(anonymous.json, tmp_path) == []

    department = client.get(path, headers=water_editor).json
    assert maplibre_errors(department, tmp_path) == []
    internal = [x for x in department["layers"] if x.get("source-layer") == "internal.roads"]
    assert internal and all(x["paint"]["line-color"] == "#aa0000" for x in internal)
    assert any("internal.roads" in s["url"] for s in department["sources"].values())
    assert department["center"] == VADUZ and department["zoom"] == 14

    labels = [
        x for x in department["layers"] if x["type"] == "symbol" and x["id"].startswith("map-0")
    ]
    assert labels[0]["layout"]["text-field"] == ["to-string", ["get", "name"]]
    json_for_anonymous = client.get(f"/maps/{document['slug']}").json
    assert [x["layer"] for x in json_for_anonymous["spec"]["layers"]] == ["base.buildings"]


def test_the_viewer_page_loads_the_maps_style(client, water_editor):
    document = new_map()
    create(client, water_editor, document)
    page = client.get(f"/m/{document['slug']}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f"/maps/{document['slug']}/style.json" in html
    assert document["title"] in html
