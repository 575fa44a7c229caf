"""GET /search on the demo city: what comes back, how it is ranked and filtered, and that only
the layers the caller may read take part."""

from __future__ import annotations

from sqlalchemy import text

from geoplatform.registry import PUBLIC
from layers.base.layers import BASE_LAYERS

VADUZ = (9.5209, 47.1410)
SCHAAN = (9.5095, 47.1650)


def search(client, headers=None, **params):
    response = client.get("/search", query_string=params, headers=headers or {})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def features(client, headers=None, **params) -> list[dict]:
    return search(client, headers, **params).json["features"]


def test_an_answer_is_a_geojson_feature_collection_of_points(client, demo_engine):
    response = search(client, q="Kunstmuseum Liechtenstein")
    assert response.mimetype == "application/geo+json"
    body = response.json
    assert body["type"] == "FeatureCollection"
    assert body["numberReturned"] == len(body["features"]) > 0
    first = body["features"][0]
    assert first["type"] == "Feature" and first["geometry"]["type"] == "Point"
    assert first["properties"] == {
        "layer": "base.pois",
        "layer_title": "兴趣点 Points of interest",
        "type": "museum",
        "name": "Kunstmuseum Liechtenstein",
        "label": "Kunstmuseum Liechtenstein, Vaduz",
        "matched": "name",
        "matched_text": "Kunstmuseum Liechtenstein",
        "score": 0.9,  # an exact match (1) in a layer of search_rank 3 (0.9)
    }
    assert first["links"][0]["href"].endswith(f"/collections/base.pois/items/{first['id']}")
    with demo_engine.connect() as conn:
        stored = conn.execute(
            text("SELECT ST_X(geom), ST_Y(geom) FROM base.pois WHERE id = :id"),
            {"id": first["id"]},
        ).one()
    assert first["geometry"]["coordinates"] == [round(stored[0], 7), round(stored[1], 7)]


def test_results_are_ordered_by_score(client):
    scores = [f["properties"]["score"] for f in features(client, q="Schaan", limit=50)]
    assert len(scores) > 10
    assert scores == sorted(scores, reverse=True)


def test_the_point_of_a_line_or_an_area_lies_on_it(client, demo_engine):
    found = features(client, q="Zollstrasse", limit=1) + features(client, q="Balzers", limit=5)
    by_layer = {f["properties"]["layer"]: f for f in found}
    with demo_engine.connect() as conn:
        for layer in ("base.roads", "base.admin_areas"):
            feature = by_layer[layer]
            lon, lat = feature["geometry"]["coordinates"]
            distance = conn.execute(
                text(
                    f"SELECT ST_Distance(geom::geography, "
                    f"ST_SetSRID(ST_MakePoint(:lon, :lat), 4490)::geography) "
                    f"FROM {layer} WHERE id = :id"
                ),
                {"lon": lon, "lat": lat, "id": feature["id"]},
            ).scalar_one()
            assert distance < 0.05, layer


def test_limit_caps_the_results(client):
    assert len(features(client, q="strasse", limit=3)) == 3
    assert len(features(client, q="strasse")) == 10
    assert len(features(client, q="strasse", limit=50)) == 50


def test_a_street_cut_into_segments_comes_once_per_municipality(client, demo_engine):
    roads = [
        f["properties"]
        for f in features(client, q="Landstrasse", limit=50)
        if f["properties"]["layer"] == "base.roads" and f["properties"]["name"] == "Landstrasse"
    ]
    labels = [r["label"] for r in roads]
    assert len(labels) == len(set(labels)) > 1
    assert all(label.startswith("Landstrasse, ") for label in labels)
    with demo_engine.connect() as conn:
        segments = conn.execute(
            text("SELECT count(*) FROM base.roads WHERE name = 'Landstrasse'")
        ).scalar_one()
    assert segments > len(labels)


def test_spellings_meet(client):
    """ß and ss, umlauts and their transliterations, spaces, hyphens and "str." are one name."""
    for query in ("Schaanerstrasse", "Schaanerstraße", "schaaner strasse", "Schaanerstr."):
        first = features(client, q=query, limit=1)[0]["properties"]
        assert (first["layer"], first["score"]) == ("base.roads", 0.85), query
        assert first["name"] in ("Schaanerstrasse", "Schaaner Strasse"), query
    for query in ("Pfälzer Hütte", "pfalzer hutte", "Pfaelzer Huette", "PFÄLZER-HÜTTE"):
        first = features(client, q=query, limit=1)[0]["properties"]
        assert (first["name"], first["score"]) == ("Pfälzer Hütte", 0.9), query


