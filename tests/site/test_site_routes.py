"""The map page and its vendor files over HTTP, and the landing route's content negotiation."""

from __future__ import annotations

import re

from flask import Flask

from geoplatform.site import make_site_blueprint
from geoplatform.site.maplibre import find_maplibre

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def test_browsers_get_the_map_page_and_api_clients_the_landing_json(client):
    page = client.get("/", headers={"Accept": BROWSER_ACCEPT})
    assert page.status_code == 200
    assert page.content_type.startswith("text/html")
    html = page.get_data(as_text=True)
    assert 'id="map"' in html
    assert not re.findall(r"""(?:src|href)=["'](?:https?:)?//""", html)
    assert client.get("/?f=html").content_type.startswith("text/html")
    for response in (
        client.get("/"),
        client.get("/?f=json", headers={"Accept": BROWSER_ACCEPT}),
        client.get("/", headers={"Accept": "application/json"}),
        client.get("/", headers={"Accept": "*/*"}),
    ):
        assert response.content_type == "application/json"
        assert response.json["links"][0]["rel"] == "self"


def test_maplibre_is_served_from_node_modules_with_a_long_cache(client):
    version = find_maplibre().version()
    for name, media_type in (
        ("maplibre-gl.mjs", "text/javascript"),
        ("maplibre-gl-worker.mjs", "text/javascript"),
        ("maplibre-gl.css", "text/css"),
    ):
        with client.get(f"/static/vendor/maplibre-gl/{version}/{name}") as response:
            assert response.status_code == 200, name
            assert response.mimetype == media_type
            assert "max-age=31536000" in response.headers["Cache-Control"]
    assert client.get(f"/static/vendor/maplibre-gl/{version}/package.json").status_code == 404
    assert client.get("/static/vendor/maplibre-gl/0.0.0/maplibre-gl.mjs").status_code == 404


def test_without_node_modules_the_page_says_what_to_run(tmp_path, caplog):
    app = Flask(__name__)
    blueprint = make_site_blueprint(tmp_path)
    app.register_blueprint(blueprint)
    app.add_url_rule("/", "features.landing", blueprint.map_page)
    assert "make node" in caplog.text
    page = app.test_client().get("/")
    assert page.status_code == 503
    assert "make node" in page.get_data(as_text=True)
