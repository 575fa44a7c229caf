"""The public map site in a real browser: it draws the city, searches, shows popups, speaks two
languages, and loads nothing from outside 127.0.0.1."""

from __future__ import annotations

import io
from urllib.parse import urlsplit

import numpy as np
from PIL import Image
from sqlalchemy import text

VADUZ = (9.52, 47.14)
# A large building near the centre of Vaduz, a point surely inside it.
BUILDING_SQL = text(
    """
    SELECT ST_X(p) AS lon, ST_Y(p) AS lat
    FROM (
        SELECT ST_PointOnSurface(geom) AS p, ST_Area(geom::geography) AS area
        FROM base.buildings
        WHERE ST_DWithin(geom, ST_SetSRID(ST_MakePoint(9.5215, 47.1395), 4490), 0.004)
    ) AS near_vaduz
    ORDER BY area DESC
    LIMIT 1
    """
)


def map_centre(page) -> tuple[float, float]:
    centre = page.evaluate(
        "(() => { const c = window.__map.getCenter(); return [c.lng, c.lat]; })()"
    )
    return centre[0], centre[1]


def test_the_page_draws_the_city_from_127_0_0_1_only(session):
    session.open_map()
    canvas = session.page.locator("canvas.maplibregl-canvas")
    pixels = np.asarray(Image.open(io.BytesIO(canvas.screenshot())).convert("L"), dtype=float)
    session.screenshot("map-page")
    assert pixels.std() > 10, "the map canvas is blank"
    hosts = {urlsplit(url).hostname for url in session.requests if not url.startswith("data:")}
    assert hosts == {"127.0.0.1"}
    assert any("/tiles/" in url and url.endswith(".mvt") for url in session.requests)
    assert session.errors == []
    lon, lat = map_centre(session.page)
    assert 9.47 < lon < 9.64 and 47.04 < lat < 47.28, "centred on the city"
    attribution = session.page.locator(".maplibregl-ctrl-attrib").inner_text()
    assert "© OpenStreetMap contributors" in attribution
    assert session.page.locator(".maplibregl-ctrl-scale").count() == 1
    assert "#" in session.page.url, "the view is kept in the URL"


def test_search_for_vaduz_flies_there(session):
    session.open_map("/#11/47.05/9.60")
    session.page.fill("#search-input", "Vaduz")
    result = session.page.locator("#search-results button", has_text="Vaduz").first
    result.click()
    session.page.wait_for_function(
        "(() => { const c = window.__map.getCenter();"
        " return Math.abs(c.lng - 9.52) < 0.01 && Math.abs(c.lat - 47.14) < 0.01; })()"
    )
    session.wait_until_idle()
    session.screenshot("search-vaduz")
    lon, lat = map_centre(session.page)
    assert abs(lon - VADUZ[0]) < 0.01 and abs(lat - VADUZ[1]) < 0.01
    assert session.errors == []


def test_clicking_a_building_shows_its_attributes(session, demo_engine):
    with demo_engine.connect() as conn:
        building = conn.execute(BUILDING_SQL).one()
    session.open_map(f"/#18/{building.lat}/{building.lon}")
    x, y = session.page.evaluate(
        "([lon, lat]) => { const p = window.__map.project([lon, lat]); return [p.x, p.y]; }",
        [building.lon, building.lat],
    )
    box = session.page.locator("#map").bounding_box()
    session.page.mouse.click(box["x"] + x, box["y"] + y)
    popup = session.page.locator(".maplibregl-popup-content")
    popup.wait_for()
    assert "建筑物" in popup.inner_text()
    # The full feature (its OSM id is not in the tiles) names each attribute by its title.
    popup.locator("th", has_text="OSM 编号").wait_for()
    names = popup.locator("th").all_inner_texts()
    assert {"层数", "层数来源", "用途"} <= set(names), names
    assert not {"levels", "levels_source", "osm_id"} & set(names), names
    session.screenshot("building-popup")

    session.page.click("[data-language=en]")
    assert "Buildings" in popup.inner_text()
    names = popup.locator("th").all_inner_texts()
    assert {"Levels", "Levels source", "Use"} <= set(names), names
    # "OSM 编号" has no English part: the attribute's own name stands in for it.
    assert "osm_id" in names and "levels_source" not in names
    assert session.errors == []


def test_right_click_tells_what_is_there(session):
    session.open_map("/#16/47.141/9.5209")
    box = session.page.locator("#map").bounding_box()
    session.page.mouse.click(
        box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, button="right"
    )
    popup = session.page.locator(".maplibregl-popup.reverse")
    popup.wait_for()
    assert "Vaduz" in popup.inner_text()
    assert "最近道路" in popup.inner_text() and " m)" in popup.inner_text()
    session.screenshot("reverse-popup")


def test_english_switches_the_panel_and_layer_titles(session):
    session.open_map()
    layers = session.page.locator("#layer-list")
    assert "建筑物" in layers.inner_text()
    session.page.click("[data-language=en]")
    assert "Buildings" in layers.inner_text()
    assert session.page.locator(".panel h1").inner_text() == "City map"
    session.page.click("#layer-list input[data-layer='base.buildings']")
    visibility = session.page.evaluate(
        "window.__map.getLayoutProperty('base.buildings.fill', 'visibility')"
    )
    assert visibility == "none"
    session.screenshot("english-panel")


def test_the_panel_collapses_on_a_phone(session):
    session.page.set_viewport_size({"width": 375, "height": 667})
    session.open_map()
    assert session.page.locator("#panel-body").is_hidden()
    session.page.click("#panel-toggle")
    assert session.page.locator("#layer-list").is_visible()
    session.screenshot("phone")
