"""MapLibre styles (version 8) assembled from layer declarations, over the platform's own tiles.

In the core because the map service (``geoplatform.maps``) and the tile server's style routes
both assemble styles; the tile server serves what this builds.

A declaration's ``style`` holds MapLibre style-layer fragments without ``source`` or
``source-layer``: the builder supplies both (the source-layer of a layer's features is its id)
and prefixes each fragment's ``id`` with the layer id. Fragments name the band they are drawn in
with ``"metadata": {"geoplatform:band": ...}``; bands stack in ``BANDS`` order so that, say,
every road is drawn above every land-use fill whichever module declared them. A layer that
declares no style is still drawn, with a plain fill, line or circle by its geometry type.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence

from geoplatform.registry import Layer

# The fonts styles name; the tile server renders their glyphs (tileserver/glyphs.py).
FONT_REGULAR = "Noto Sans CJK SC Regular"
FONT_BOLD = "Noto Sans CJK SC Bold"
# The most layers one tile URL may name: a style splits longer lists over several sources.
MAX_LAYERS_PER_TILE = 32

BAND_KEY = "geoplatform:band"
# MapLibre places the symbols of later layers first, so the most important labels come last.
BANDS = (
    "landcover",
    "water",
    "buildings",
    "transport",
    "boundaries",
    "overlay",
    "detail_labels",
    "labels",
)
BACKGROUND_COLOR = "#f4f1ea"
# Layers that declare no style still show, in one colour that reads as "not base map".
OVERLAY_COLOR = "#c2255c"
_BUILDER_KEYS = ("source", "source-layer")


class StyleError(ValueError):
    """A layer declares a style fragment the builder cannot place."""


def build_style(layers: Sequence[Layer], base_url: str, name: str) -> dict:
    """A complete style drawing ``layers`` from one composite source per module.

    ``base_url`` is the request's host URL (ending in '/'): sources and glyphs point back at this
    server, so the style works offline and behind any proxy that preserves the host.
    """
    sources: dict[str, dict] = {}
    source_of: dict[str, str] = {}
    for source_id, members in _module_sources(layers):
        sources[source_id] = vector_source(members, base_url)
        source_of.update((layer.id, source_id) for layer in members)
    return _style(name, sources, _ordered_layers(layers, source_of), base_url)


def build_layer_style(layer: Layer, base_url: str) -> dict:
    """A complete style with just one layer: its own source and its declared style layers."""
    sources = {layer.id: vector_source((layer,), base_url)}
    return _style(
        f"{layer.title_zh} {layer.title_en}",
        sources,
        _ordered_layers((layer,), {layer.id: layer.id}),
        base_url,
    )


def vector_source(layers: Sequence[Layer], base_url: str) -> dict:
    """A vector source reading this server's TileJSON for the layers (a composite if several)."""
    ids = ",".join(layer.id for layer in layers)
    source = {"type": "vector", "url": f"{base_url}tiles/{ids}.json"}
    attribution = sorted({layer.attribution for layer in layers if layer.attribution})
    if attribution:
        source["attribution"] = "; ".join(attribution)
    return source


def style_layers(layer: Layer, source_id: str) -> list[dict]:
    """The layer's style fragments completed with source, source-layer, id and zoom range."""
    completed = []
    for index, fragment in enumerate(layer.style or default_fragments(layer)):
        if "id" not in fragment or "type" not in fragment:
            raise StyleError(f"layer {layer.id}: style fragment {index} needs an 'id' and a 'type'")
        clashing = [key for key in _BUILDER_KEYS if key in fragment]
        if clashing:
            raise StyleError(
                f"layer {layer.id}: style fragment {fragment['id']!r} sets {clashing}; "
                "the builder sets them from the declaration"
            )
        band = _band(fragment)
        if band not in BANDS:
            raise StyleError(
                f"layer {layer.id}: style fragment {fragment['id']!r} is in unknown band "
                f"{band!r}; bands are {', '.join(BANDS)}"
            )
        style_layer = copy.deepcopy(fragment)
        style_layer["id"] = f"{layer.id}.{fragment['id']}"
        style_layer["source"] = source_id
        style_layer["source-layer"] = layer.id
        # No tiles carry the layer below its minzoom; saying so spares MapLibre the work.
        minzoom = max(fragment.get("minzoom", 0), layer.minzoom)
        if minzoom:
            style_layer["minzoom"] = minzoom
        style_layer.setdefault("metadata", {})[BAND_KEY] = band
        completed.append(style_layer)
    return completed


