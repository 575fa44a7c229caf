"""MapLibre styles and SDF glyphs: checked by MapLibre's own validator, decoded, access-checked."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import numpy as np
import pytest
from flask import g
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from geoplatform.app import create_app
from geoplatform.auth import Principal
from geoplatform.registry import Layer, Property
from geoplatform.styles import FONT_BOLD, FONT_REGULAR, StyleError, build_layer_style
from layers.base.layers import BASE_LAYERS, ROADS
from tileserver.glyphs import GlyphStore

REPO_ROOT = Path(__file__).resolve().parents[2]
VALIDATOR = REPO_ROOT / "node_modules" / ".bin" / "gl-style-validate"
HOST = "http://localhost/"
OSM_ATTRIBUTION = "© OpenStreetMap contributors"
DAO = 0x9053  # 道, as in road names
CJK_RANGE = "36864-37119"  # the 256 code points holding U+9053


def maplibre_errors(style: dict, tmp_path: Path) -> list[str]:
    """The errors MapLibre's gl-style-validate finds in a style (empty when valid)."""
    if not VALIDATOR.exists():
        pytest.fail(f"{VALIDATOR} is missing: run `make node` (npm ci) first")
    path = tmp_path / "style.json"
    path.write_text(json.dumps(style, ensure_ascii=False), encoding="utf-8")
    result = subprocess.run(
        [str(VALIDATOR), "--json", str(path)], capture_output=True, text=True, timeout=60
    )
    if result.returncode == 0:
        return []
    return [error["message"] for error in json.loads(result.stdout)] or [result.stderr]


def strings(value) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def zoom_stops(expression: list) -> dict[float, list]:
    """Stops of ["interpolate", curve, ["zoom"], z0, v0, z1, v1, ...]."""
    assert expression[0] == "interpolate" and expression[2] == ["zoom"]
    pairs = expression[3:]
    return dict(zip(pairs[::2], pairs[1::2], strict=True))


def match_value(expression: list, value: str):
    """What ["match", input, labels, output, ..., fallback] gives for one input value."""
    arms = expression[2:-1]
    for labels, output in zip(arms[::2], arms[1::2], strict=True):
        if value == labels or (isinstance(labels, list) and value in labels):
            return output
    return expression[-1]


def by_source_layer(style: dict) -> dict[str, list[dict]]:
    layers: dict[str, list[dict]] = {}
    for layer in style["layers"]:
        if "source-layer" in layer:
            layers.setdefault(layer["source-layer"], []).append(layer)
    return layers


# The glyphs protobuf of MapLibre (glyphs.proto, package llmr.glyphs), declared here on its own
# so the server's encoder is checked against the published field numbers, not against itself.
def _glyphs_class():
    f = descriptor_pb2.FieldDescriptorProto
    proto = descriptor_pb2.FileDescriptorProto(name="test_glyphs.proto", package="llmr.glyphs")
    glyph = proto.message_type.add(name="glyph")
    for name, number, kind in [
        ("id", 1, f.TYPE_UINT32),
        ("bitmap", 2, f.TYPE_BYTES),
        ("width", 3, f.TYPE_UINT32),
        ("height", 4, f.TYPE_UINT32),
        ("left", 5, f.TYPE_SINT32),
        ("top", 6, f.TYPE_SINT32),
        ("advance", 7, f.TYPE_UINT32),
    ]:
        label = f.LABEL_OPTIONAL if name == "bitmap" else f.LABEL_REQUIRED
        glyph.field.add(name=name, number=number, type=kind, label=label)
    stack = proto.message_type.add(name="fontstack")
    stack.field.add(name="name", number=1, type=f.TYPE_STRING, label=f.LABEL_REQUIRED)
    stack.field.add(name="range", number=2, type=f.TYPE_STRING, label=f.LABEL_REQUIRED)
    stack.field.add(
        name="glyphs",
        number=3,
        type=f.TYPE_MESSAGE,
        label=f.LABEL_REPEATED,
        type_name=".llmr.glyphs.glyph",
    )
    glyphs = proto.message_type.add(name="glyphs")
    glyphs.field.add(
        name="stacks",
        number=1,
        type=f.TYPE_MESSAGE,
        label=f.LABEL_REPEATED,
        type_name=".llmr.glyphs.fontstack",
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("llmr.glyphs.glyphs"))


