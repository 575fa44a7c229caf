"""The map studio in a real browser: log in with a key, assemble a map and see it drawn as it
will be saved, save it, view it; edit and delete the department's maps."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
import uuid
from urllib.parse import urlsplit

import numpy as np
import pytest
from PIL import Image

from geoplatform.db import transaction
from geoplatform.keys import create_key

COLOUR = "#12ab34"
NEW_COLOUR = "#7a1fd2"
MAGENTA = "#ff00ff"
VADUZ = [9.5209, 47.141]


def new_key(engine, department: str, role: str = "editor") -> str:
    with transaction(engine) as conn:
        _record, key = create_key(conn, department, role, "tests")
    return key


@pytest.fixture
def editor_key(demo_engine) -> str:
    return new_key(demo_engine, "water_utility")


def http(
    url: str, key: str, method: str = "GET", headers: dict | None = None, body: dict | None = None
):
    headers = {"X-API-Key": key, **(headers or {})}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    call = urllib.request.Request(url, data=data, method=method, headers=headers)
    return urllib.request.urlopen(call)


def map_document(slug: str, colour: str = COLOUR) -> dict:
    return {
        "slug": slug,
        "title": f"测试 Test {slug}",
        "description": "kept when the studio saves",
        "visibility": "public",
        "spec": {
            "layers": [
                {"layer": "base.buildings", "color": colour, "opacity": 0.8, "label": "name"},
                {"layer": "base.roads", "color": "#0000aa", "filter": "class = 'primary'"},
            ],
            "view": {"center": VADUZ, "zoom": 16, "bearing": 0, "pitch": 0},
            "basemap": True,
        },
    }


@pytest.fixture
def saved_map(session, editor_key):
    """A map of the water utility saved through the API, deleted afterwards if still there."""
    slug = f"studio-{uuid.uuid4().hex[:10]}"
    url = f"{session.base_url}/maps"
    with http(url, editor_key, "POST", body=map_document(slug)) as response:
        assert response.status == 201
    yield slug
    delete_if_there(f"{url}/{slug}", editor_key)


def delete_if_there(url: str, key: str) -> None:
    try:
        with http(url, key) as response:
            etag = response.headers["ETag"]
    except urllib.error.HTTPError as error:
        error.close()
        assert error.code == 404
        return
    with http(url, key, "DELETE", {"If-Match": etag}) as response:
        assert response.status == 204


def log_in(session, key: str) -> None:
    page = session.page
    page.goto(session.base_url + "/studio")
    page.fill("#key", key)
    page.click("#login button[type=submit]")


def listed(session, slug: str):
    return session.page.locator(f"#maps li[data-slug='{slug}']")


def edit(session, slug: str) -> None:
    listed(session, slug).locator("button.edit").click()
    session.page.locator("#editing-slug", has_text=slug).wait_for()
    session.page.wait_for_function(
        "window.__map.getStyle().layers.some((l) => l.id.startsWith('map-0:'))"
    )
    session.wait_until_idle()


def colours_drawn(page, prefix: str) -> list[str]:
    return page.evaluate(
        """(prefix) => window.__map.getStyle().layers
            .filter((l) => l.id.startsWith(prefix))
            .map((l) => JSON.stringify(l.paint ?? {}))""",
        prefix,
    )


def magenta_pixels(session) -> int:
    canvas = session.page.locator("#preview canvas.maplibregl-canvas")
    rgb = np.asarray(Image.open(io.BytesIO(canvas.screenshot())).convert("RGB"), dtype=int)
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return int(((red > 200) & (green < 80) & (blue > 200)).sum())


def test_a_wrong_key_shows_the_servers_message(session):
    log_in(session, "not-a-key")
    session.page.wait_for_function("document.getElementById('login-error').textContent !== ''")
    message = session.page.locator("#login-error").text_content()
    assert message in ("malformed API key", "unknown or revoked API key")
    assert session.page.locator("#studio").is_hidden()
    assert session.page.evaluate("sessionStorage.length") == 0


def test_an_editor_saves_a_map_and_views_it(session, editor_key):
    page = session.page
    slug = f"studio-{uuid.uuid4().hex[:10]}"
    log_in(session, editor_key)
    row = page.locator("[data-layer='base.buildings']")
    row.locator("input[type=checkbox]").check()
    row.locator(".color").fill(COLOUR)
    page.fill("#title", "工作室测试 Studio test")
    page.fill("#slug", slug)

    row.locator(".filter").fill("levels >>= 3")
    page.wait_for_function("document.getElementById('preview-error').textContent !== ''")
    assert "layers[0].filter: invalid cql2-text" in page.locator("#preview-error").text_content()
    page.click("#save")
    page.wait_for_function("document.getElementById('save-error').textContent !== ''")
    assert "layers[0].filter: invalid cql2-text" in page.locator("#save-error").text_content()
    # The browser logs the refused preview and POST itself; nothing else may be logged.
    assert session.errors and all("status of 400" in error for error in session.errors)
    session.errors.clear()

    row.locator(".filter").fill("levels >= 3")
    page.click("#save")
    link = page.locator("#saved-link")
    link.wait_for()
    assert page.locator("#save-error").text_content() == ""
    try:
        link.click()
        page.wait_for_url(f"**/m/{slug}")
        session.wait_until_idle()
        painted = page.evaluate(
            """window.__map.getStyle().layers
                .filter((l) => l.id.startsWith('map-0:'))
                .map((l) => [l.id, JSON.stringify(l.paint ?? {})])"""
        )
        assert painted
        assert all(COLOUR in paint for _id, paint in painted)
        assert session.errors == []
        assert {urlsplit(url).hostname for url in session.requests} == {"127.0.0.1"}
    finally:
        with http(f"{session.base_url}/maps/{slug}", editor_key) as response:
            etag = response.headers["ETag"]
            assert json.load(response)["spec"]["layers"][0]["color"] == COLOUR
        url = f"{session.base_url}/maps/{slug}"
        with http(url, editor_key, "DELETE", {"If-Match": etag}) as response:
            assert response.status == 204


def test_the_studio_greets_the_key_and_lists_only_its_departments_maps(
    session, demo_engine, editor_key, saved_map
):
    gas_key = new_key(demo_engine, "gas_utility")
    gas_slug = f"studio-gas-{uuid.uuid4().hex[:10]}"
    with http(f"{session.base_url}/maps", gas_key, "POST", body=map_document(gas_slug)):
        pass
    try:
        log_in(session, editor_key)
        listed(session, saved_map).wait_for()
        assert session.page.locator("#whoami").text_content() == (
            "已登录 Logged in as 水务集团 (editor)"
        )
        assert listed(session, gas_slug).count() == 0
        item = listed(session, saved_map)
        assert item.locator("button.edit").count() == item.locator("button.delete").count() == 1
    finally:
        delete_if_there(f"{session.base_url}/maps/{gas_slug}", gas_key)


def test_an_editor_changes_a_saved_maps_colour(session, editor_key, saved_map):
    page = session.page
    log_in(session, editor_key)
    edit(session, saved_map)
    assert page.locator("#slug").input_value() == saved_map
    assert page.locator("#slug").get_attribute("readonly") is not None
    assert page.locator("#title").input_value() == f"测试 Test {saved_map}"
    buildings = page.locator("[data-layer='base.buildings']")
    assert buildings.locator("input[type=checkbox]").is_checked()
    assert buildings.locator(".color").input_value() == COLOUR
    assert buildings.locator(".label").input_value() == "name"
    roads = page.locator("[data-layer='base.roads']")
    assert roads.locator(".filter").input_value() == "class = 'primary'"
    centre = page.evaluate("[window.__map.getCenter().lng, window.__map.getCenter().lat]")
    assert centre == pytest.approx(VADUZ, abs=1e-4), "the preview moved to the saved view"
    assert page.evaluate("window.__map.getZoom()") == pytest.approx(16)

    buildings.locator(".color").fill(NEW_COLOUR)
    page.wait_for_function(
        "(colour) => window.__map.getStyle().layers.some("
        "(l) => l.id.startsWith('map-0:') && JSON.stringify(l.paint).includes(colour))",
        arg=NEW_COLOUR,
    )
    page.click("#save")
    page.locator("#saved-link").wait_for()
    assert page.locator("#save-error").text_content() == ""

    url = f"{session.base_url}/maps/{saved_map}"
    with http(url, editor_key) as response:
        saved = json.load(response)
        assert response.headers["ETag"] == '"2"'
    assert [x["color"] for x in saved["spec"]["layers"]] == [NEW_COLOUR, "#0000aa"]
    assert saved["description"] == "kept when the studio saves"
    with http(f"{url}/style.json", editor_key) as response:
        style = json.load(response)
    painted = [x for x in style["layers"] if x["id"].startswith("map-0:")]
    assert painted and all(NEW_COLOUR in json.dumps(x["paint"]) for x in painted)

    page.goto(f"{session.base_url}/m/{saved_map}")
    session.wait_until_idle()
    painted = colours_drawn(page, "map-0:")
    assert painted and all(NEW_COLOUR in paint for paint in painted)
    assert session.errors == []


def test_a_stale_version_shows_the_servers_412_message(session, editor_key, saved_map):
    page = session.page
    log_in(session, editor_key)
    edit(session, saved_map)
    # Someone else saves the map meanwhile: it is at version 2 now.
    url = f"{session.base_url}/maps/{saved_map}"
    changed = map_document(saved_map, colour="#000000")
    with http(url, editor_key, "PUT", {"If-Match": '"1"'}, changed) as response:
        assert response.status == 200

    page.locator("[data-layer='base.buildings'] .color").fill(NEW_COLOUR)
    page.click("#save")
    page.wait_for_function("document.getElementById('save-error').textContent !== ''")
    message = page.locator("#save-error").text_content()
    assert message == f"map '{saved_map}' is at version 2; fetch it again"
    assert page.locator("#saved").is_hidden()
    with http(url, editor_key) as response:
        assert json.load(response)["spec"]["layers"][0]["color"] == "#000000"
    assert len(session.errors) == 1 and "status of 412" in session.errors[0]


def test_deleting_a_map_removes_it(session, editor_key, saved_map):
    page = session.page
    log_in(session, editor_key)
    listed(session, saved_map).wait_for()
    dialogs = []

    def accept(dialog):
        dialogs.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    listed(session, saved_map).locator("button.delete").click()
    listed(session, saved_map).wait_for(state="detached")
    assert saved_map in dialogs[0]
    with pytest.raises(urllib.error.HTTPError) as gone:
        http(f"{session.base_url}/maps/{saved_map}", editor_key)
    gone.value.close()
    assert gone.value.code == 404
    assert session.errors == []


def test_declining_the_confirmation_keeps_the_map(session, editor_key, saved_map):
    page = session.page
    log_in(session, editor_key)
    listed(session, saved_map).wait_for()
    page.once("dialog", lambda dialog: dialog.dismiss())
    listed(session, saved_map).locator("button.delete").click()
    page.wait_for_timeout(300)
    assert listed(session, saved_map).count() == 1
    with http(f"{session.base_url}/maps/{saved_map}", editor_key) as response:
        assert response.status == 200


@pytest.mark.parametrize("layer_id", ["base.roads", "pipeline.water_pipes"])
def test_the_preview_draws_a_ticked_layer_with_the_key(request, session, editor_key, layer_id):
    # The water pipes are the water utility's own: their tiles are drawn only with the key.
    if layer_id.startswith("pipeline."):
        request.getfixturevalue("demo_city")
    page = session.page
    keyed_tiles = []
    page.on(
        "request",
        lambda r: (
            keyed_tiles.append(r.headers.get("x-api-key") == editor_key)
            if "/tiles/" in r.url
            else None
        ),
    )
    log_in(session, editor_key)
    session.wait_until_idle()
    page.evaluate("window.__map.jumpTo({center: [9.5209, 47.141], zoom: 15})")
    session.wait_until_idle()
    before = magenta_pixels(session)

    row = page.locator(f"[data-layer='{layer_id}']")
    row.locator("input[type=checkbox]").check()
    row.locator(".color").fill(MAGENTA)
    page.wait_for_function(
        "(colour) => window.__map.getStyle().layers.some("
        "(l) => l.source === 'map-0' && JSON.stringify(l.paint).includes(colour))",
        arg=MAGENTA,
    )
    session.wait_until_idle()
    drawn = page.evaluate(
        "window.__map.getStyle().layers.filter((l) => l.source === 'map-0').map((l) => l.type)"
    )
    assert "line" in drawn
    after = magenta_pixels(session)
    session.screenshot(f"studio-preview-{layer_id}")
    assert after > before + 500, (before, after)
    assert keyed_tiles and all(keyed_tiles), "the preview's tiles carry the key"

    row.locator("input[type=checkbox]").uncheck()
    page.wait_for_function("!window.__map.getStyle().layers.some((l) => l.source === 'map-0')")
    assert session.errors == []