def default_fragments(layer: Layer) -> tuple[dict, ...]:
    """Fill, line and circle by geometry type, for a layer that declares no style of its own."""
    polygon = ("Polygon", "MultiPolygon")
    line = ("LineString", "MultiLineString")
    point = ("Point", "MultiPoint")
    fragments = []
    if layer.geometry_type in (*polygon, "Geometry"):
        fragments += [
            {
                "id": "fill",
                "type": "fill",
                "filter": ["==", ["geometry-type"], "Polygon"],
                "paint": {"fill-color": OVERLAY_COLOR, "fill-opacity": 0.25},
            },
            {
                "id": "outline",
                "type": "line",
                "filter": ["==", ["geometry-type"], "Polygon"],
                "paint": {"line-color": OVERLAY_COLOR, "line-width": 1},
            },
        ]
    if layer.geometry_type in (*line, "Geometry"):
        fragments.append(
            {
                "id": "line",
                "type": "line",
                "filter": ["==", ["geometry-type"], "LineString"],
                "paint": {"line-color": OVERLAY_COLOR, "line-width": 2},
            }
        )
    if layer.geometry_type in (*point, "Geometry"):
        fragments.append(
            {
                "id": "point",
                "type": "circle",
                "filter": ["==", ["geometry-type"], "Point"],
                "paint": {
                    "circle-color": OVERLAY_COLOR,
                    "circle-radius": 4,
                    "circle-stroke-color": "#ffffff",
                    "circle-stroke-width": 1,
                },
            }
        )
    return tuple(fragments)


def glyphs_url(base_url: str) -> str:
    return f"{base_url}fonts/{{fontstack}}/{{range}}.pbf"


def _style(name: str, sources: dict, layers: list[dict], base_url: str) -> dict:
    background = {
        "id": "background",
        "type": "background",
        "paint": {"background-color": BACKGROUND_COLOR},
    }
    return {
        "version": 8,
        "name": name,
        "sources": sources,
        "glyphs": glyphs_url(base_url),
        "layers": [background, *layers],
    }


def _ordered_layers(layers: Iterable[Layer], source_of: dict[str, str]) -> list[dict]:
    completed = [x for layer in layers for x in style_layers(layer, source_of[layer.id])]
    # sorted() is stable: within a band, declaration order and the fragments' order stand.
    return sorted(completed, key=lambda x: BANDS.index(x["metadata"][BAND_KEY]))


def _band(fragment: dict) -> str:
    default = "labels" if fragment.get("type") == "symbol" else "overlay"
    return fragment.get("metadata", {}).get(BAND_KEY, default)


def _module_sources(layers: Sequence[Layer]) -> list[tuple[str, list[Layer]]]:
    """Source ids and their layers: one per module, split where a composite tile would refuse."""
    by_module: dict[str, list[Layer]] = {}
    for layer in layers:
        by_module.setdefault(layer.module, []).append(layer)
    sources = []
    for module, members in by_module.items():
        chunks = [
            members[i : i + MAX_LAYERS_PER_TILE]
            for i in range(0, len(members), MAX_LAYERS_PER_TILE)
        ]
        for number, chunk in enumerate(chunks, start=1):
            sources.append((module if number == 1 else f"{module}-{number}", chunk))
    return sources
