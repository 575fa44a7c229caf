"""Landing page, conformance, and the OpenAPI document generated from what the app serves."""

from __future__ import annotations

import re

from flask import Blueprint

from geoplatform.app import create_app
from geoplatform.features.openapi import OPENAPI_TYPE, openapi_path, operation

FEATURES = "http://www.opengis.net/spec/ogcapi-features-{}/1.0/conf/{}"
TILES = "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/{}"
CQL2 = "http://www.opengis.net/spec/cql2/1.0/conf/{}"


def test_landing_page_links_the_api_and_the_data(client):
    response = client.get("/")
    assert response.status_code == 200
    document = response.json
    assert document["title"]
    rels = {link["rel"]: link for link in document["links"]}
    assert rels["service-desc"]["type"] == OPENAPI_TYPE
    assert rels["service-desc"]["href"].endswith("/api")
    assert rels["service-doc"]["href"].endswith("/api.html")
    assert rels["service-doc"]["type"] == "text/html"
    assert rels["conformance"]["href"].endswith("/conformance")
    assert rels["data"]["href"].endswith("/collections")
    assert rels["self"]["href"].endswith("/")
    for link in document["links"]:
        assert client.get(link["href"].split("localhost", 1)[1]).status_code == 200


def test_conformance_declares_the_implemented_classes(client):
    classes = set(client.get("/conformance").json["conformsTo"])
    expected = {
        FEATURES.format(1, "core"),
        FEATURES.format(1, "geojson"),
        FEATURES.format(1, "oas30"),
        FEATURES.format(2, "crs"),
        FEATURES.format(3, "filter"),
        FEATURES.format(3, "features-filter"),
        FEATURES.format(3, "queryables"),
        FEATURES.format(3, "queryables-query-parameters"),
        FEATURES.format(4, "create-replace-delete"),
        FEATURES.format(4, "update"),
        *(
            CQL2.format(name)
            for name in (
                "cql2-text",
                "cql2-json",
                "basic-cql2",
                "advanced-comparison-operators",
                "case-insensitive-comparison",
                "property-property",
                "basic-spatial-functions",
                "basic-spatial-functions-plus",
                "spatial-functions",
                "basic-spatial-operators",
                "spatial-operators",
            )
        ),
        # The tile service's, which it contributes: tilesets of each collection, in MVT.
        *(
            TILES.format(name)
            for name in ("core", "tileset", "tilesets-list", "geodata-tilesets", "mvt", "oas30")
        ),
    }
    assert classes == expected
    assert FEATURES.format(1, "html") not in classes


def test_openapi_describes_every_route_the_app_serves(demo_app, client):
    response = client.get("/api")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == OPENAPI_TYPE
    document = response.get_json(force=True)
    assert document["openapi"].startswith("3.0")
    served = set()
    for rule in demo_app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.endswith(".static"):
            continue
        path, parameters = openapi_path(rule)
        methods = {m.lower() for m in rule.methods} - {"head", "options"}
        assert methods <= set(document["paths"][path]), path
        names = set(re.findall(r"{(\w+)}", path))
        assert names == set(rule.arguments), path
        served.add(path)
    assert set(document["paths"]) == served
    for expected in (
        "/collections/{layer_id}/items",
        "/collections/{layer_id}/items/{feature_id}",
        "/collections/{layer_id}/queryables",
        "/tiles/{layers}/{z}/{x}/{y}.mvt",
        "/styles/base.json",
        "/conformance",
        "/",
    ):
        assert expected in document["paths"]
    ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))


def test_path_parameters_are_declared_once_each(client):
    document = client.get("/api").get_json(force=True)
    parameters = document["components"]["parameters"]
    for path, operations in document["paths"].items():
        for operation_ in operations.values():
            resolved = [
                parameters[p["$ref"].rsplit("/", 1)[1]] if "$ref" in p else p
                for p in operation_.get("parameters", [])
            ]
            in_path = sorted(p["name"] for p in resolved if p["in"] == "path")
            assert in_path == sorted(re.findall(r"{(\w+)}", path)), path


def test_items_operation_is_documented_in_detail(client):
    document = client.get("/api").get_json(force=True)
    items = document["paths"]["/collections/{layer_id}/items"]["get"]
    refs = {p.get("$ref", "").rsplit("/", 1)[-1] for p in items["parameters"]}
    for name in ("limit", "offset", "bbox", "bbox-crs", "crs", "datetime", "properties"):
        assert name in refs
    for name in ("sortby", "filter", "filter-lang", "filter-crs"):
        assert name in refs
    limit = document["components"]["parameters"]["limit"]["schema"]
    assert limit == {"type": "integer", "minimum": 1, "maximum": 10000, "default": 100}
    assert "application/geo+json" in items["responses"]["200"]["content"]
    assert items["responses"]["400"] == {"$ref": "#/components/responses/InvalidParameter"}
    assert "FeatureCollection" in document["components"]["schemas"]


def test_openapi_as_plain_json_and_as_a_page(client):
    plain = client.get("/api", headers={"Accept": "application/json"})
    assert plain.content_type == "application/json"
    assert client.get("/api?f=json").content_type == "application/json"
    page = client.get("/api.html")
    assert page.status_code == 200
    assert page.content_type.startswith("text/html")
    html = page.get_data(as_text=True)
    assert "/collections/{layer_id}/items" in html
    assert "filter-lang" in html
    # Nothing is fetched from elsewhere: no absolute URL in any src or href.
    assert not re.findall(r"""(?:src|href)=["'](?:https?:)?//""", html)
    assert "<script" not in html
    browser = client.get("/api", headers={"Accept": "text/html,application/xhtml+xml"})
    assert browser.content_type.startswith("text/html")


def test_blueprints_document_their_operations_with_a_decorator(demo_settings, demo_load):
    app = create_app(demo_settings)
    extra = Blueprint("extra", __name__)
    extra.openapi_components = {"schemas": {"Widget": {"type": "object"}}}

    @extra.route("/widgets/<int:widget_id>", methods=["GET", "DELETE"])
    @operation(summary="A widget", tags=["widgets"])
    @operation(
        method="delete",
        summary="Remove a widget",
        responses={"204": {"description": "gone"}},
    )
    def widget(widget_id: int):
        """Undocumented first line."""
        return ""

    @extra.get("/files/<path:name>")
    def file(name: str):
        """Serve a file."""
        return ""

    app.register_blueprint(extra)
    document = app.test_client().get("/api").get_json(force=True)
    widgets = document["paths"]["/widgets/{widget_id}"]
    assert widgets["get"]["summary"] == "A widget"
    assert widgets["get"]["tags"] == ["widgets"]
    assert widgets["get"]["parameters"] == [
        {"name": "widget_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    ]
    assert widgets["delete"]["summary"] == "Remove a widget"
    assert widgets["delete"]["responses"] == {"204": {"description": "gone"}}
    files = document["paths"]["/files/{name}"]["get"]
    assert files["summary"] == "Serve a file."
    assert files["tags"] == ["extra"]
    assert files["parameters"][0]["schema"] == {"type": "string"}
    assert document["components"]["schemas"]["Widget"] == {"type": "object"}
    app.extensions["geoplatform"].close()