Glyphs = _glyphs_class()


def decode_glyphs(data: bytes):
    message = Glyphs()
    message.ParseFromString(data)  # raises on a missing required field
    assert len(message.stacks) == 1
    return message.stacks[0]


def glyph_url(fontstack: str, glyph_range: str) -> str:
    return f"/fonts/{quote(fontstack)}/{glyph_range}.pbf"


@pytest.fixture(scope="module")
def base_style(demo_app) -> dict:
    response = demo_app.test_client().get("/styles/base.json")
    assert response.status_code == 200
    return response.json


# --- the base style -----------------------------------------------------------------------------


def test_base_style_passes_maplibre_validation(base_style, tmp_path):
    assert maplibre_errors(base_style, tmp_path) == []
    assert base_style["version"] == 8


def test_base_style_draws_every_base_layer_from_its_declaration(base_style):
    drawn = by_source_layer(base_style)
    for layer in BASE_LAYERS:
        assert len(drawn[layer.id]) == len(layer.style), layer.id
        assert {x["id"] for x in drawn[layer.id]} == {f"{layer.id}.{s['id']}" for s in layer.style}
    source_ids = {x["source"] for x in base_style["layers"] if "source" in x}
    assert source_ids <= set(base_style["sources"])


def test_base_style_stacks_land_water_buildings_roads_boundaries_labels(base_style):
    position = {layer["id"]: i for i, layer in enumerate(base_style["layers"])}
    order = [
        "base.landuse.fill",
        "base.water.area",
        "base.water.line",
        "base.buildings.fill",
        "base.roads.casing",
        "base.roads.fill",
        "base.admin_areas.boundary-city",
        "base.roads.label",
        "base.places.city",
    ]
    assert [position[x] for x in order] == sorted(position[x] for x in order)
    symbols = [i for i, x in enumerate(base_style["layers"]) if x["type"] == "symbol"]
    others = [i for i, x in enumerate(base_style["layers"]) if x["type"] in ("fill", "line")]
    assert max(others) < min(symbols)


def test_no_url_in_the_base_style_leaves_this_server(base_style):
    urls = [s for s in strings(base_style) if "://" in s or s.startswith("//")]
    assert urls, "the style names its sources and glyphs by URL"
    assert all(url.startswith(HOST) for url in urls), urls
    assert "sprite" not in base_style
    assert base_style["glyphs"] == f"{HOST}fonts/{{fontstack}}/{{range}}.pbf"
    for source in base_style["sources"].values():
        assert source["type"] == "vector"
        assert urlsplit(source["url"]).path.startswith("/tiles/")


def test_sources_and_their_tilejson_credit_openstreetmap(client, base_style):
    for source in base_style["sources"].values():
        assert OSM_ATTRIBUTION in source["attribution"]
        tilejson = client.get(urlsplit(source["url"]).path)
        assert tilejson.status_code == 200
        assert OSM_ATTRIBUTION in tilejson.json["attribution"]
        assert tilejson.json["tiles"][0].startswith(HOST)


def test_labels_put_the_chinese_name_first_and_use_served_fonts(client, base_style):
    symbols = [x for x in base_style["layers"] if x["type"] == "symbol"]
    labelled = {x["source-layer"] for x in symbols}
    assert {"base.places", "base.roads", "base.pois"} <= labelled
    for layer in symbols:
        field = layer["layout"]["text-field"]
        if layer["source-layer"] != "base.addresses":
            assert field[:3] == ["coalesce", ["get", "name_zh"], ["get", "name"]], layer["id"]
        for font in layer["layout"]["text-font"]:
            assert client.get(glyph_url(font, "0-255")).status_code == 200
    road_names = next(x for x in symbols if x["id"] == "base.roads.label")
    assert road_names["layout"]["symbol-placement"] == "line"
    pois = next(x for x in symbols if x["id"] == "base.pois.label")
    assert pois["minzoom"] >= 14


