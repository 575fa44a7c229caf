"""The registry: declarations validated on their own and against the live schema."""

from __future__ import annotations

import pytest

from geoplatform.app import create_app
from geoplatform.registry import PUBLIC, Layer, Property, Registry, RegistryError
from layers.base.layers import BASE_LAYERS, ROADS


def roads_like(**changes) -> Layer:
    fields = {
        "id": "test.roads",
        "title_zh": "测试",
        "title_en": "Test",
        "table": "base.roads",
        "geometry_type": "LineString",
        "properties": (Property("class", "string"),),
        "access": PUBLIC,
    }
    return Layer(**{**fields, **changes})


def test_base_layers_are_declared_with_the_issue_ids():
    assert [layer.id for layer in BASE_LAYERS] == [
        "base.admin_areas",
        "base.roads",
        "base.buildings",
        "base.water",
        "base.landuse",
        "base.pois",
        "base.places",
        "base.addresses",
    ]
    assert all(layer.is_public and layer.srid == 4490 for layer in BASE_LAYERS)


def test_duplicate_id_is_refused():
    registry = Registry([ROADS])
    with pytest.raises(RegistryError, match="base.roads is declared twice"):
        registry.register(ROADS)


def test_layers_over_one_table_come_in_id_order_whichever_is_asked():
    # Edits lock the states of these layers in this order: the same order from every layer.
    also = roads_like(id="a.roads")
    registry = Registry([*BASE_LAYERS, roads_like(), also])
    expected = (also, ROADS, registry.get("test.roads"))
    assert registry.over_table(ROADS) == expected
    assert registry.over_table(also) == expected
    buildings = registry.get("base.buildings")
    assert registry.over_table(buildings) == (buildings,)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"id": "roads"}, "id must be 'module.name'"),
        ({"table": "roads; drop table x"}, "must be 'schema.table'"),
        ({"properties": (Property("Class", "string"),)}, "not a plain lower-case identifier"),
        ({"searchable": ("name",)}, "searchable column 'name' is not a declared property"),
        ({"minzoom": 18, "maxzoom": 3}, "zoom range"),
        ({"access": "everyone"}, "access must be"),
    ],
)
def test_malformed_declarations(changes, message):
    with pytest.raises(RegistryError, match=message):
        roads_like(**changes)


def test_base_layers_match_the_live_schema(demo_engine):
    assert Registry(BASE_LAYERS).validate(demo_engine) == []


def test_mismatches_name_layer_and_column(demo_engine):
    registry = Registry(
        [
            roads_like(id="test.missing_column", properties=(Property("speed_limit", "integer"),)),
            roads_like(id="test.wrong_type", properties=(Property("name", "integer"),)),
            roads_like(id="test.missing_table", table="base.tramways"),
            roads_like(id="test.wrong_geometry", geometry_type="Point"),
        ]
    )
    assert registry.validate(demo_engine) == [
        "layer test.missing_column: column speed_limit does not exist in base.roads",
        "layer test.wrong_type: column name is text in the database but declared integer",
        "layer test.missing_table: table base.tramways does not exist "
        "(run `geoplatform db upgrade`)",
        "layer test.wrong_geometry: geom is LINESTRING, declared Point",
    ]


def test_app_refuses_to_start_on_a_mismatch(demo_settings, demo_load):
    settings = demo_settings.model_copy(update={"modules": ["base", "tests.fixtures.broken"]})
    with pytest.raises(
        RegistryError, match="layer broken.roads: column speed_limit does not exist"
    ):
        create_app(settings)


def test_warn_mode_starts_anyway(demo_settings, demo_load):
    settings = demo_settings.model_copy(
        update={"modules": ["base", "tests.fixtures.broken"], "on_invalid_layer": "warn"}
    )
    app = create_app(settings)
    assert "broken.roads" in app.extensions["geoplatform"].registry
    app.extensions["geoplatform"].close()
