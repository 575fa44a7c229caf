"""The API document at ``/api`` against the live server, by schemathesis; and the requests found
failing with 500 while these tests were written, each now answered as it should be.

Every GET operation the document lists is called with requests generated from it, positive
(valid per the document) and negative (violating it), a bounded, derandomized number of each.
No request may meet a server error. The feature operations, documented in detail, must also
answer with a documented status, content type, headers and body schema, and refuse what violates
the document. The other operations (tiles, styles, rasters, audit …) document a generic 200
only, so for them the server-error check is the one that can speak.

Random strings name nothing, so most path parameters are drawn from what exists (public
collections, some of their features, tiles over the city, the rasters) and the CRS parameters
from the CRSs the server supports; a share of the draws keeps the generated values, for the
refusals.

Each operation runs as a Hypothesis test of its own inside the two tests below, with
schemathesis' strategies and checks: schemathesis' pytest integration for a schema that comes
from a fixture (``schemathesis.pytest.from_fixture``, needed as the server starts in one) fails
under pytest 9.2, which no longer has the node attribute it rewrites.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from functools import cache

import morecantile
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.errors import FailureGroup
from sqlalchemy import text

EXAMPLES = 50
DOCUMENTED = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
)
FEATURE_PATHS = {
    "/",
    "/conformance",
    "/collections/{layer_id}",
    "/collections/{layer_id}/items",
    "/collections/{layer_id}/items/{feature_id}",
    "/collections/{layer_id}/queryables",
}
# A real font's glyph range takes about a second to render (a CJK range holds 256 glyphs), so
# the font operation keeps its generated font names, which no font has: it checks the refusals.
GENERATED_ONLY = {"/fonts/{fontstack}/{glyph_range}.pbf"}
CRS_PARAMETERS = ("crs", "bbox-crs", "filter-crs")
CITY_ZOOMS = (0, 6, 10, 13, 15)
EPSG = "http://www.opengis.net/def/crs/EPSG/0/{}"


@pytest.fixture(scope="module")
def api_schema(live_url):
    return schemathesis.openapi.from_url(f"{live_url}/api").include(method="GET")


@pytest.fixture(scope="module")
def existing(demo_app) -> dict:
    """Values of parameters that name something that exists, to draw from."""
    client = demo_app.test_client()
    collections = client.get("/collections").json["collections"]
    ids = [c["id"] for c in collections]
    features = {
        layer_id: [
            str(f["id"])
            for f in client.get(f"/collections/{layer_id}/items?limit=2").json["features"]
        ]
        for layer_id in ids
    }
    west, south, east, north = collections[0]["extent"]["spatial"]["bbox"][0]
    tms = morecantile.tms.get("WebMercatorQuad")
    tiles = [tms.tile((west + east) / 2, (south + north) / 2, z) for z in CITY_ZOOMS]
    return {
        "ids": ids,
        "features": features,
        "crs": collections[0]["crs"],
        "tiles": [(str(t.z), str(t.x), str(t.y)) for t in tiles],
        "rasters": [r["name"] for r in client.get("/raster").json["rasters"]],
    }


def existing_values(existing: dict, path_names: set[str], query_names: set[str]):
    """Parameters naming existing things: (path parameters, query parameters) as sorted pairs."""

    @st.composite
    def values(draw) -> tuple[tuple, tuple]:
        path: dict[str, str] = {}
        if "layer_id" in path_names:
            path["layer_id"] = draw(st.sampled_from(existing["ids"]))
            if "feature_id" in path_names and existing["features"][path["layer_id"]]:
                path["feature_id"] = draw(st.sampled_from(existing["features"][path["layer_id"]]))
        if "layers" in path_names:
            path["layers"] = draw(
                st.sampled_from(existing["ids"]) | st.just(",".join(existing["ids"]))
            )
        if "name" in path_names and existing["rasters"]:
            path["name"] = draw(st.sampled_from(existing["rasters"]))
        if {"z", "x", "y"} <= path_names:
            path.update(zip("zxy", draw(st.sampled_from(existing["tiles"])), strict=True))
        if "image_format" in path_names:
            path["image_format"] = draw(st.sampled_from(["png", "webp"]))
        crs = st.sampled_from(existing["crs"])
        query = draw(
            st.fixed_dictionaries({}, optional={n: crs for n in CRS_PARAMETERS if n in query_names})
        )
        return tuple(sorted(path.items())), tuple(sorted(query.items()))

    return values()


def cases(operation, mode: GenerationMode, existing: dict) -> st.SearchStrategy:
    generated = operation.as_strategy(generation_mode=mode)
    path_names = {p.name for p in operation.path_parameters}
    query_names = {p.name for p in operation.query}
    if operation.path in GENERATED_ONLY or not (path_names or query_names & set(CRS_PARAMETERS)):
        return generated

    @cache
    def with_values(path: tuple, query: tuple) -> st.SearchStrategy:
        return operation.as_strategy(
            generation_mode=mode, path_parameters=dict(path), query=dict(query)
        )

    drawn = existing_values(existing, path_names, query_names).flatmap(lambda v: with_values(*v))
    return st.one_of(drawn, drawn, drawn, generated)  # three draws in four name existing things


def failures_of(operation, mode: GenerationMode, existing: dict, checks) -> list[str]:
    """The failures of a bounded, derandomized run: each kind once, with how many requests failed
    so and the first of them as a curl command."""
    found: dict[tuple[str, ...], list[str]] = {}

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
    )
    @given(case=cases(operation, mode, existing))
    def run(case):
        try:
            case.call_and_validate(checks=list(checks))
        except (AssertionError, FailureGroup) as failure:
            problems = failure.exceptions if isinstance(failure, FailureGroup) else [failure]
            titles = tuple(sorted({getattr(p, "title", type(p).__name__) for p in problems}))
            found.setdefault(titles, []).append(case.as_curl_command())

    run()
    return [
        f"{operation.label} ({mode.value}): {', '.join(titles)}, {len(curls)} requests; the "
        f"first:\n    {curls[0]}"
        for titles, curls in found.items()
    ]


def operations(schema, wanted: Callable[[str], bool]) -> Iterator:
    for result in schema.get_all_operations():
        operation = result.ok()
        if wanted(operation.path):
            yield operation


def modes(operation) -> list[GenerationMode]:
    """Positive always; negative where a query parameter can be violated. A violated path
    parameter is empty or holds a '/', which the router answers with 404 before any view runs."""
    if operation.query:
        return [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    return [GenerationMode.POSITIVE]


def test_feature_operations_answer_as_documented(api_schema, existing):
    failures = [
        failure
        for operation in operations(api_schema, lambda path: path in FEATURE_PATHS)
        for mode in modes(operation)
        for failure in failures_of(operation, mode, existing, DOCUMENTED)
    ]
    assert not failures, "\n".join(failures)


def test_other_get_operations_never_fail_with_a_server_error(api_schema, existing):
    failures = [
        failure
        for operation in operations(api_schema, lambda path: path not in FEATURE_PATHS)
        for mode in modes(operation)
        for failure in failures_of(operation, mode, existing, [not_a_server_error])
    ]
    assert not failures, "\n".join(failures)


ITEMS = "/collections/base.buildings/items"
UTM_32N = EPSG.format(32632)
WEB_MERCATOR = EPSG.format(3857)


def cql2_json(expression: dict) -> dict:
    return {"filter-lang": "cql2-json", "filter": json.dumps(expression)}


def intersects(geometry: dict) -> dict:
    return {"op": "s_intersects", "args": [{"property": "geometry"}, geometry]}


def alternating(levels: int) -> str:
    """levels = 1 AND (levels = 1 OR (levels = 1 AND (...))), ``levels`` groups deep."""
    text = "levels = 1"
    for level in range(levels):
        text = f"levels = 1 {'AND' if level % 2 else 'OR'} ({text})"
    return text


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"offset": "99999999999999999999"}, "offset 99999999999999999999 is over the maximum"),
        ({"osm_id": "99999999999999999999"}, "osm_id: 99999999999999999999 is out of the 64-bit"),
        ({"filter": "levels > 99999999999999999999"}, "99999999999999999999 is out of the 64-bit"),
        ({"filter": "levels BETWEEN 99999999999999999999 AND 1"}, "is out of the 64-bit"),
        ({"name": "a\x00b"}, "NUL"),
        ({"filter": "name = 'a\x00b'"}, "NUL"),
        ({"filter": "name LIKE '\\'"}, "ends with the escape"),
        ({"filter": "name LIKE CASEI('B\\')"}, "ends with the escape"),
        ({"filter": "CASEI(name, 'a') = 'a'"}, "CASEI takes one argument"),
        ({"bbox": "-1e30,-1e30,1e30,1e30", "bbox-crs": UTM_32N}, "bbox: coordinates that cannot"),
        (
            {"filter": "S_INTERSECTS(geometry, POINT(1e30 1e30))", "filter-crs": UTM_32N},
            "filter: coordinates that cannot be used",
        ),
        (
            {"filter": "S_INTERSECTS(geometry, BBOX(0, 0, 1e400, 1))", "filter-crs": WEB_MERCATOR},
            "infinite",
        ),
        ({"filter": "S_INTERSECTS(geometry, BBOX(0, 0, 1e400, 1))"}, "infinite"),
        ({"filter": alternating(500)}, "nested more than 32 levels deep"),
        ({"filter-lang": "cql2-json", "filter": "[" * 5000 + "]" * 5000}, "nested too deeply"),
        (cql2_json({"op": "=", "args": [{"property": "name"}, "a\x00b"]}), "NUL"),
        (cql2_json(intersects({"type": "Foo", "coordinates": [1, 2]})), "not a GeoJSON geometry"),
        (cql2_json(intersects({"type": "Point", "coordinates": 5})), "not a GeoJSON geometry"),
    ],
)
def test_items_requests_that_failed_with_500_are_refused(client, query, message):
    response = client.get(ITEMS, query_string=query)
    assert response.status_code == 400, response.json
    assert response.json["code"] == "InvalidParameterValue"
    assert message in response.json["description"]


def test_a_nul_in_a_path_is_refused(client):
    response = client.get("/collections/base.roads/items/1%00/history")
    assert response.status_code == 400, response.json
    assert "NUL" in response.json["description"]


def test_a_long_chain_of_one_operator_is_a_valid_filter(client, demo_engine):
    terms = [f"levels = {n}" for n in range(1500)]
    response = client.get(ITEMS, query_string={"filter": " OR ".join(terms), "limit": 1})
    assert response.status_code == 200, response.json
    with demo_engine.connect() as conn:
        expected = conn.execute(
            text("SELECT count(*) FROM base.buildings WHERE levels BETWEEN 0 AND 1499")
        ).scalar_one()
    assert response.json["numberMatched"] == expected
