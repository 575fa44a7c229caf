"""A module whose layer declares itself the reverse geocoder's "cell": the municipalities read as
an internal unit grid, so that ``grid`` of ``/reverse`` is tested without a grid module."""

from geoplatform.modules import Module
from geoplatform.registry import INTERNAL, Layer, Property

CELLS = Layer(
    id="cells.municipalities",
    title_zh="测试网格",
    title_en="Test grid cells",
    table="base.admin_areas",
    geometry_type="MultiPolygon",
    properties=(Property("name", "string"), Property("level", "string")),
    access=INTERNAL,
    search_label="name",
    search_type="level",
    reverse_role="cell",
)

MODULE = Module(name="cells", title_zh="网格", title_en="Cells fixture", layers=(CELLS,))
