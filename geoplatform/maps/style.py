"""A saved map as a MapLibre style, and the CQL2 filters such a style can draw.

The style is the base map (when the spec asks for it) under each spec layer's own style layers,
recoloured, with the spec's filter and zoom range, and a label layer where the spec names one.
Only layers the caller may read are drawn: an unreadable layer leaves no style layer and no
source behind, so the style does not reveal it.

Filters are CQL2 text, as the feature API takes them, translated to MapLibre expressions. SQL
is three-valued (a comparison with NULL is neither true nor false, and its negation neither),
MapLibre two-valued with absent properties; the translation pushes NOT down to the comparisons
(De Morgan) and guards each comparison with ``has``, so a feature is drawn exactly when the
feature API's filter selects it. What has no faithful MapLibre expression (LIKE, dates,
spatial and temporal functions, property-to-property comparisons) is refused when the map is
saved, naming the operator, so a saved map always draws what it says.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

from pygeofilter import ast

from geoplatform.errors import InvalidParameter
from geoplatform.features.cql import CQL2_TEXT, parse_filter
from geoplatform.features.params import queryable_properties
from geoplatform.maps.spec import MapLayer, MapSpec
from geoplatform.registry import Layer
from geoplatform.styles import FONT_REGULAR, build_style, glyphs_url, style_layers, vector_source

BASE_MODULE = "base"
_NEGATED = {
    ast.Equal: "!=",
    ast.NotEqual: "==",
    ast.LessThan: ">=",
    ast.LessEqual: ">",
    ast.GreaterThan: "<=",
    ast.GreaterEqual: "<",
}
_OPERATORS = {
    ast.Equal: "==",
    ast.NotEqual: "!=",
    ast.LessThan: "<",
    ast.LessEqual: "<=",
    ast.GreaterThan: ">",
    ast.GreaterEqual: ">=",
}
# Declared property types and the MapLibre type assertion their values are compared under.
_ASSERTIONS = {"string": "string", "integer": "number", "number": "number", "boolean": "boolean"}
# The paint properties that carry a style layer's colour and opacity, by its type.
_PAINT = {
    "fill": ("fill-color", "fill-opacity"),
    "line": ("line-color", "line-opacity"),
    "circle": ("circle-color", "circle-opacity"),
    "fill-extrusion": ("fill-extrusion-color", "fill-extrusion-opacity"),
    "symbol": ("text-color", "text-opacity"),
}


def check_spec_layers(
    spec: MapSpec, lookup: Callable[[str], Layer | None]
) -> list[tuple[MapLayer, Layer]]:
    """Each spec layer with its declaration; 400 naming the first unknown layer, unknown label
    property or filter that cannot be drawn. ``lookup`` gives None for a layer the caller may
    not read, so an unreadable layer is refused exactly as one that does not exist."""
    checked = []
    for index, item in enumerate(spec.layers):
        layer = lookup(item.layer)
        if layer is None:
            raise InvalidParameter(f"spec.layers[{index}].layer: unknown layer {item.layer!r}")
        names = {p.name for p in queryable_properties(layer)}
        if item.label is not None and item.label not in names:
            raise InvalidParameter(
                f"spec.layers[{index}].label: {item.label!r} is not a property of {layer.id!r}"
            )
        if item.minzoom is not None and item.maxzoom is not None and item.minzoom >= item.maxzoom:
            raise InvalidParameter(f"spec.layers[{index}].minzoom: must be below maxzoom")
        if item.filter is not None:
            try:
                filter_expression(layer, item.filter)
            except InvalidParameter as exc:
                raise InvalidParameter(f"spec.layers[{index}].{exc}") from None
        checked.append((item, layer))
    return checked


def filter_expression(layer: Layer, text: str) -> list:
    """The MapLibre expression selecting what the CQL2 text filter selects, or a 400."""
    node = parse_filter(text, CQL2_TEXT)
    types = {p.name: p.type for p in queryable_properties(layer)}
    return _expression(node, types, negate=False)


def _expression(node: object, types: dict[str, str], *, negate: bool) -> list:
    if isinstance(node, ast.Not):
        return _expression(node.sub_node, types, negate=not negate)
    if isinstance(node, ast.And | ast.Or):
        # NOT (a AND b) is (NOT a) OR (NOT b), and the other way round.
        conjunction = isinstance(node, ast.And) != negate
        parts = [_expression(n, types, negate=negate) for n in (node.lhs, node.rhs)]
        return ["all" if conjunction else "any", *parts]
    if type(node) in _OPERATORS:
        name, value = _property_and_value(node.lhs, node.rhs, types)
        operator = (_NEGATED if negate else _OPERATORS)[type(node)]
        return ["all", ["has", name], [operator, _typed_get(name, types), value]]
    if isinstance(node, ast.In):
        name = _property(node.lhs, types)
        values = [_literal(v, name, types) for v in node.sub_nodes]
        member = ["in", _typed_get(name, types), ["literal", values]]
        negated = negate != bool(node.not_)
        return ["all", ["has", name], ["!", member] if negated else member]
    if isinstance(node, ast.Between):
        name = _property(node.lhs, types)
        low, high = (_literal(v, name, types) for v in (node.low, node.high))
        value = _typed_get(name, types)
        if negate != bool(node.not_):
            return ["all", ["has", name], ["any", ["<", value, low], [">", value, high]]]
        return ["all", ["has", name], [">=", value, low], ["<=", value, high]]
    if isinstance(node, ast.IsNull):
        name = _property(node.lhs, types)
        is_null = not negate if not node.not_ else negate
        return ["!", ["has", name]] if is_null else ["has", name]
    raise InvalidParameter(f"filter: {_operator_name(node)} cannot be drawn by a map style")


def _property_and_value(lhs: object, rhs: object, types: dict[str, str]) -> tuple[str, object]:
    if isinstance(lhs, ast.Attribute) and not isinstance(rhs, ast.Attribute | ast.Node):
        name = _property(lhs, types)
        return name, _literal(rhs, name, types)
    raise InvalidParameter(
        "filter: only comparisons of a property with a value can be drawn by a map style"
    )


def _property(node: object, types: dict[str, str]) -> str:
    if not isinstance(node, ast.Attribute):
        raise InvalidParameter("filter: only properties can be compared in a map style")
    if node.name not in types:
        raise InvalidParameter(f"filter: unknown property {node.name!r}")
    if types[node.name] not in _ASSERTIONS:
        raise InvalidParameter(
            f"filter: {types[node.name]} property {node.name!r} cannot be compared in a map style"
        )
    return node.name


def _literal(value: object, name: str, types: dict[str, str]) -> object:
    expected = types[name]
    fits = {
        "string": isinstance(value, str),
        "boolean": isinstance(value, bool),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
    }[expected]
    if not fits:
        raise InvalidParameter(f"filter: {value!r} is not of type {expected}, as {name!r} is")
    return value


def _typed_get(name: str, types: dict[str, str]) -> list:
    return [_ASSERTIONS[types[name]], ["get", name]]


def _operator_name(node: object) -> str:
    if isinstance(node, ast.Like):
        return "LIKE"
    if isinstance(node, ast.SpatialComparisonPredicate):
        return f"S_{node.op.name}"
    return type(node).__name__


def build_map_style(
    title: str,
    spec: MapSpec,
    drawn: list[tuple[int, MapLayer, Layer]],
    base_layers: list[Layer],
    base_url: str,
) -> dict:
    """The MapLibre style of a saved map: ``drawn`` are the spec layers (with their index in the
    spec) the caller may read, ``base_layers`` the base map layers the caller may read."""
    if spec.basemap and base_layers:
        style = build_style(base_layers, base_url, title)
    else:
        style = build_style([], base_url, title)
    for index, item, layer in drawn:
        source_id = f"map-{index}"
        style["sources"][source_id] = vector_source([layer], base_url)
        style["layers"].extend(_map_layers(index, item, layer, source_id))
    style["center"] = list(spec.view.center)
    style["zoom"] = spec.view.zoom
    style["bearing"] = spec.view.bearing
    style["pitch"] = spec.view.pitch
    style["glyphs"] = glyphs_url(base_url)
    return style


def _map_layers(index: int, item: MapLayer, layer: Layer, source_id: str) -> list[dict]:
    extra_filter = filter_expression(layer, item.filter) if item.filter else None
    drawn = [
        _recoloured(style_layer, item, extra_filter)
        for style_layer in style_layers(layer, source_id)
        if style_layer["type"] in _PAINT and style_layer["type"] != "symbol"
    ]
    if item.label:
        drawn.append(_label_layer(layer, item, source_id, extra_filter))
    for style_layer in drawn:
        style_layer["id"] = f"map-{index}:{style_layer['id']}"
        _apply_zoom_and_visibility(style_layer, item)
    return drawn


def _recoloured(style_layer: dict, item: MapLayer, extra_filter: list | None) -> dict:
    recoloured = copy.deepcopy(style_layer)
    colour, opacity = _PAINT[recoloured["type"]]
    paint = recoloured.setdefault("paint", {})
    paint[colour] = item.color
    paint[opacity] = item.opacity
    if recoloured["type"] == "circle" and "circle-stroke-opacity" in paint:
        paint["circle-stroke-opacity"] = item.opacity
    if extra_filter is not None:
        existing = recoloured.get("filter")
        recoloured["filter"] = ["all", existing, extra_filter] if existing else extra_filter
    return recoloured


def _label_layer(layer: Layer, item: MapLayer, source_id: str, extra_filter: list | None) -> dict:
    label = {
        "id": f"{layer.id}.label",
        "type": "symbol",
        "source": source_id,
        "source-layer": layer.id,
        "layout": {
            "text-field": ["to-string", ["get", item.label]],
            "text-font": [FONT_REGULAR],
            "text-size": 12,
            "symbol-placement": "line" if "LineString" in layer.geometry_type else "point",
        },
        "paint": {
            "text-color": item.color,
            "text-opacity": item.opacity,
            "text-halo-color": "#ffffff",
            "text-halo-width": 1.2,
        },
    }
    if layer.minzoom:
        label["minzoom"] = layer.minzoom
    if extra_filter is not None:
        label["filter"] = extra_filter
    return label


def _apply_zoom_and_visibility(style_layer: dict, item: MapLayer) -> None:
    style_layer.pop("metadata", None)
    if item.minzoom is not None:
        style_layer["minzoom"] = max(style_layer.get("minzoom", 0), item.minzoom)
    if item.maxzoom is not None:
        style_layer["maxzoom"] = min(style_layer.get("maxzoom", 24), item.maxzoom)
    if not item.visible:
        style_layer.setdefault("layout", {})["visibility"] = "none"
