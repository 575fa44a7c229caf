"""Analyses: a question asked of the data (burst isolation, a clearance check, a site review),
declared by a module as data and mounted, documented and gated by the core.

A module declares ``Analysis`` objects in its ``analyses``; the core serves each one under the
module's prefix (``POST /{module}/analyses/{id}`` unless it names its own ``path``), parses the
input with its pydantic model (a 400 names the field), refuses a caller who may read none of the
layers it reads with exactly the answer of an unknown path, runs it through the heavy-work slots,
and renders the result as JSON, GeoJSON or HTML (``?f=`` or ``Accept``). Every answer is private:
it depends on what the caller may read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from flask import Blueprint, Response, jsonify, make_response, request
from pydantic import BaseModel
from werkzeug.exceptions import NotFound as UnknownPath

from geoplatform.auth import Principal, can_read, current_principal
from geoplatform.authn import private
from geoplatform.bodies import parse_body
from geoplatform.errors import InvalidParameter
from geoplatform.features.openapi import operation
from geoplatform.workload import heavy

if TYPE_CHECKING:
    from geoplatform.modules import Module
    from geoplatform.platform import Platform

Format = Literal["json", "geojson", "html", "svg"]
_MEDIA_TYPES: dict[str, str] = {
    "json": "application/json",
    "geojson": "application/geo+json",
    "html": "text/html",
    "svg": "image/svg+xml",
}


class Result(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Run:
    """What a run may use: the platform, and who asked (to read only what they may read)."""

    platform: Platform
    principal: Principal

    def may_read(self, layer_id: str) -> bool:
        registry = self.platform.registry
        return layer_id in registry and can_read(self.principal, registry.get(layer_id))


@dataclass(frozen=True, kw_only=True)
class Analysis:
    id: str
    title_zh: str
    title_en: str
    description: str = ""
    # The body (POST) or the query parameters (GET), validated.
    input: type[BaseModel]
    # The layers it reads: a caller who may read none of them does not see it at all.
    layers: tuple[str, ...]
    run: Callable[[Run, Any], Result]
    # Under the module's prefix; "/analyses/{id}" unless a module keeps an established path.
    path: str | None = None
    method: Literal["GET", "POST"] = "POST"
    # Renderings besides JSON: name -> function of the result returning the document.
    renderings: Mapping[str, Callable[[Any], Any]] | None = None

    @property
    def route(self) -> str:
        return self.path or f"/analyses/{self.id}"

    @property
    def formats(self) -> tuple[str, ...]:
        return ("json", *(self.renderings or {}))


def make_analyses_blueprint(platform: Platform, module: Module) -> Blueprint:
    """The module's analyses as routes, registered under /{module.name} like its blueprint."""
    blueprint = Blueprint(f"{module.name}_analyses", __name__)
    for analysis in module.analyses:
        view = _view(platform, analysis)
        view = heavy()(view)
        view = operation(**_openapi(module, analysis))(view)
        blueprint.add_url_rule(
            analysis.route, f"analysis_{analysis.id}", view, methods=[analysis.method]
        )
    return blueprint


def _view(platform: Platform, analysis: Analysis) -> Callable[..., Response]:
    def view(**path_values: str) -> Response:
        principal = current_principal()
        run = Run(platform, principal)
        if not any(run.may_read(layer_id) for layer_id in analysis.layers):
            # Exactly what an unknown path answers: its existence is not revealed.
            raise UnknownPath()
        chosen = _format(analysis)
        document = _input(analysis)
        if not isinstance(document, dict):
            raise InvalidParameter("the body must be a JSON object")
        # A value in the path (the network of /networks/<network>/profile) is an input too.
        document = {**document, **path_values}
        body = parse_body(analysis.input, document)
        result = analysis.run(run, body)
        return private(make_response(_render(analysis, result, chosen)))

    view.__name__ = f"analysis_{analysis.id}"
    view.__doc__ = analysis.title_en
    return view


def _input(analysis: Analysis) -> Any:
    if analysis.method == "POST":
        return request.get_json(silent=True)
    # Query parameters: one value each, a comma list where the model wants a list.
    document: dict[str, Any] = {}
    fields = analysis.input.model_fields
    for name, value in request.args.items():
        if name == "f" or name not in fields:
            continue
        annotation = str(fields[name].annotation)
        # A list is a comma list; a tuple (a bbox) is left to the model's own parsing.
        listed = "list[" in annotation
        document[name] = value.split(",") if listed else value
    return document


def _format(analysis: Analysis) -> str:
    asked = request.args.get("f")
    if asked is not None:
        if asked not in analysis.formats:
            raise InvalidParameter(f"f must be one of {', '.join(analysis.formats)}, got {asked!r}")
        return asked
    offered = [_MEDIA_TYPES[f] for f in analysis.formats if f in _MEDIA_TYPES]
    best = request.accept_mimetypes.best_match(offered, default="application/json")
    return next(f for f in analysis.formats if _MEDIA_TYPES.get(f) == best)


def _render(analysis: Analysis, result: Result, chosen: str) -> Response:
    if chosen == "json":
        return jsonify(result.to_dict())
    document = (analysis.renderings or {})[chosen](result)
    if isinstance(document, Response):
        return document
    if isinstance(document, dict):
        response = jsonify(document)
        response.mimetype = _MEDIA_TYPES.get(chosen, "application/json")
        return response
    return Response(document, mimetype=_MEDIA_TYPES.get(chosen, "text/plain"))


def _openapi(module: Module, analysis: Analysis) -> dict[str, Any]:
    schema = analysis.input.model_json_schema()
    document: dict[str, Any] = {
        "summary": f"{analysis.title_zh} {analysis.title_en}",
        # Never the layer ids: the document is the same for every caller, hidden layers too.
        "description": analysis.description
        or "Answers 404, as an unknown path, to a caller who may read none of the layers it reads.",
        "tags": [module.name],
        "responses": {
            "200": {
                "description": "the result",
                "content": {_MEDIA_TYPES[f]: {} for f in analysis.formats if f in _MEDIA_TYPES},
            },
            "400": {"$ref": "#/components/responses/InvalidParameter"},
            "404": {"$ref": "#/components/responses/NotFound"},
        },
    }
    if analysis.method == "POST":
        document["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        }
    else:
        in_path = set(re.findall(r"<(?:\w+:)?(\w+)>", analysis.route))
        document["parameters"] = [
            {
                "name": name,
                "in": "query",
                "required": name in schema.get("required", ()),
                "schema": {"type": "string"},
                "description": field.description or "",
            }
            for name, field in analysis.input.model_fields.items()
            if name not in in_path
        ]
    return document
