"""The registry fields the gazetteer reads: validated like every other declaration."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from geoplatform.registry import PUBLIC, Layer, Property, RegistryError
from layers.base.layers import ADDRESSES, ADMIN_AREAS, BASE_LAYERS, PLACES, POIS, ROADS


def roads_like(**changes) -> Layer:
    fields = {
        "id": "test.roads",
        "title_zh": "测试",
        "title_en": "Test",
        "table": "base.roads",
        "geometry_type": "LineString",
        "properties": (Property("class", "string"), Property("name", "string")),
        "access": PUBLIC,
    }
    return Layer(**{**fields, **changes})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"search_rank": 0}, "search_rank must be 1..9"),
        ({"search_rank": 10}, "search_rank must be 1..9"),
        ({"search_type": "kind"}, "search_type 'kind' is not a declared property"),
        ({"search_label": "title"}, "search_label 'title' is not a declared property"),
        ({"search_minor": ("service",)}, "search_minor needs search_type"),
        (
            {"search_type": "class", "search_minor": ("x') OR (true",)},
            'search_minor value "x\') OR (true" is not a plain lower-case word',
        ),
        ({"reverse_role": "street", "searchable": ("name",)}, "reverse_role must be one of"),
        ({"reverse_role": "admin", "searchable": ("name",)}, "reverse_role 'admin' needs polygons"),
        ({"reverse_role": "cell"}, "reverse_role 'cell' needs polygons"),
        ({"reverse_role": "road"}, "reverse_role 'road' needs search_label or a searchable"),
    ],
)
def test_malformed_gazetteer_declarations(changes, message):
    with pytest.raises(RegistryError, match=message.replace("(", r"\(").replace(")", r"\)")):
        roads_like(**changes)


def test_the_label_is_the_declared_one_or_the_first_searchable_column():
    assert roads_like().label_column is None
    assert roads_like(searchable=("name", "class")).label_column == "name"
    assert roads_like(searchable=("class",), search_label="name").label_column == "name"


def test_base_layers_rank_places_first_and_buildings_last():
    rank = {layer.id: layer.search_rank for layer in BASE_LAYERS}
    assert (
        rank["base.places"]
        < rank["base.admin_areas"]
        < rank["base.pois"]
        < rank["base.roads"]
        < rank["base.addresses"]
        < rank["base.buildings"]
    )
    assert [layer.id for layer in BASE_LAYERS if layer.reverse_role] == [
        ADMIN_AREAS.id,
        ROADS.id,
        ADDRESSES.id,
    ]
    assert (PLACES.search_type, POIS.search_type, ROADS.search_type) == (
        "type",
        "subcategory",
        "class",
    )


def test_every_searchable_base_column_has_its_trigram_index(demo_engine):
    """A column declared searchable without an index would be read whole on every search."""
    with demo_engine.connect() as conn:
        indexed = {
            (row.tablename, row.indexdef)
            for row in conn.execute(
                text("SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = 'base'")
            )
        }
    for layer in BASE_LAYERS:
        for column in layer.searchable:
            assert any(
                table == layer.table_name
                and f"platform.search_fold({column})" in definition
                and "gin_trgm_ops" in definition
                for table, definition in indexed
            ), (layer.id, column)
