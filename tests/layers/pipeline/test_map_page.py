"""The burst isolation map in a real browser: a water utility key logs in, a burst on a demo
main is isolated and drawn on the map, the side panel lists the valves the API names."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from geoplatform.db import transaction
from geoplatform.keys import create_key
from tests.browser import ARTIFACTS

# A main in the centre of Vaduz, where a burst leaves customers without water.
_A_MAIN_IN_VADUZ = """
SELECT code FROM pipeline.pipes
 WHERE network = 'demo_water' AND role = 'main' AND length_m > 80
 ORDER BY geom <-> ST_SetSRID(ST_MakePoint(9.5215, 47.1395), 4490), code
 LIMIT 1
"""


@pytest.fixture
def water_key(demo_engine, demo_pipeline) -> str:
    with transaction(demo_engine) as conn:
        return create_key(conn, "water_utility", "viewer", "isolation map test")[1]


def test_isolation_is_drawn_on_the_map(session, demo_engine, water_key, client):
    with demo_engine.connect() as conn:
        pipe = conn.execute(text(_A_MAIN_IN_VADUZ)).scalar_one()
    expected = client.post(
        "/pipeline/isolation",
        json={"network": "demo_water", "pipe": pipe},
        headers={"X-API-Key": water_key},
    ).json
    page = session.page
    page.goto(f"{session.base_url}/pipeline/map?network=demo_water&pipe={pipe}")
    page.fill("#key", water_key)
    page.click("#login button")
    page.wait_for_function(f"document.body.dataset.drawn === {pipe!r}", timeout=30_000)
    listed = page.locator("#valves li").all_inner_texts()
    assert listed == expected["valves_to_close"] and listed
    assert expected["summary"]["customers"] > 0
    drawn = page.evaluate(
        "window.__map.querySourceFeatures('isolation').filter("
        "f => f.properties.kind === 'valve').length"
    )
    assert drawn >= len(expected["valves_to_close"])
    assert session.errors == []
    assert all(url.startswith(session.base_url) for url in session.requests)
    ARTIFACTS.mkdir(exist_ok=True)
    session.screenshot("pipeline-isolation")
    assert (ARTIFACTS / "pipeline-isolation.png").stat().st_size > 10_000
