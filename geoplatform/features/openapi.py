"""The OpenAPI 3.0 document of everything the app serves, generated from its URL map.

``/api`` walks ``app.url_map`` when asked, so every endpoint of every blueprint appears (tiles,
styles, rasters, edits and whatever comes later), with the path parameters Flask itself accepts
(``<int:x>`` an integer, ``<path:x>`` a string that may hold slashes, anything else a string
without slashes). ``/api.html`` renders the same document as a page, server-side, with nothing
fetched from elsewhere.

How a blueprint documents its operations: decorate the view function with ``operation``::

    from geoplatform.features.openapi import operation

    @blueprint.get("/collections/<layer_id>/tiles")
    @operation(
        summary="Tilesets of a collection",
        parameters=[{"name": "layer_id", "in": "path", "required": True,
                     "description": "collection id", "schema": {"type": "string"}}],
        responses={"200": {"description": "the tilesets"}},
        tags=["tiles"],
    )
    def collection_tilesets(layer_id): ...

Any key of an OpenAPI Operation Object may be given (``summary``, ``description``,
``parameters``, ``requestBody``, ``responses``, ``tags``, ``deprecated`` …). ``method="post"``
limits a decoration to one method of a view that serves several; decorations stack. A
parameter given here replaces the generated one of the same name and place; ``$ref`` may point
into ``COMPONENTS`` below (shared responses ``NotFound``, ``InvalidParameter``; schemas
``Exception``, ``Link``), or into components a blueprint adds as its ``openapi_components``
attribute (a dict of sections, e.g. ``{"parameters": {...}, "schemas": {...}}``; the feature
blueprint adds ``limit``, ``bbox``, ``crs`` … and ``Feature``). An undecorated view gets its
docstring's first line as the summary and a generic 200. The decoration only sets an attribute
on the function, so its order relative to the route decorator does not matter.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, render_template, request
from werkzeug.routing import Rule

OPENAPI_TYPE = "application/vnd.oai.openapi+json;version=3.0"
_ATTRIBUTE = "openapi_operations"
_ALL = "*"
_METHODS = ("get", "put", "post", "delete", "patch")
# <converter(arguments):name> or <name>, as werkzeug writes variable parts of a rule.
_VARIABLE = re.compile(r"<(?:(?P<converter>\w+)(?:\((?P<args>[^)]*)\))?:)?(?P<name>\w+)>")

COMPONENTS: dict[str, Any] = {
    "schemas": {
        "Exception": {
            "type": "object",
            "required": ["code", "description"],
            "properties": {"code": {"type": "string"}, "description": {"type": "string"}},
        },
        "Link": {
            "type": "object",
            "required": ["href", "rel"],
            "properties": {
                "href": {"type": "string"},
                "rel": {"type": "string"},
                "type": {"type": "string"},
                "title": {"type": "string"},
            },
        },
    },
    "responses": {
        "InvalidParameter": {
            "description": "A query parameter or the body is malformed; the description says "
            "which and why.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Exception"}}},
        },
        "NotFound": {
            "description": "No such thing, or the caller may not know it exists.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Exception"}}},
        },
    },
}


def operation(method: str | None = None, **document: Any) -> Callable:
    """Attach OpenAPI Operation fields to a view function (see the module docstring)."""

    def decorate(view: Callable) -> Callable:
        operations = getattr(view, _ATTRIBUTE, None)
        if operations is None:
            operations = {}
            setattr(view, _ATTRIBUTE, operations)
        operations.setdefault((method or _ALL).lower(), {}).update(document)
        return view

    return decorate


def query_parameters(*names: str, required: tuple[str, ...] = ()) -> list[dict]:
    """String query parameters by name for ``operation(parameters=...)``."""
    return [
        {"name": name, "in": "query", "required": name in required, "schema": {"type": "string"}}
        for name in names
    ]


def described_parameter(name: str, where: str, description: str) -> dict:
    """A required string parameter in the path or a header, with what it means (path
    parameters are found from the route; this adds their description)."""
    return {
        "name": name,
        "in": where,
        "required": True,
        "description": description,
        "schema": {"type": "string"},
    }


def openapi_document(app: Flask, server_url: str, title: str, version: str) -> dict:
    paths: dict[str, dict] = {}
    operation_ids: set[str] = set()
    components = _components(app)
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint == "static" or rule.endpoint.endswith(".static"):
            continue
        path, parameters = openapi_path(rule)
        view = app.view_functions[rule.endpoint]
        for method in sorted(m.lower() for m in rule.methods or () if m.lower() in _METHODS):
            entry = _operation(view, rule, method, parameters, components)
            entry["operationId"] = _unique(f"{rule.endpoint}.{method}", operation_ids)
            paths.setdefault(path, {})[method] = entry
    return {
        "openapi": "3.0.3",
        "info": {"title": title, "version": version},
        "servers": [{"url": server_url.rstrip("/")}],
        "paths": paths,
        "components": components,
    }


def _components(app: Flask) -> dict:
    components = copy.deepcopy(COMPONENTS)
    for blueprint in app.blueprints.values():
        for section, entries in getattr(blueprint, "openapi_components", {}).items():
            components.setdefault(section, {}).update(copy.deepcopy(entries))
    return components


def openapi_path(rule: Rule) -> tuple[str, list[dict]]:
    """The OpenAPI path template of a Flask rule and its path parameters."""
    parameters = []
    for match in _VARIABLE.finditer(rule.rule):
        converter = match.group("converter") or "default"
        parameters.append(
            {
                "name": match.group("name"),
                "in": "path",
                "required": True,
                "schema": _converter_schema(converter, match.group("args")),
            }
        )
    return _VARIABLE.sub(lambda m: "{" + m.group("name") + "}", rule.rule), parameters


def _converter_schema(converter: str, args: str | None) -> dict:
    if converter == "int":
        return {"type": "integer"}
    if converter == "float":
        return {"type": "number"}
    if converter == "uuid":
        return {"type": "string", "format": "uuid"}
    if converter == "any" and args:
        return {"type": "string", "enum": [a.strip().strip("'\"") for a in args.split(",")]}
    if converter == "path":
        return {"type": "string"}
    return {"type": "string", "pattern": "^[^/]+$"}


def _operation(
    view: Callable, rule: Rule, method: str, path_parameters: list[dict], components: dict
) -> dict:
    documented = getattr(view, _ATTRIBUTE, {})
    entry: dict[str, Any] = {}
    for key in (_ALL, method):
        entry.update(copy.deepcopy(documented.get(key, {})))
    entry.setdefault("summary", _summary(view, rule))
    entry.setdefault("tags", [rule.endpoint.partition(".")[0]])
    entry.setdefault("responses", {"200": {"description": "OK"}})
    entry["parameters"] = _merge(path_parameters, entry.get("parameters", []), components)
    if not entry["parameters"]:
        del entry["parameters"]
    return entry


def _summary(view: Callable, rule: Rule) -> str:
    doc = (view.__doc__ or "").strip()
    return doc.splitlines()[0] if doc else rule.endpoint


def _merge(generated: list[dict], documented: list[dict], components: dict) -> list[dict]:
    def place(p: dict) -> tuple:
        if "$ref" in p:
            p = components.get("parameters", {}).get(p["$ref"].rpartition("/")[2], {})
        return p.get("name"), p.get("in")

    given = {place(p) for p in documented}
    return [p for p in generated if place(p) not in given] + list(documented)


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}{n}", n + 1
    taken.add(candidate)
    return candidate


def make_openapi_blueprint(title: str, version: str) -> Blueprint:
    """``/api`` and ``/api.html`` of the app this blueprint is registered on."""
    blueprint = Blueprint("openapi", __name__, template_folder="templates")

    def document() -> dict:
        return openapi_document(current_app, request.host_url, title, version)

    @blueprint.get("/api")
    @operation(
        summary="This OpenAPI 3.0 document",
        parameters=[format_parameter(("json", "html"))],
        responses={
            "200": {
                "description": "The API definition",
                "content": {OPENAPI_TYPE: {}, "application/json": {}, "text/html": {}},
            }
        },
        tags=["capabilities"],
    )
    def api():
        chosen = negotiate([OPENAPI_TYPE, "application/json", "text/html"])
        if chosen == "text/html":
            return api_html()
        response = jsonify(document())
        response.mimetype = "application/json"
        if chosen == OPENAPI_TYPE:
            response.headers["Content-Type"] = OPENAPI_TYPE
        return response

    @blueprint.get("/api.html")
    @operation(summary="The API definition as a page", tags=["capabilities"])
    def api_html():
        page = render_template(
            "features/api.html", api=inline_references(document()), schema_text=schema_text
        )
        return Response(page, mimetype="text/html")

    return blueprint


def inline_references(document: dict) -> dict:
    """The document with each operation's parameter and response ``$ref`` replaced by its target,
    for a page that shows them in place."""
    result = copy.deepcopy(document)

    def target(node: dict) -> dict:
        if "$ref" not in node:
            return node
        found: Any = result
        for part in node["$ref"].removeprefix("#/").split("/"):
            found = found.get(part, {}) if isinstance(found, dict) else {}
        return found or node

    for methods in result["paths"].values():
        for entry in methods.values():
            if "parameters" in entry:
                entry["parameters"] = [target(p) for p in entry["parameters"]]
            entry["responses"] = {k: target(v) for k, v in entry.get("responses", {}).items()}
    return result


def schema_text(schema: dict | None) -> str:
    """A JSON schema in a few words: ``integer (1..10000, default 100)``, ``one of a, b``."""
    if not schema:
        return ""
    if "enum" in schema:
        return "one of " + ", ".join(str(v) for v in schema["enum"])
    text = schema.get("type", "")
    if text == "array":
        text = f"array of {schema_text(schema.get('items')) or 'values'}"
    details = []
    if "minimum" in schema or "maximum" in schema:
        details.append(f"{schema.get('minimum', '')}..{schema.get('maximum', '')}")
    if "format" in schema:
        details.append(schema["format"])
    if "default" in schema:
        details.append(f"default {schema['default']}")
    return f"{text} ({', '.join(details)})" if details else text


def negotiate(offered: list[str]) -> str:
    """``?f=json``/``?f=html`` first, else the offer the Accept header prefers (the first on a
    tie, so ``*/*`` and no Accept get ``offered[0]``)."""
    asked = request.args.get("f")
    if asked == "json":
        return "application/json"
    if asked == "html":
        return "text/html"
    return request.accept_mimetypes.best_match(offered, default=offered[0]) or offered[0]


def format_parameter(formats: tuple[str, ...]) -> dict:
    return {
        "name": "f",
        "in": "query",
        "required": False,
        "description": "Response format, instead of the Accept header.",
        "schema": {"type": "string", "enum": list(formats)},
    }
