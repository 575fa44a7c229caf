"""Fixtures of the feature API tests that need a real HTTP server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.features.live_server import serve


@pytest.fixture(scope="session")
def live_url(demo_app) -> Iterator[str]:
    """Base URL (``http://127.0.0.1:PORT``, no trailing slash) of the demo app served over HTTP."""
    with serve(demo_app) as url:
        yield url
