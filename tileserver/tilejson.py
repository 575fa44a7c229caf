"""TileJSON 3.0.0 documents derived from layer declarations and their current extents."""

from __future__ import annotations

from geoplatform.layer_state import LayerState
from geoplatform.registry import Layer

FIELD_TYPES = {"string": "String", "integer": "Number", "number": "Number", "boolean": "Boolean"}


def tilejson_document(layers: tuple[Layer, ...], states: dict[str, LayerState], base_url: str):
    ids = ",".join(layer.id for layer in layers)
    bounds = union_of([states[x.id].bbox for x in layers if x.id in states and states[x.id].bbox])
    minzoom = min(layer.minzoom for layer in layers)
    maxzoom = max(layer.maxzoom for layer in layers)
    document = {
        "tilejson": "3.0.0",
        "name": ids,
        "description": "; ".join(f"{x.title_zh} {x.title_en}" for x in layers),
        "scheme": "xyz",
        "tiles": [f"{base_url}tiles/{ids}/{{z}}/{{x}}/{{y}}.mvt"],
        "minzoom": minzoom,
        "maxzoom": maxzoom,
        "vector_layers": [
            {
                "id": layer.id,
                "description": f"{layer.title_zh} {layer.title_en}",
                "minzoom": layer.minzoom,
                "maxzoom": layer.maxzoom,
                "fields": {p.name: FIELD_TYPES.get(p.type, "String") for p in layer.properties},
            }
            for layer in layers
        ],
    }
    attribution = sorted({layer.attribution for layer in layers if layer.attribution})
    if attribution:
        document["attribution"] = "; ".join(attribution)
    if bounds:
        west, south, east, north = bounds
        document["bounds"] = [west, south, east, north]
        document["center"] = [(west + east) / 2, (south + north) / 2, max(minzoom, 12)]
    return document


def union_of(boxes: list[tuple[float, float, float, float]]):
    if not boxes:
        return None
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )
