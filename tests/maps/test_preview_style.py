"""``POST /maps/preview/style.json``: the style a map body would have, checked as POST /maps
checks it, and equal to the style of the map once saved; nothing is saved."""

from __future__ import annotations

import pytest

from tests.maps.test_maps import new_map, with_layer
from tests.tileserver.test_styles import maplibre_errors, strings

PREVIEW = "/maps/preview/style.json"


def preview_of(document: dict) -> dict:
    return {"title": document["title"], "spec": document["spec"]}


def test_the_preview_is_the_style_the_saved_map_gets(client, water_editor, tmp_path):
    document = new_map()
    before = client.get("/maps", headers=water_editor).json["maps"]
    preview = client.post(PREVIEW, json=preview_of(document), headers=water_editor)
    assert preview.status_code == 200, preview.json
    assert preview.headers["Cache-Control"].startswith("private")
    assert client.get("/maps", headers=water_editor).json["maps"] == before, "nothing saved"
    assert maplibre_errors(preview.json, tmp_path) == []

    assert client.post("/maps", json=document, headers=water_editor).status_code == 201
    saved = client.get(f"/maps/{document['slug']}/style.json", headers=water_editor)
    assert preview.json == saved.json
    drawn = [x for x in preview.json["layers"] if x.get("source-layer") == "internal.roads"]
    assert drawn and all(x["paint"]["line-color"] == "#aa0000" for x in drawn)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (with_layer(1, color="red"), "spec.layers[1].color: not a CSS hex colour"),
        (with_layer(1, layer="no.such"), "spec.layers[1].layer: unknown layer 'no.such'"),
        (with_layer(0, filter="levels >>= 3"), "spec.layers[0].filter: invalid cql2-text"),
        (with_layer(0, filter="name LIKE 'A%'"), "spec.layers[0].filter: LIKE cannot be drawn"),
        (with_layer(0, label="nosuch"), "spec.layers[0].label: 'nosuch' is not a property"),
    ],
)
def test_a_bad_spec_is_refused_as_post_maps_refuses_it(client, water_editor, document, message):
    preview = client.post(PREVIEW, json=preview_of(document), headers=water_editor)
    assert preview.status_code == 400
    assert message in preview.json["description"]
    saving = client.post("/maps", json=document, headers=water_editor)
    assert saving.json["description"] == preview.json["description"]


def test_a_body_without_a_spec_is_refused(client, water_editor):
    for body in (None, {}, {"title": "x"}, {"spec": new_map()["spec"], "slug": "x"}):
        response = client.post(PREVIEW, json=body, headers=water_editor)
        assert response.status_code == 400, body


def test_an_anonymous_preview_draws_public_layers_and_refuses_internal_ones(client, tmp_path):
    document = new_map()
    refused = client.post(PREVIEW, json=preview_of(document))
    assert refused.status_code == 400
    assert refused.json["description"] == "spec.layers[1].layer: unknown layer 'internal.roads'"

    del document["spec"]["layers"][1]
    style = client.post(PREVIEW, json=preview_of(document)).json
    assert maplibre_errors(style, tmp_path) == []
    assert not [s for s in strings(style) if "internal" in s]
    assert any(x.get("source-layer") == "base.buildings" for x in style["layers"])


def test_get_still_names_a_saved_map_called_preview(client):
    assert client.get(PREVIEW).status_code == 404
