"""The access matrix: every registered layer x every kind of caller x every endpoint that can
reveal a layer's data, its existence or let it be changed, each answer checked against what the
layer's declaration says the caller may do.

The expected answers come from a truth table written out here (``READ_TABLE``, ``expected_edit``)
from ``access``, ``editable_by``, the caller's department and role, not from ``can_read``, so an
endpoint that skipped the gate fails here; ``test_the_gate_agrees_with_the_truth_table`` then
checks the gate itself against the same table. A layer the caller may not read must answer
exactly as a layer id that does not exist: same status, same headers, same body byte for byte
once the id the caller sent is substituted (``assert_like_unknown``).

One app over a database of its own (the demo city loaded, the editable fixture's tables created
and seeded near Vaduz), real API keys, real HTTP through the test client, real PostGIS.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import mapbox_vector_tile
import morecantile
import numpy as np
import pytest
import rasterio
from pyproj import Transformer
from rasterio.transform import from_origin
from sqlalchemy import Engine, text
from werkzeug.test import TestResponse

from geoplatform.app import create_app
from geoplatform.auth import ADMIN, EDITOR, Principal, can_edit, can_read
from geoplatform.config import load_settings
from geoplatform.db import make_engine, transaction
from geoplatform.keys import authenticate, create_key
from geoplatform.layer_state import record_change
from geoplatform.modules import build_registry, load_modules
from geoplatform.registry import INTERNAL, PUBLIC, Layer
from tests.conftest import load_every_demo
from tests.fixtures import editable
from tileserver.raster import RasterCatalogue, import_raster

# Every installed module, and the fixtures that add the access kinds and editors they lack.
MODULES = [
    *load_settings().modules,
    "tests.fixtures.internal",
    "tests.fixtures.editable",
    # A module built only on the contract: its layers and samples join the matrix by themselves.
    "tests.modules.parks",
]
# The registry the app builds (``create_platform`` does exactly this), known at collection time
# so that every case is named; ``test_the_matrix_covers_the_apps_registry`` checks it is the app's.
REGISTRY = build_registry(load_modules(MODULES))
LAYER_IDS = [layer.id for layer in REGISTRY]
COMPOSITE_PARTNER = "base.roads"
TMS = morecantile.tms.get("WebMercatorQuad")
VADUZ = (9.5209, 47.1410)
GEOJSON = "application/geo+json"
MERGE_PATCH = "application/merge-patch+json"
STALE = '"00000000000000000000000000000000"'


@dataclass(frozen=True)
class Caller:
    name: str
    department: str | None = None
    role: str | None = None

    def __str__(self) -> str:
        return self.name


CALLERS = (
    Caller("anonymous"),
    Caller("gas_viewer", "gas_utility", "viewer"),
    Caller("water_viewer", "water_utility", "viewer"),
    Caller("water_editor", "water_utility", "editor"),
    Caller("water_admin", "water_utility", "admin"),
    # A reader of editable.hydrants with an editor's role but not of a department that edits it.
    Caller("emergency_editor", "emergency_management", "editor"),
    # An administrator who may not read the water utility's layers: admin is no skeleton key.
    Caller("gas_admin", "gas_utility", "admin"),
    # The land department reads internal layers but no utility's network.
    Caller("land_viewer", "natural_resources", "viewer"),
)
CALLER = {caller.name: caller for caller in CALLERS}


# --- the truth table ---------------------------------------------------------------------------

# (kind of access, who the caller is to the layer) -> may read
READ_TABLE = {
    ("public", "anonymous"): True,
    ("public", "a department"): True,
    ("internal", "anonymous"): False,
    ("internal", "a department"): True,
    ("departments", "anonymous"): False,
    ("departments", "a department"): False,
    ("departments", "a named department"): True,
}


def access_kind(access) -> str:
    if access == PUBLIC:
        return "public"
    if access == INTERNAL:
        return "internal"
    assert isinstance(access, frozenset) and access, f"unexpected access {access!r}"
    return "departments"


def relation(access, caller: Caller) -> str:
    if caller.department is None:
        return "anonymous"
    if isinstance(access, frozenset) and caller.department in access:
        return "a named department"
    return "a department"


def may_read(access, caller: Caller) -> bool:
    return READ_TABLE[access_kind(access), relation(access, caller)]


def may_edit(layer: Layer, caller: Caller) -> bool:
    return (
        may_read(layer.access, caller)
        and caller.role in ("editor", "admin")
        and caller.department in layer.editable_by
    )


def expected_edit(layer: Layer, caller: Caller, applied: int) -> int:
    """404 to a non-reader, 405 on a layer nobody edits, 403 to a reader who may not edit."""
    if not may_read(layer.access, caller):
        return 404
    if not layer.editable_by:
        return 405
    return applied if may_edit(layer, caller) else 403


def cases(*dimensions: list) -> list:
    """The cross product as pytest params named ``a-b-c``."""
    combos: list[tuple] = [()]
    for dimension in dimensions:
        combos = [(*combo, value) for combo in combos for value in dimension]
    return [pytest.param(*combo, id="-".join(str(v) for v in combo)) for combo in combos]


LAYER_CALLERS = cases(LAYER_IDS, list(CALLERS))


# --- the platform under test -------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """A feature that exists in the layer's table and the tile at its highest zoom showing it."""

    fid: int
    tile: tuple[int, int, int]


