"""The embed SDK: /sdk.js for pages of any origin, and the example page embedding two maps."""

from __future__ import annotations

import io
import re
from urllib.parse import urlsplit

import numpy as np
from flask import Flask
from PIL import Image

from geoplatform.db import transaction
from geoplatform.keys import create_key
from geoplatform.site.maplibre import find_maplibre
from tests.features.live_server import serve

EXAMPLE_LAYERS = ["base.landuse", "base.water", "base.roads", "base.buildings"]
ORIGIN = {"Origin": "https://department.example"}
# A department's page on an origin of its own: localhost, where the platform is at 127.0.0.1
# (Chromium lets only pages in the loopback address space load from it).
DEPARTMENT_HOST = "localhost"
DEPARTMENT_HTML = """<!doctype html><html><head><meta charset="utf-8">
<link rel="icon" href="data:,"></head><body><div id="map" style="width: 600px; height: 400px"></div>
<script type="module">
  import "%(sdk)s";
  const m = await window.geoplatform.map("#map", {
    layers: ["base.roads"], center: [9.52, 47.14], zoom: 14, apiKey: "%(key)s", lang: "en",
  });
  window.__embedded = m;
  m.loaded() ? (window.__idle = true) : m.once("idle", () => (window.__idle = true));
</script></body></html>"""


def test_the_sdk_is_a_javascript_module_any_origin_may_load(client):
    response = client.get("/sdk.js", headers=ORIGIN)
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    script = response.get_data(as_text=True)
    assert "export async function map(" in script
    assert "window.geoplatform = { map }" in script
    assert f'const MAPLIBRE_VERSION = "{find_maplibre().version()}"' in script
    assert not re.findall(r"https?://", script.replace("https://<platform>/sdk.js", ""))


def test_what_the_sdk_loads_answers_cross_origin_gets(client):
    version = find_maplibre().version()
    for path in (
        f"/static/vendor/maplibre-gl/{version}/maplibre-gl.mjs",
        f"/static/vendor/maplibre-gl/{version}/maplibre-gl-worker.mjs",
        "/styles/base.json",
        "/tiles/base.roads.json",
    ):
        with client.get(path, headers=ORIGIN) as response:
            assert response.status_code == 200, path
            assert response.headers["Access-Control-Allow-Origin"] == "*", path


def test_a_page_of_another_origin_may_send_its_key(client):
    preflight = {
        **ORIGIN,
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "x-api-key",
    }
    for path in (
        "/styles/base.json",
        "/tiles/base.roads.json",
        "/tiles/base.roads/14/8625/5753.mvt",
    ):
        response = client.options(path, headers=preflight)
        assert response.status_code == 200, path
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert "X-API-Key" in response.headers["Access-Control-Allow-Headers"]
    post = client.options(
        "/collections/base.roads/items",
        headers={**ORIGIN, "Access-Control-Request-Method": "POST"},
    )
    assert "Access-Control-Allow-Headers" not in post.headers


def test_the_example_page_shows_the_snippet_and_names_no_other_host(client):
    page = client.get("/examples/embed.html")
    assert page.status_code == 200
    assert page.content_type.startswith("text/html")
    html = page.get_data(as_text=True)
    assert '<pre id="snippet">' in html
    assert 'import { map } from "http://localhost/sdk.js"' in html
    hosts = {urlsplit(url).hostname for url in re.findall(r"https?://[^\s\"'<]+", html)}
    assert hosts <= {"localhost"}


def test_both_are_in_the_api_definition(client):
    paths = client.get("/api").json["paths"]
    assert paths["/sdk.js"]["get"]["summary"] == "The embed SDK (ES module)"
    assert paths["/examples/embed.html"]["get"]["tags"] == ["sdk"]


def test_the_example_embeds_the_listed_layers_from_127_0_0_1_only(session, client):
    session.page.goto(session.base_url + "/examples/embed.html")
    session.page.wait_for_function("window.__embed && window.__embed.idle === true")
    canvas = session.page.locator("#layers-map canvas.maplibregl-canvas")
    pixels = np.asarray(Image.open(io.BytesIO(canvas.screenshot())).convert("L"), dtype=float)
    session.screenshot("embed-example")
    assert pixels.std() > 10, "the embedded map is blank"

    drawn = session.page.evaluate("window.__embed.layers.getStyle().layers.map((l) => l.id)")
    base = client.get("/styles/base.json").json["layers"]
    expected = [
        layer["id"]
        for layer in base
        if layer["type"] == "background" or layer.get("source-layer") in EXAMPLE_LAYERS
    ]
    assert drawn == expected
    assert {layer.get("source-layer") for layer in base if layer["id"] in drawn} == {
        None,
        *EXAMPLE_LAYERS,
    }

    session.page.locator("#saved-note").filter(has_not_text="…").wait_for()
    hosts = {urlsplit(url).hostname for url in session.requests if not url.startswith("data:")}
    assert hosts == {"127.0.0.1"}
    sources = session.page.evaluate(
        "Object.values(window.__embed.layers.getStyle().sources).map((s) => s.url)"
    )
    paths = [urlsplit(url).path.removeprefix("/tiles/").removesuffix(".json") for url in sources]
    tilejson_layers = {layer_id for path in paths for layer_id in path.split(",")}
    assert tilejson_layers == set(EXAMPLE_LAYERS), "its tiles carry the listed layers only"
    assert session.errors == []


def test_a_page_of_another_origin_embeds_a_map_with_its_key(session, demo_engine):
    with transaction(demo_engine) as conn:
        key = create_key(conn, "water_utility", "viewer", "embed SDK test")[1]
    html = DEPARTMENT_HTML % {"sdk": session.base_url + "/sdk.js", "key": key}
    department = Flask(__name__)
    department.add_url_rule("/", "page", lambda: html)
    sent_keys = []
    session.page.on("request", lambda r: sent_keys.append((r.url, r.headers.get("x-api-key"))))
    with serve(department, host=DEPARTMENT_HOST) as department_url:
        session.page.goto(department_url + "/")
        session.page.wait_for_function("window.__idle === true")
    assert session.errors == []
    assert session.page.evaluate("window.__embedded.getStyle().layers.length") > 1
    keyed = {urlsplit(url).path.split("/")[1] for url, sent in sent_keys if sent == key}
    assert {"styles", "tiles", "fonts"} <= keyed
    assert all(sent is None for url, sent in sent_keys if urlsplit(url).hostname != "127.0.0.1")
