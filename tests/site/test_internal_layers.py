"""With internal layers enabled, an anonymous visitor's browser never learns of them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from geoplatform.app import create_app
from tests.browser import Session
from tests.features.live_server import serve
from tests.fixtures.internal import MODULE as INTERNAL

HIDDEN = [layer.id for layer in INTERNAL.layers]


@pytest.fixture(scope="module")
def internal_site_url(demo_settings, demo_load) -> Iterator[str]:
    settings = demo_settings.model_copy(
        update={"modules": ["base", "tests.fixtures.internal"], "rate_limit_key_prefix": "site-int"}
    )
    app = create_app(settings)
    with serve(app) as url:
        yield url
    # Every pool and listener it opened, before the database is dropped under them.
    app.extensions["geoplatform"].close()


def test_an_anonymous_visitor_sees_no_internal_layer(browser, internal_site_url):
    context = browser.new_context(viewport={"width": 1200, "height": 800}, locale="zh-CN")
    context.set_default_timeout(15_000)
    page = context.new_page()
    session = Session(page, internal_site_url)
    page.on("request", lambda request: session.requests.append(request.url))
    try:
        session.open_map()
        panel_ids = page.eval_on_selector_all(
            "#layer-list input[data-layer]", "inputs => inputs.map(i => i.dataset.layer)"
        )
        assert "base.buildings" in panel_ids
        style = page.evaluate("JSON.stringify(window.__map.getStyle())")
        titles = page.locator("#layer-list").inner_text()
    finally:
        context.close()
    for layer_id, layer in zip(HIDDEN, INTERNAL.layers, strict=True):
        assert layer_id not in panel_ids
        assert layer_id not in style
        assert layer.title_zh not in titles
        assert not [url for url in session.requests if layer_id in url]