@dataclass
class Matrix:
    app: object
    engine: Engine
    keys: dict[str, str]
    samples: dict[str, Sample]
    rasters: dict[str, object]
    cache: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.client = self.app.test_client()
        self.registry = self.app.extensions["geoplatform"].registry

    def layer(self, layer_id: str) -> Layer:
        return self.registry.get(layer_id)

    def send(self, caller: Caller, method: str, path: str, body=None, content_type=None, **hdr):
        headers = dict(hdr)
        if caller.name in self.keys:
            headers["Authorization"] = f"Bearer {self.keys[caller.name]}"
        data = None if body is None else json.dumps(body)
        return self.client.open(
            path, method=method, data=data, content_type=content_type, headers=headers
        )

    def get(self, caller: Caller, path: str, **headers):
        return self.send(caller, "GET", path, **headers)

    def read(self, caller: Caller, path: str, *about) -> TestResponse:
        """A 200 answer; when it is about anything not public (``about``: the accesses of what
        it shows), one that no shared cache may hand to another caller."""
        response = self.get(caller, path)
        assert response.status_code == 200, (path, response.get_data(as_text=True))
        if any(access != PUBLIC for access in about):
            assert_kept_per_caller(response)
        return response

    def once(self, caller: Caller, path: str, per_caller: bool = False) -> str:
        """A document that does not change during the run, fetched once per caller; a list of
        what the caller may read (``per_caller``) differs by caller, and must say so."""
        if (caller.name, path) not in self.cache:
            response = self.read(caller, path, *([INTERNAL] if per_caller else []))
            self.cache[caller.name, path] = response.get_data(as_text=True)
        return self.cache[caller.name, path]

    def scalar(self, sql: str, **params):
        with self.engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()

    def count(self, layer: Layer) -> int:
        return self.scalar(f"SELECT count(*) FROM {layer.table}")

    def snapshot(self, layer: Layer, fid: int | None = None) -> dict:
        """What an edit would change: rows, the stored row, the layer's version, the audit log."""
        return {
            "rows": self.count(layer),
            "row": None
            if fid is None
            else self.scalar(
                f"SELECT md5(t::text) FROM {layer.table} AS t WHERE {layer.id_column} = :fid",
                fid=fid,
            ),
            "version": self.scalar(
                "SELECT version FROM platform.layer_state WHERE layer_id = :id", id=layer.id
            ),
            "audit": self.scalar("SELECT count(*) FROM platform.audit_log"),
        }


def unknown_id(layer_id: str) -> str:
    """An id of the same length that is registered nowhere, so Content-Length matches too."""
    absent = re.sub(r"[a-z0-9]", "x", layer_id)
    assert absent not in REGISTRY
    return absent


def assert_like_unknown(
    matrix: Matrix,
    caller: Caller,
    layer_id: str,
    path: Callable[[str], str],
    method: str = "GET",
    status: int = 404,
    **kwargs,
) -> None:
    """The answer about ``layer_id`` is the answer about a layer that does not exist."""
    response = matrix.send(caller, method, path(layer_id), **kwargs)
    absent = unknown_id(layer_id)
    twin = matrix.send(caller, method, path(absent), **kwargs)
    assert response.status_code == status, response.get_data(as_text=True)
    assert twin.status_code == status, twin.get_data(as_text=True)
    assert response.data.replace(layer_id.encode(), b"{id}") == twin.data.replace(
        absent.encode(), b"{id}"
    )
    assert sorted(response.headers.items()) == sorted(twin.headers.items())


def assert_kept_per_caller(response) -> None:
    """Shared caches (a CDN, a proxy) may not serve this answer to a caller with other
    credentials: it is private, or it varies on both headers a key may come in."""
    cache_control = response.headers.get("Cache-Control", "")
    vary = {v.strip().lower() for v in response.headers.get("Vary", "").split(",")}
    assert (
        "private" in cache_control
        or "no-store" in cache_control
        or {"authorization", "x-api-key"} <= vary
    ), f"shareable answer: Cache-Control {cache_control!r}, Vary {sorted(vary)}"


