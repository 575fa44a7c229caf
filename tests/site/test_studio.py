"""The map studio in a real browser: log in with a key, assemble a map, save it, view it."""

from __future__ import annotations

import json
import urllib.request
import uuid
from urllib.parse import urlsplit

import pytest

from geoplatform.db import transaction
from geoplatform.keys import create_key

COLOUR = "#12ab34"


@pytest.fixture
def editor_key(demo_engine) -> str:
    with transaction(demo_engine) as conn:
        _record, key = create_key(conn, "water_utility", "editor", "tests")
    return key


def request(url: str, key: str, method: str = "GET", headers: dict | None = None):
    call = urllib.request.Request(url, method=method, headers={"X-API-Key": key, **(headers or {})})
    return urllib.request.urlopen(call)


def log_in(session, key: str) -> None:
    page = session.page
    page.goto(session.base_url + "/studio")
    page.fill("#key", key)
    page.click("#login button[type=submit]")


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
    page.click("#save")
    page.wait_for_function("document.getElementById('save-error').textContent !== ''")
    assert "layers[0].filter: invalid cql2-text" in page.locator("#save-error").text_content()
    # The browser logs the refused POST itself; nothing else may be logged.
    assert len(session.errors) == 1 and "status of 400" in session.errors[0]
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
        with request(f"{session.base_url}/maps/{slug}", editor_key) as response:
            etag = response.headers["ETag"]
            assert json.load(response)["spec"]["layers"][0]["color"] == COLOUR
        url = f"{session.base_url}/maps/{slug}"
        with request(url, editor_key, "DELETE", {"If-Match": etag}) as response:
            assert response.status == 204
