"""The permission gate: public for all, internal for departments, named departments only."""

from __future__ import annotations

import pytest

from geoplatform.app import create_app
from geoplatform.auth import ANONYMOUS, Principal, can_read
from layers.base.layers import ROADS
from tests.fixtures.internal import MODULE

INTERNAL_ROADS, WATER_ONLY = MODULE.layers
WATER = Principal(department="water_utility", role="viewer")
GAS = Principal(department="gas_utility", role="viewer")


@pytest.mark.parametrize(
    ("principal", "expected"),
    [(ANONYMOUS, (True, False, False)), (GAS, (True, True, False)), (WATER, (True, True, True))],
)
def test_can_read(principal, expected):
    assert tuple(can_read(principal, x) for x in (ROADS, INTERNAL_ROADS, WATER_ONLY)) == expected


def test_anonymous_caller_does_not_learn_of_internal_layers(demo_settings, demo_load):
    settings = demo_settings.model_copy(update={"modules": ["base", "tests.fixtures.internal"]})
    app = create_app(settings)
    client = app.test_client()
    ids = [c["id"] for c in client.get("/collections").json["collections"]]
    assert "base.roads" in ids
    assert "internal.roads" not in ids and "internal.water_only" not in ids
    for layer_id in ("internal.roads", "internal.water_only"):
        response = client.get(f"/collections/{layer_id}")
        assert response.status_code == 404
        assert response.json["description"] == f"no collection {layer_id!r}"
    app.extensions["geoplatform"].close()