def test_major_roads_are_wider_than_minor_ones_and_grow_with_zoom(base_style):
    fill = next(x for x in base_style["layers"] if x["id"] == "base.roads.fill")
    casing = next(x for x in base_style["layers"] if x["id"] == "base.roads.casing")
    stops = zoom_stops(fill["paint"]["line-width"])
    for classes in stops.values():
        widths = [match_value(classes, c) for c in ("motorway", "primary", "tertiary", "service")]
        assert widths == sorted(widths, reverse=True)
    motorway = [match_value(v, "motorway") for v in stops.values()]
    assert motorway == sorted(motorway) and motorway[0] < motorway[-1]
    casing_stops = zoom_stops(casing["paint"]["line-width"])
    for zoom, classes in stops.items():
        assert match_value(casing_stops[zoom], "primary") > match_value(classes, "primary")
    colors = fill["paint"]["line-color"]
    assert match_value(colors, "primary") != match_value(colors, "residential")


# --- one layer's style --------------------------------------------------------------------------


@pytest.mark.parametrize("layer", BASE_LAYERS, ids=lambda x: x.id)
def test_each_layer_style_is_valid_and_holds_only_that_layer(client, tmp_path, layer):
    response = client.get(f"/styles/{layer.id}.json")
    assert response.status_code == 200
    style = response.json
    assert maplibre_errors(style, tmp_path) == []
    assert list(style["sources"]) == [layer.id]
    assert style["sources"][layer.id]["url"] == f"{HOST}tiles/{layer.id}.json"
    assert set(by_source_layer(style)) == {layer.id}
    assert len(by_source_layer(style)[layer.id]) == len(layer.style)
    urls = [s for s in strings(style) if "://" in s]
    assert all(url.startswith(HOST) for url in urls), urls


def test_unknown_layer_style_is_404_json(client):
    response = client.get("/styles/base.nothing.json")
    assert response.status_code == 404
    assert response.json == {"code": "NotFound", "description": "no collection 'base.nothing'"}


def test_a_fragment_may_not_name_its_own_source():
    fragment = {"id": "x", "type": "line", "source": "elsewhere"}
    with pytest.raises(StyleError, match="source"):
        build_layer_style(dataclasses.replace(ROADS, style=(fragment,)), HOST)
    with pytest.raises(StyleError, match="unknown band"):
        unknown = {"id": "x", "type": "line", "metadata": {"geoplatform:band": "sky"}}
        build_layer_style(dataclasses.replace(ROADS, style=(unknown,)), HOST)


def test_a_layer_without_a_declared_style_gets_one_by_geometry(tmp_path):
    layer = Layer(
        id="test.points",
        title_zh="点",
        title_en="Points",
        table="test.points",
        geometry_type="Point",
        properties=(Property("name", "string"),),
    )
    style = build_layer_style(layer, HOST)
    assert [x["type"] for x in style["layers"]] == ["background", "circle"]
    assert maplibre_errors(style, tmp_path) == []


# --- who sees what ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def internal_app(demo_settings, demo_load):
    settings = demo_settings.model_copy(update={"modules": ["base", "tests.fixtures.internal"]})
    app = create_app(settings)
    yield app
    app.extensions["geoplatform"].close()


def test_anonymous_caller_sees_no_internal_layer_in_any_style(internal_app):
    client = internal_app.test_client()
    style = client.get("/styles/base.json").json
    assert not [s for s in strings(style) if "internal." in s]
    assert set(by_source_layer(style)) == {layer.id for layer in BASE_LAYERS}
    for layer_id in ("internal.roads", "internal.water_only"):
        response = client.get(f"/styles/{layer_id}.json")
        assert response.status_code == 404
        assert response.json["description"] == f"no collection {layer_id!r}"


