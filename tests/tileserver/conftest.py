"""Fixtures of the tile tests."""

from __future__ import annotations

from contextlib import ExitStack

import pytest


@pytest.fixture
def closing():
    """Closes what a test registers with it (services, Redis clients) when the test ends."""
    with ExitStack() as stack:
        yield stack