def mentions(document: str, layer_id: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(layer_id)}(?![\w])", document) is not None


def tile_layers(data: bytes) -> dict[str, int]:
    decoded = mapbox_vector_tile.decode(data)
    return {name: len(layer["features"]) for name, layer in decoded.items()}


def geometry_for(layer: Layer) -> dict:
    x, y = VADUZ
    ring = [[x, y], [x + 0.001, y], [x + 0.001, y + 0.001], [x, y + 0.001], [x, y]]
    line = [[x, y], [x + 0.001, y + 0.001]]
    return {
        "Point": {"type": "Point", "coordinates": [x, y]},
        "Geometry": {"type": "Point", "coordinates": [x, y]},
        "MultiPoint": {"type": "MultiPoint", "coordinates": [[x, y]]},
        "LineString": {"type": "LineString", "coordinates": line},
        "MultiLineString": {"type": "MultiLineString", "coordinates": [line]},
        "Polygon": {"type": "Polygon", "coordinates": [ring]},
        "MultiPolygon": {"type": "MultiPolygon", "coordinates": [[ring]]},
    }[layer.geometry_type]


VALUES = {
    "string": "matrix",
    "integer": 1,
    "number": 1.5,
    "boolean": True,
    "date": "2024-05-01",
    "datetime": "2024-05-01T08:00:00Z",
    "json": {"matrix": True},
}


def feature_for(layer: Layer) -> dict:
    """A feature the declaration accepts: its geometry type, every property of its type."""
    return {
        "type": "Feature",
        "geometry": geometry_for(layer),
        "properties": {p.name: VALUES[p.type] for p in layer.properties},
    }


def patch_for(layer: Layer) -> dict:
    strings = [p.name for p in layer.properties if p.type == "string"]
    return {"properties": {strings[0]: "patched"}} if strings else {"geometry": geometry_for(layer)}


_SEED = (
    """INSERT INTO editable.hydrants (name, pressure_bar, outlets, geom) VALUES
           ('H-matrix-1', 4.5, 2, ST_SetSRID(ST_MakePoint(9.5209, 47.1410), 4490)),
           ('H-matrix-2', 5.0, 3, ST_SetSRID(ST_MakePoint(9.5250, 47.1380), 4490))""",
    """INSERT INTO editable.zones (name, level, geom) VALUES
           ('Z-matrix', 1, ST_Multi(ST_MakeEnvelope(9.51, 47.13, 9.53, 47.15, 4490)))""",
)

# Raster layers with each kind of access: a small GeoTIFF over Vaduz in the city's UTM zone.
RASTER_ACCESS = {
    "matrix_public": PUBLIC,
    "matrix_internal": INTERNAL,
    "matrix_water": frozenset({"water_utility"}),
}
_RASTER_ORIGIN = (538_000.0, 5_222_000.0)
_to_lonlat = Transformer.from_crs(32632, 4326, always_xy=True)


