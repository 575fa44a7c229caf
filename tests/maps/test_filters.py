"""A saved map's filter draws exactly the features the feature API's CQL2 filter selects.

The MapLibre expression is evaluated here, in Python, over every feature of the layer (absent
values as MapLibre sees them in a tile: no such property), and the count compared with the
``numberMatched`` of ``/collections/{id}/items?filter=``.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from geoplatform.maps.style import filter_expression

LAYER = "base.buildings"
FILTERS = [
    "levels >= 3",
    "levels <> 2",
    "NOT levels < 2",
    "use IN ('residential', 'house') AND levels > 1",
    "use = 'residential' OR NOT (levels <= 2)",
    "levels BETWEEN 2 AND 4",
    "NOT use IN ('residential')",
    "name IS NULL",
]


def evaluate(expression, properties: dict):
    if not isinstance(expression, list):
        return expression
    operator, *args = expression
    if operator == "literal":
        return args[0]
    if operator == "get":
        return properties.get(args[0])
    if operator == "has":
        return properties.get(args[0]) is not None
    if operator in ("number", "string", "boolean"):
        return evaluate(args[0], properties)
    if operator == "all":
        return all(evaluate(a, properties) for a in args)
    if operator == "any":
        return any(evaluate(a, properties) for a in args)
    if operator == "!":
        return not evaluate(args[0], properties)
    if operator == "in":
        return evaluate(args[0], properties) in evaluate(args[1], properties)
    left, right = (evaluate(a, properties) for a in args)
    return {
        "==": lambda: left == right,
        "!=": lambda: left != right,
        "<": lambda: left < right,
        "<=": lambda: left <= right,
        ">": lambda: left > right,
        ">=": lambda: left >= right,
    }[operator]()


@pytest.fixture(scope="module")
def buildings(demo_engine) -> list[dict]:
    query = text("SELECT use, levels, name FROM base.buildings")
    with demo_engine.connect() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


@pytest.mark.parametrize("cql2", FILTERS)
def test_the_style_filter_selects_what_the_feature_api_selects(client, demo_app, buildings, cql2):
    layer = demo_app.extensions["geoplatform"].registry.get(LAYER)
    expression = filter_expression(layer, cql2)
    drawn = sum(1 for properties in buildings if evaluate(expression, properties))
    response = client.get(f"/collections/{LAYER}/items", query_string={"filter": cql2, "limit": 1})
    assert response.status_code == 200, response.json
    assert drawn == response.json["numberMatched"]
    assert 0 < drawn < len(buildings) or cql2 == "name IS NULL"
