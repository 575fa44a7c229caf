"""The parks layer: public to read, edited by the parks bureau."""

from __future__ import annotations

from geoplatform.registry import PUBLIC, Layer, Property

PARKS_BUREAU = "parks_bureau"

PARKS = Layer(
    id="parks.parks",
    title_zh="公园",
    title_en="Parks",
    table="parks.parks",
    geometry_type="MultiPolygon",
    properties=(
        Property("name", "string", "名称 Name"),
        Property("area_m2", "number", "面积 Area (m²)"),
    ),
    access=PUBLIC,
    editable_by=frozenset({PARKS_BUREAU}),
    minzoom=10,
)

LAYERS = (PARKS,)