def test_exact_beats_prefix_beats_substring_beats_typo(client):
    def score(query: str, name: str) -> float:
        found = features(client, q=query, limit=50)
        return next(f["properties"]["score"] for f in found if f["properties"]["name"] == name)

    exact = score("Triesenberg", "Triesenberg")
    prefix = score("Triesenb", "Triesenberg")
    typo = score("Triesenberk", "Triesenberg")
    assert exact > prefix > typo > 0
    assert score("Landesmuseum", "Liechtensteinisches Landesmuseum Vaduz") > score(
        "Landesmusem", "Liechtensteinisches Landesmuseum Vaduz"
    )


def test_chinese_names_are_found_whole_and_in_part(client):
    for query in ("瓦杜茲", "瓦杜", "杜"):
        first = features(client, q=query, limit=1)[0]["properties"]
        assert (first["layer"], first["name"], first["matched"]) == (
            "base.places",
            "Vaduz",
            "name_zh",
        ), query
        assert first["matched_text"] == "瓦杜茲"


def test_near_ranks_the_nearer_of_equal_names_first_and_gives_distances(client):
    near_vaduz = features(client, q="Coop", near="{},{}".format(*VADUZ), limit=3)
    near_schaan = features(client, q="Coop", near="{},{}".format(*SCHAAN), limit=3)
    assert near_vaduz[0]["properties"]["label"] == "Coop, Vaduz"
    assert near_schaan[0]["properties"]["name"] == "Coop Schaan"
    distances = [f["properties"]["distance_m"] for f in near_vaduz]
    assert distances[0] < 500 and all(d >= 0 for d in distances)
    assert "distance_m" not in features(client, q="Coop", limit=1)[0]["properties"]


def test_bbox_keeps_only_results_intersecting_it(client):
    west, south, east, north = 9.50, 47.15, 9.53, 47.18  # Schaan
    found = features(client, q="Landstrasse", bbox=f"{west},{south},{east},{north}", limit=50)
    assert found
    for feature in found:
        assert feature["properties"]["label"] != "Landstrasse, Balzers"
    points_inside = [
        west <= f["geometry"]["coordinates"][0] <= east
        and south <= f["geometry"]["coordinates"][1] <= north
        for f in found
    ]
    # A road crossing the box is in it although its point may lie outside.
    assert sum(points_inside) >= len(found) // 2
    assert features(client, q="Vaduz", bbox="9.0,46.0,9.1,46.1") == []


def test_nothing_found_is_an_empty_collection(client):
    body = search(client, q="Xylophonmanufaktur").json
    assert body == {"type": "FeatureCollection", "numberReturned": 0, "features": []}


def test_public_answers_may_be_cached_by_anyone_but_vary_by_key(client):
    response = search(client, q="Vaduz")
    assert response.headers["Cache-Control"].startswith("public")
    assert response.headers["Vary"] == "Authorization, X-API-Key"


# --- the gate -------------------------------------------------------------------------------------


def test_anonymous_callers_never_get_an_internal_layers_result(internal_client):
    for query in ("Landstrasse", "Zollstrasse", "Städtle", "strasse"):
        found = features(internal_client, q=query, limit=50)
        layers = {f["properties"]["layer"] for f in found}
        assert layers and all(layer.startswith("base.") for layer in layers), query
        body = search(internal_client, q=query, limit=50).get_data(as_text=True)
        assert "internal." not in body


def test_a_department_key_gets_the_layers_its_department_may_read(internal_client, key_for):
    def layers(headers) -> set[str]:
        found = features(internal_client, headers, q="Landstrasse", limit=50)
        return {f["properties"]["layer"] for f in found}

    water, gas = key_for("water_utility"), key_for("gas_utility")
    assert {"internal.roads", "internal.water_only"} <= layers(water)
    assert "internal.roads" in layers(gas) and "internal.water_only" not in layers(gas)
    response = search(internal_client, water, q="Landstrasse")
    assert response.headers["Cache-Control"].startswith("private")


def test_search_is_documented_in_the_api(client):
    document = client.get("/api").json
    operation = document["paths"]["/search"]["get"]
    names = [p["name"] for p in operation["parameters"]]
    assert names == ["q", "limit", "bbox", "near"]
    assert operation["tags"] == ["search"]
    assert "400" in operation["responses"]
    assert [p["name"] for p in document["paths"]["/reverse"]["get"]["parameters"]] == [
        "lon",
        "lat",
    ]


def test_every_base_layer_that_names_things_is_searched(client):
    assert all(layer.access == PUBLIC and layer.searchable for layer in BASE_LAYERS)
    found = {
        f["properties"]["layer"]
        for query in ("Rhein", "Hilti", "Aptswingert", "Herrengasse 9", "Vaduz")
        for f in features(client, q=query, limit=50)
    }
    assert found == {layer.id for layer in BASE_LAYERS}