def _write_rasters(data_dir, sources) -> None:
    path = sources / "matrix.tif"
    values = np.random.default_rng(3).integers(1, 1000, (160, 200), dtype=np.uint16)
    profile = {
        "driver": "GTiff",
        "width": 200,
        "height": 160,
        "count": 1,
        "dtype": "uint16",
        "crs": "EPSG:32632",
        "transform": from_origin(*_RASTER_ORIGIN, 10.0, 10.0),
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(values, 1)
    for name, access in RASTER_ACCESS.items():
        import_raster(path, name, data_dir, access=access)


def _samples(engine: Engine, registry) -> dict[str, Sample]:
    """Per layer, the feature with the largest extent (it survives generalisation) and its tile."""
    samples = {}
    with engine.connect() as conn:
        for layer in registry:
            geom = layer.mercator_column
            row = conn.execute(
                text(
                    f"""SELECT {layer.id_column} AS fid,
                               ST_X(p) AS lon, ST_Y(p) AS lat
                          FROM (SELECT {layer.id_column},
                                       ST_Transform(ST_PointOnSurface({geom}), 4326) AS p,
                                       ST_XMax({geom}) - ST_XMin({geom})
                                       + ST_YMax({geom}) - ST_YMin({geom}) AS size
                                  FROM {layer.table}) AS f
                         ORDER BY size DESC, {layer.id_column}
                         LIMIT 1"""
                )
            ).one()
            z = max(min(layer.maxzoom, 16), layer.minzoom)
            tile = TMS.tile(row.lon, row.lat, z)
            samples[layer.id] = Sample(row.fid, (tile.z, tile.x, tile.y))
    return samples


@pytest.fixture(scope="module")
def matrix(make_database, tmp_path_factory) -> Iterator[Matrix]:
    data_dir = tmp_path_factory.mktemp("matrix_data")
    settings = make_database(
        "matrix",
        modules=MODULES,
        data_dir=data_dir,
        rate_limit="100000 per minute",
        rate_limit_key_prefix=f"gp_test_{uuid.uuid4().hex}",
    )
    engine = make_engine(settings)
    editable.create_tables(engine)
    # Every module's demo, in load order, as `geoplatform demo` runs them; then its samples.
    load_every_demo(settings)
    with transaction(engine) as conn:
        for module in load_modules(MODULES):
            if module.samples is not None:
                module.samples(conn)
        for statement in _SEED:
            conn.execute(text(statement))
        for layer in editable.MODULE.layers:
            record_change(conn, layer)
        keys = {
            caller.name: create_key(conn, caller.department, caller.role, "access matrix")[1]
            for caller in CALLERS
            if caller.department
        }
    _write_rasters(data_dir, tmp_path_factory.mktemp("matrix_sources"))
    app = create_app(settings)
    try:
        samples = _samples(engine, app.extensions["geoplatform"].registry)
        rasters = {raster.name: raster for raster in RasterCatalogue(data_dir)}
        yield Matrix(app, engine, keys, samples, rasters)
    finally:
        # Every pool and listener it opened, before the database is dropped under them.
        app.extensions["geoplatform"].close()
        engine.dispose()


# --- the matrix itself is sound ----------------------------------------------------------------


def test_the_matrix_covers_the_apps_registry(matrix):
    assert [layer.id for layer in matrix.registry] == LAYER_IDS
    kinds = {access_kind(layer.access) for layer in matrix.registry}
    assert kinds == {"public", "internal", "departments"}
    assert any(layer.editable_by for layer in matrix.registry)
    assert any(not layer.editable_by for layer in matrix.registry)
    # The demos may add rasters of their own (the base density); the matrix adds one per access.
    assert set(RASTER_ACCESS) <= set(matrix.rasters)


@pytest.mark.parametrize("caller", [c for c in CALLERS if c.department], ids=str)
def test_each_key_acts_for_its_caller(matrix, caller):
    with matrix.engine.connect() as conn:
        principal = authenticate(conn, matrix.keys[caller.name])
    assert (principal.department, principal.role) == (caller.department, caller.role)


@pytest.mark.parametrize(("layer_id", "caller"), LAYER_CALLERS)
def test_the_gate_agrees_with_the_truth_table(matrix, layer_id, caller):
    layer = matrix.layer(layer_id)
    principal = Principal(caller.department, caller.role, 1 if caller.department else None)
    assert can_read(principal, layer) is may_read(layer.access, caller)
    assert can_edit(principal, layer) is may_edit(layer, caller)


# --- discovery: what lists layers --------------------------------------------------------------


@pytest.mark.parametrize(("layer_id", "caller"), LAYER_CALLERS)
def test_collections_list(matrix, layer_id, caller):
    document = matrix.once(caller, "/collections", per_caller=True)
    listed = {c["id"] for c in json.loads(document)["collections"]}
    assert (layer_id in listed) is may_read(matrix.layer(layer_id).access, caller)
    if layer_id not in listed:
        assert not mentions(document, layer_id)


@pytest.mark.parametrize(("layer_id", "caller"), LAYER_CALLERS)
def test_base_style(matrix, layer_id, caller):
    document = matrix.once(caller, "/styles/base.json", per_caller=True)
    source_layers = {x.get("source-layer") for x in json.loads(document)["layers"]}
    readable = may_read(matrix.layer(layer_id).access, caller)
    assert (layer_id in source_layers) is readable
    if not readable:
        assert not mentions(document, layer_id)


CAPABILITIES = ["/", "/conformance", "/api", "/api.html", "/tileMatrixSets"]


@pytest.mark.parametrize(("caller", "path"), cases(list(CALLERS), CAPABILITIES))
def test_capability_documents_name_no_unreadable_layer(matrix, caller, path):
    # The OpenAPI document describes routes, not collections: it names no layer but the example
    # in the collectionId parameter (base.roads, public). Whatever it lists, never a hidden one.
    document = matrix.once(caller, path)
    hidden = [layer.id for layer in matrix.registry if not may_read(layer.access, caller)]
    assert [layer_id for layer_id in hidden if mentions(document, layer_id)] == []


@pytest.mark.parametrize("route", ["/search", "/reverse"])
def test_gazetteer_hides_unreadable_layers(matrix, route):
    rules = {rule.rule for rule in matrix.app.url_map.iter_rules()}
    if route not in rules:
        pytest.skip(f"{route} is not in the app's url_map: the gazetteer is not served yet")
    # Not written against a real API yet: ask for a name and a place of each hidden layer's
    # sample feature and require that no answer names the layer.
    for caller in CALLERS:
        for layer in matrix.registry:
            if may_read(layer.access, caller) or not layer.searchable:
                continue
            fid = matrix.samples[layer.id].fid
            name = matrix.scalar(
                f"SELECT {layer.searchable[0]}::text FROM {layer.table} "
                f"WHERE {layer.id_column} = :fid",
                fid=fid,
            )
            lon, lat = VADUZ
            query = f"?q={name}" if route == "/search" else f"?lon={lon}&lat={lat}"
            response = matrix.get(caller, route + query)
            assert response.status_code < 500
            assert not mentions(response.get_data(as_text=True), layer.id)


# --- features ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("layer_id", "caller"), LAYER_CALLERS)
def test_collection(matrix, layer_id, caller):
    access = matrix.layer(layer_id).access
    if may_read(access, caller):
        response = matrix.read(caller, f"/collections/{layer_id}", access)
        assert response.json["id"] == layer_id
    else:
        assert_like_unknown(matrix, caller, layer_id, lambda i: f"/collections/{i}")


@pytest.mark.parametrize(("layer_id", "caller"), LAYER_CALLERS)
def test_items(matrix, layer_id, caller):
    layer = matrix.layer(layer_id)
    if may_read(layer.access, caller):
        response = matrix.read(caller, f"/collections/{layer_id}/items?limit=1", layer.access)
        assert response.json["numberMatched"] == matrix.count(layer) > 0
        assert response.json["numberReturned"] == len(response.json["features"]) == 1
    else:
        assert_like_unknown(matrix, caller, layer_id, lambda i: f"/collections/{i}/items?limit=1")


@pytest.mark.parametrize(("layer_id", "caller"), LAYER_CALLERS)
def test_item(matrix, layer_id, caller):
    access = matrix.layer(layer_id).access
    if may_read(access, caller):
        page = matrix.read(caller, f"/collections/{layer_id}/items?limit=1", access).json
        fid = page["features"][0]["id"]
        response = matrix.read(caller, f"/collections/{layer_id}/items/{fid}", access)
        assert response.json["id"] == fid
        assert response.headers["ETag"]
    else:
        fid = matrix.samples[layer_id].fid  # exists in the table: only the gate can refuse
        assert_like_unknown(matrix, caller, layer_id, lambda i: f"/collections/{i}/items/{fid}")


@pytest.mark.parametrize(("layer_id", "caller"), LAYER_CALLERS)
def test_queryables(matrix, layer_id, caller):
    access = matrix.layer(layer_id).access
    if may_read(access, caller):
        response = matrix.read(caller, f"/collections/{layer_id}/queryables", access)
        assert response.mimetype == "application/schema+json"
        assert response.json["$id"].endswith(f"/collections/{layer_id}/queryables")
    else:
        assert_like_unknown(matrix, caller, layer_id, lambda i: f"/collections/{i}/queryables")


@pytest.mark.parametrize(("layer_id", "caller"), LAYER_CALLERS)
def test_history(matrix, layer_id, caller):
    fid = matrix.samples[layer_id].fid
    access = matrix.layer(layer_id).access
    if may_read(access, caller):
        response = matrix.read(caller, f"/collections/{layer_id}/items/{fid}/history", access)
        assert response.json["collection"] == layer_id
    else:
        assert_like_unknown(
            matrix, caller, layer_id, lambda i: f"/collections/{i}/items/{fid}/history"
        )


# A malformed request about a hidden layer must still be a 404: refusing it as malformed (400)
# would tell the caller that the layer exists.
MALFORMED = {
    "items_bad_limit": (lambda i: f"/collections/{i}/items?limit=0", 400),
    "items_unknown_parameter": (lambda i: f"/collections/{i}/items?nosuch=1", 400),
    "item_bad_id": (lambda i: f"/collections/{i}/items/abc", 400),
    "tile_bad_zoom": (lambda i: f"/tiles/{i}/99/0/0.mvt", 400),
    "ogc_tile_bad_zoom": (lambda i: f"/collections/{i}/tiles/WebMercatorQuad/99/0/0", 400),
}


@pytest.mark.parametrize(
    ("layer_id", "caller", "probe"), cases(LAYER_IDS, list(CALLERS), list(MALFORMED))
)
def test_malformed_requests_are_judged_after_the_gate(matrix, layer_id, caller, probe):
    path, status = MALFORMED[probe]
    if may_read(matrix.layer(layer_id).access, caller):
        assert matrix.get(caller, path(layer_id)).status_code == status
    else:
        assert_like_unknown(matrix, caller, layer_id, path)


# --- tiles and styles --------------------------------------------------------------------------


def _reader_etag(matrix: Matrix, layer_id: str, path: str) -> str | None:
    readers = [c for c in CALLERS if may_read(matrix.layer(layer_id).access, c)]
    return matrix.get(readers[0], path).headers.get("ETag") if readers else None


def _check_tile(matrix, layer_id, caller, path: Callable[[str], str], expected: set[str]):
    layer = matrix.layer(layer_id)
    if may_read(layer.access, caller):
        accesses = [matrix.layer(i).access for i in expected]
        response = matrix.read(caller, path(layer_id), *accesses)
        layers = tile_layers(response.data)
        assert layer_id in layers and layers[layer_id] > 0
        assert set(layers) <= expected
        public = all(access == PUBLIC for access in accesses)
        assert response.headers["Cache-Control"].startswith("public" if public else "private")
    else:
        assert_like_unknown(matrix, caller, layer_id, path)
        # The ETag a reader got must not turn into a 304 that confirms the tile exists.
        etag = _reader_etag(matrix, layer_id, path(layer_id))
        if etag:
            refused = matrix.get(caller, path(layer_id), **{"If-None-Match": etag})
            assert refused.status_code == 404 and not refused.headers.get("ETag")


@pytest.mark.parametrize(("layer_id", "caller"), LAYER_CALLERS)
def test_xyz_tile(matrix, layer_id, caller):
    z, x, y = matrix.samples[layer_id].tile
    _check_tile(matrix, layer_id, caller, lambda i: f"/tiles/{i}/{z}/{x}/{y}.mvt", {layer_id})


@pytest.mark.parametrize(("layer_id", "caller"), LAYER_CALLERS)
def test_composite_tile(matrix, layer_id, caller):
    z, x, y = matrix.samples[layer_id].tile
    _check_tile(
        matrix,
        layer_id,
        caller,
        lambda i: f"/tiles/{COMPOSITE_PARTNER},{i}/{z}/{x}/{y}.mvt",
        {COMPOSITE_PARTNER, layer_id},
    )


@pytest.mark.parametrize(("layer_id", "caller"), LAYER_CALLERS)
def test_ogc_tile(matrix, layer_id, caller):
    z, x, y = matrix.samples[layer_id].tile
    _check_tile(
        matrix,
        layer_id,
        caller,
        lambda i: f"/collections/{i}/tiles/WebMercatorQuad/{z}/{y}/{x}",
        {layer_id},
    )


@pytest.mark.parametrize(("layer_id", "caller"), LAYER_CALLERS)
def test_tilejson(matrix, layer_id, caller):
    access = matrix.layer(layer_id).access
    if may_read(access, caller):
        response = matrix.read(caller, f"/tiles/{layer_id}.json", access)
        assert [v["id"] for v in response.json["vector_layers"]] == [layer_id]
    else:
        assert_like_unknown(matrix, caller, layer_id, lambda i: f"/tiles/{i}.json")


@pytest.mark.parametrize(("layer_id", "caller"), LAYER_CALLERS)
def test_composite_tilejson(matrix, layer_id, caller):
    path = lambda i: f"/tiles/{COMPOSITE_PARTNER},{i}.json"  # noqa: E731
    access = matrix.layer(layer_id).access
    if may_read(access, caller):
        response = matrix.read(caller, path(layer_id), access)
        ids = [v["id"] for v in response.json["vector_layers"]]
        assert ids == list(dict.fromkeys([COMPOSITE_PARTNER, layer_id]))
    else:
        assert_like_unknown(matrix, caller, layer_id, path)


@pytest.mark.parametrize(("layer_id", "caller"), LAYER_CALLERS)
def test_ogc_tilesets(matrix, layer_id, caller):
    access = matrix.layer(layer_id).access
    if may_read(access, caller):
        response = matrix.read(caller, f"/collections/{layer_id}/tiles", access)
        assert len(response.json["tilesets"]) == 1
    else:
        assert_like_unknown(matrix, caller, layer_id, lambda i: f"/collections/{i}/tiles")


@pytest.mark.parametrize(("layer_id", "caller"), LAYER_CALLERS)
def test_ogc_tileset(matrix, layer_id, caller):
    path = lambda i: f"/collections/{i}/tiles/WebMercatorQuad"  # noqa: E731
    access = matrix.layer(layer_id).access
    if may_read(access, caller):
        response = matrix.read(caller, path(layer_id), access)
        assert [x["id"] for x in response.json["layers"]] == [layer_id]
    else:
        assert_like_unknown(matrix, caller, layer_id, path)


@pytest.mark.parametrize(("layer_id", "caller"), LAYER_CALLERS)
def test_layer_style(matrix, layer_id, caller):
    access = matrix.layer(layer_id).access
    if may_read(access, caller):
        response = matrix.read(caller, f"/styles/{layer_id}.json", access)
        drawn = {x["source-layer"] for x in response.json["layers"] if "source-layer" in x}
        assert drawn == {layer_id}
    else:
        assert_like_unknown(matrix, caller, layer_id, lambda i: f"/styles/{i}.json")


# --- rasters -----------------------------------------------------------------------------------


def _raster_tile() -> tuple[int, int, int]:
    west, north = _to_lonlat.transform(*_RASTER_ORIGIN)
    tile = TMS.tile(west + 0.005, north - 0.005, 14)
    return tile.z, tile.x, tile.y


RASTER_CALLERS = cases(list(RASTER_ACCESS), list(CALLERS))


@pytest.mark.parametrize(("name", "caller"), RASTER_CALLERS)
def test_raster_list(matrix, name, caller):
    document = matrix.once(caller, "/raster", per_caller=True)
    listed = {r["name"] for r in json.loads(document)["rasters"]}
    assert (name in listed) is may_read(RASTER_ACCESS[name], caller)
    if name not in listed:
        assert name not in document


@pytest.mark.parametrize(("name", "caller"), RASTER_CALLERS)
def test_raster_tilejson(matrix, name, caller):
    if may_read(RASTER_ACCESS[name], caller):
        response = matrix.read(caller, f"/raster/{name}.json", RASTER_ACCESS[name])
        assert response.json["name"] == name
    else:
        assert_like_unknown(matrix, caller, name, lambda i: f"/raster/{i}.json")


@pytest.mark.parametrize(("name", "caller"), RASTER_CALLERS)
def test_raster_tile(matrix, name, caller):
    z, x, y = _raster_tile()
    path = lambda i: f"/raster/{i}/{z}/{x}/{y}.png"  # noqa: E731
    if may_read(RASTER_ACCESS[name], caller):
        response = matrix.read(caller, path(name), RASTER_ACCESS[name])
        assert response.mimetype == "image/png"
        public = RASTER_ACCESS[name] == PUBLIC
        assert response.headers["Cache-Control"].startswith("public" if public else "private")
    else:
        assert_like_unknown(matrix, caller, name, path)


# --- analyses ----------------------------------------------------------------------------------


def _analysis_callers(analysis) -> list[Caller]:
    """Anonymous, a department that reads none of the analysis' layers, and one that reads one."""
    layers = [REGISTRY.get(layer_id) for layer_id in analysis.layers]

    def reads_any(caller: Caller) -> bool:
        return any(may_read(layer.access, caller) for layer in layers)

    chosen = [CALLER["anonymous"]]
    chosen += [next(c for c in CALLERS if c.department and not reads_any(c))]
    chosen += [next(c for c in CALLERS if c.department and reads_any(c))]
    return chosen


ANALYSES = {
    f"{module.name}.{analysis.id}": (module, analysis)
    for module in load_modules(MODULES)
    for analysis in module.analyses
}
ANALYSIS_CALLERS = [
    pytest.param(name, caller, id=f"{name}-{caller}")
    for name, (_, analysis) in ANALYSES.items()
    for caller in _analysis_callers(analysis)
]


def test_every_module_analysis_is_in_the_matrix():
    assert ANALYSES, "no module declares an analysis"


@pytest.mark.parametrize(("name", "caller"), ANALYSIS_CALLERS)
def test_analysis(matrix, name, caller):
    module, analysis = ANALYSES[name]
    # A value for each part of the path (a network code): one that names nothing.
    route = re.sub(r"<(?:\w+:)?\w+>", "matrix", analysis.route)
    body = {} if analysis.method == "POST" else None
    kind = "application/json" if body is not None else None
    response = matrix.send(
        caller, analysis.method, f"/{module.name}{route}", body=body, content_type=kind
    )
    absent = f"/{module.name}/" + re.sub(r"[a-z0-9]", "x", route.lstrip("/"))
    twin = matrix.send(caller, analysis.method, absent, body=body, content_type=kind)
    assert twin.status_code == 404
    layers = [matrix.layer(layer_id) for layer_id in analysis.layers]
    if any(may_read(layer.access, caller) for layer in layers):
        # It exists for this caller: it refuses the empty input or the unknown network in its
        # own words, or runs on what they may read; never the answer of an unknown path.
        assert response.status_code in (200, 400, 404), response.get_data(as_text=True)
        assert response.data != twin.data
        assert_kept_per_caller(response)
    else:
        assert response.status_code == 404
        assert response.data == twin.data
        assert sorted(response.headers.items()) == sorted(twin.headers.items())


# --- edits -------------------------------------------------------------------------------------


def _check_edit(matrix, layer_id, caller, method, path, body, content_type, applied, **headers):
    layer = matrix.layer(layer_id)
    fid = matrix.samples[layer_id].fid
    expected = expected_edit(layer, caller, applied)
    before = matrix.snapshot(layer, fid)
    if expected == 404:
        assert_like_unknown(
            matrix, caller, layer_id, path, method, body=body, content_type=content_type, **headers
        )
        assert matrix.snapshot(layer, fid) == before
        return None
    response = matrix.send(
        caller, method, path(layer_id), body=body, content_type=content_type, **headers
    )
    assert response.status_code == expected, response.get_data(as_text=True)
    after = matrix.snapshot(layer, fid)
    if expected in (403, 405):
        assert after == before
        if expected == 405:
            assert response.headers["Allow"] == "GET, HEAD"
    return response, before, after


@pytest.mark.parametrize(("layer_id", "caller"), LAYER_CALLERS)
def test_create(matrix, layer_id, caller):
    layer = matrix.layer(layer_id)
    checked = _check_edit(
        matrix,
        layer_id,
        caller,
        "POST",
        lambda i: f"/collections/{i}/items",
        feature_for(layer),
        GEOJSON,
        201,
    )
    if checked and checked[0].status_code == 201:
        response, before, after = checked
        assert after["rows"] == before["rows"] + 1
        assert after["version"] > before["version"]
        assert after["audit"] == before["audit"] + 1
        created = matrix.get(caller, f"/collections/{layer_id}/items/{response.json['id']}")
        assert created.status_code == 200


# Changes to an existing feature with an If-Match that is not its ETag: a caller who may edit
# gets as far as 412 (and the refusal is audited), everyone else is refused before that, and in
# no case does the row change.
CHANGES = {
    "PUT": (lambda layer: feature_for(layer), GEOJSON),
    "PATCH": (lambda layer: patch_for(layer), MERGE_PATCH),
    "DELETE": (lambda layer: None, None),
}


@pytest.mark.parametrize(
    ("layer_id", "caller", "method"), cases(LAYER_IDS, list(CALLERS), list(CHANGES))
)
def test_change(matrix, layer_id, caller, method):
    layer = matrix.layer(layer_id)
    fid = matrix.samples[layer_id].fid
    body, content_type = CHANGES[method]
    checked = _check_edit(
        matrix,
        layer_id,
        caller,
        method,
        lambda i: f"/collections/{i}/items/{fid}",
        body(layer),
        content_type,
        412,
        **{"If-Match": STALE},
    )
    if checked and checked[0].status_code == 412:
        _, before, after = checked
        assert {k: after[k] for k in ("rows", "row", "version")} == {
            k: before[k] for k in ("rows", "row", "version")
        }
        assert after["audit"] == before["audit"] + 1


# --- the audit log -----------------------------------------------------------------------------


@pytest.mark.parametrize("caller", CALLERS, ids=str)
def test_audit_log_is_for_admins(matrix, caller):
    if caller.role == ADMIN:
        matrix.read(caller, "/audit", INTERNAL)
    else:
        assert matrix.get(caller, "/audit").status_code == 403


@pytest.mark.parametrize(("layer_id", "caller"), LAYER_CALLERS)
def test_audit_log_of_a_layer(matrix, layer_id, caller):
    path = lambda i: f"/audit?layer={i}&limit=1000"  # noqa: E731
    if caller.role != ADMIN:
        assert_like_unknown(matrix, caller, layer_id, path, status=403)
    elif may_read(matrix.layer(layer_id).access, caller):
        # The log is per caller whatever the layer's access: it is for administrators only.
        response = matrix.read(caller, path(layer_id), INTERNAL)
        assert {e["layer"] for e in response.json["entries"]} <= {layer_id}
    else:
        assert_like_unknown(matrix, caller, layer_id, path)


@pytest.mark.parametrize("caller", [c for c in CALLERS if c.role == ADMIN], ids=str)
def test_audit_log_shows_only_readable_layers(matrix, caller):
    hydrants = matrix.layer(editable.HYDRANTS.id)
    made = matrix.send(
        CALLER["water_editor"],
        "POST",
        f"/collections/{hydrants.id}/items",
        body=feature_for(hydrants),
        content_type=GEOJSON,
    )
    assert made.status_code == 201
    entries = matrix.get(caller, "/audit?limit=1000").json["entries"]
    readable = {layer.id for layer in matrix.registry if may_read(layer.access, caller)}
    seen = {entry["layer"] for entry in entries}
    assert seen <= readable
    assert (hydrants.id in seen) is (hydrants.id in readable)
    for entry in entries:
        assert entry["role"] in (EDITOR, ADMIN)