def test_a_department_sees_the_internal_layers_it_may_read(internal_app, tmp_path):
    # No authentication hook exists yet; set the principal the way one would, per request.
    def sign_in_gas_utility():
        g.principal = Principal(department="gas_utility", role="viewer")

    internal_app.before_request_funcs.setdefault(None, []).append(sign_in_gas_utility)
    try:
        client = internal_app.test_client()
        response = client.get("/styles/base.json")
        layers = by_source_layer(response.json)
        assert "internal.roads" in layers and "internal.water_only" not in layers
        assert response.headers["Cache-Control"].startswith("private")
        assert maplibre_errors(response.json, tmp_path) == []
        assert client.get("/styles/internal.roads.json").status_code == 200
        assert client.get("/styles/internal.water_only.json").status_code == 404
    finally:
        internal_app.before_request_funcs[None].remove(sign_in_gas_utility)


# --- glyphs -------------------------------------------------------------------------------------


def assert_plausible_sdf(glyph) -> np.ndarray:
    assert 0 < glyph.width <= 30 and 0 < glyph.height <= 30
    assert len(glyph.bitmap) == (glyph.width + 6) * (glyph.height + 6)
    field = np.frombuffer(glyph.bitmap, dtype=np.uint8).reshape(glyph.height + 6, glyph.width + 6)
    # Inside the outline the field passes MapLibre's edge (192); the 3 px border stays outside.
    assert field.max() > 192
    border = np.concatenate([field[0], field[-1], field[:, 0], field[:, -1]])
    assert border.max() < 192
    return field


def test_latin_glyph_range_decodes_with_sdf_bitmaps(client):
    response = client.get(glyph_url(FONT_REGULAR, "0-255"))
    assert response.status_code == 200
    assert response.mimetype == "application/x-protobuf"
    stack = decode_glyphs(response.data)
    assert (stack.name, stack.range) == (FONT_REGULAR, "0-255")
    glyphs = {glyph.id: glyph for glyph in stack.glyphs}
    assert {ord(c) for c in "AZaz09 .-"} <= set(glyphs)
    assert all(0 <= glyph_id <= 255 for glyph_id in glyphs)
    for char in "AgW":
        assert_plausible_sdf(glyphs[ord(char)])
        assert 5 <= glyphs[ord(char)].advance <= 30
    assert glyphs[ord(" ")].width == 0 and glyphs[ord(" ")].advance > 0


def test_cjk_glyph_range_holds_the_ideographs_of_road_names(client):
    stack = decode_glyphs(client.get(glyph_url(FONT_REGULAR, CJK_RANGE)).data)
    glyphs = {glyph.id: glyph for glyph in stack.glyphs}
    assert DAO in glyphs and len(glyphs) == 256
    dao = glyphs[DAO]
    assert_plausible_sdf(dao)
    assert dao.width >= 18 and dao.height >= 18 and dao.advance == 24


def test_a_fontstack_list_resolves_to_its_first_installed_font(client):
    response = client.get(glyph_url(f"Helvetica Neue Bold,{FONT_BOLD},{FONT_REGULAR}", "0-255"))
    assert response.status_code == 200
    assert decode_glyphs(response.data).name == FONT_BOLD


@pytest.mark.parametrize("glyph_range", ["0-256", "1-256", "256-511x", "abc", "65536-65791"])
def test_a_malformed_range_is_400_json(client, glyph_range):
    response = client.get(glyph_url(FONT_REGULAR, glyph_range))
    assert response.status_code == 400
    assert response.json["code"] == "InvalidParameterValue"
    assert "multiple of 256" in response.json["description"]


def test_an_unknown_font_is_404_json(client):
    response = client.get(glyph_url("Comic Sans MS", "0-255"))
    assert response.status_code == 404
    assert response.json["code"] == "NotFound"
    assert "Comic Sans MS" in response.json["description"]


def test_a_range_is_rendered_once_then_read_from_disk(tmp_path):
    store = GlyphStore(tmp_path)
    first = store.glyph_range(FONT_REGULAR, 256)
    cached = tmp_path / FONT_REGULAR / "256-511.pbf"
    assert cached.read_bytes() == first
    assert store.glyph_range(FONT_REGULAR, 256) == first
    assert not list(tmp_path.rglob("*.tmp"))
