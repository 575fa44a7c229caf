"""The pipeline module's fixtures."""

from __future__ import annotations

import pytest

from layers.pipeline.load import DemoSummary, load_demo_networks


@pytest.fixture(scope="session")
def demo_pipeline(demo_engine) -> DemoSummary:
    """The demo water and gas networks (seed 7) generated once on the session's demo database."""
    return load_demo_networks(demo_engine)
