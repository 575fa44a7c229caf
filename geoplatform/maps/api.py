"""HTTP of saved maps: list, create, read, replace, delete, their MapLibre style and a viewer,
and the style an unsaved map would have (the studio's preview).

Who may do what: anyone reads public maps; any department's key also reads internal maps (an
internal map is 404 to anonymous callers, as if it did not exist); editors and admins create
maps for their own department and change or delete their department's maps (403 for other
departments), with If-Match naming the map's version (428 without, 412 when stale). Within a
map, only the layers the caller may read are shown, in its JSON and in its style. A preview is
checked as a saved map is (a layer the caller may not read is refused as unknown), so anyone may
ask for one: it shows nothing the caller could not read anyway.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Blueprint, Response, jsonify, render_template, request, url_for

from geoplatform.auth import ADMIN, EDITOR, Principal, can_read, current_principal
from geoplatform.authn import private
from geoplatform.cors import allow_any_origin
from geoplatform.db import transaction
from geoplatform.errors import (
    Forbidden,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
)
from geoplatform.etags import if_match_tags
from geoplatform.features.openapi import described_parameter, operation
from geoplatform.maps import store
from geoplatform.maps.spec import MapSpec, SavedMapBody, parse_map_body, parse_preview_body
from geoplatform.maps.store import SavedMap
from geoplatform.maps.style import BASE_MODULE, build_map_style, check_spec_layers
from geoplatform.registry import Layer, Registry

if TYPE_CHECKING:
    from geoplatform.platform import Platform

_SLUG = described_parameter("slug", "path", "the map's slug")
_IF_MATCH = described_parameter("If-Match", "header", "the map's ETag (its version)")


def make_maps_blueprint(platform: Platform) -> Blueprint:
    registry, engine = platform.registry, platform.engine
    blueprint = Blueprint("maps", __name__, template_folder="templates")

    def visible_map(slug: str) -> SavedMap:
        with engine.connect() as conn:
            saved = store.get_map(conn, slug)
        if saved is None or not _may_see(current_principal(), saved):
            raise NotFound(f"no map {slug!r}")
        return saved

    def checked_body(caller: Principal) -> SavedMapBody:
        """The body, its layers readable by the caller and its filters drawable."""
        body = parse_map_body(request.get_json(silent=True))
        check_spec_layers(body.spec, lambda layer_id: _readable(registry, caller, layer_id))
        return body

    @blueprint.get("/maps")
    @operation(summary="Saved maps the caller may see", tags=["maps"])
    def list_maps():
        caller = current_principal()
        with engine.connect() as conn:
            maps = store.list_maps(conn, include_internal=not caller.is_anonymous)
        payload = {"maps": [_summary(saved) for saved in maps]}
        return _per_caller(jsonify(payload))

    @blueprint.post("/maps")
    @operation(
        summary="Save a map for the caller's department (editor or admin keys)",
        responses={
            "201": {"description": "the map"},
            "400": {"$ref": "#/components/responses/InvalidParameter"},
        },
        tags=["maps"],
    )
    def create_map():
        caller = _editor()
        body = checked_body(caller)
        with transaction(engine) as conn:
            saved = store.create_map(conn, body, caller.department, caller.key_id)
        response = _map_response(saved, registry, caller, 201)
        response.headers["Location"] = url_for("maps.get_map", slug=saved.slug, _external=True)
        return response

    @blueprint.get("/maps/<slug>")
    @operation(summary="A saved map with its spec", parameters=[_SLUG], tags=["maps"])
    def get_map(slug: str):
        return _map_response(visible_map(slug), registry, current_principal(), 200)

    @blueprint.put("/maps/<slug>")
    @operation(
        summary="Replace a saved map (its department's editors; If-Match required)",
        parameters=[_SLUG, _IF_MATCH],
        tags=["maps"],
    )
    def replace_map(slug: str):
        saved, caller = _owned(visible_map(slug))
        version = _required_version()
        body = checked_body(caller)
        with transaction(engine) as conn:
            replaced = store.replace_map(conn, saved.slug, body, version)
        return _map_response(replaced, registry, caller, 200)

    @blueprint.delete("/maps/<slug>")
    @operation(
        summary="Delete a saved map (its department's editors; If-Match required)",
        parameters=[_SLUG, _IF_MATCH],
        tags=["maps"],
    )
    def delete_map(slug: str):
        saved, _caller = _owned(visible_map(slug))
        version = _required_version()
        with transaction(engine) as conn:
            store.delete_map(conn, saved.slug, version)
        return Response(status=204)

    @blueprint.get("/maps/<slug>/style.json")
    @operation(summary="The MapLibre style of a saved map", parameters=[_SLUG], tags=["maps"])
    def map_style(slug: str):
        saved = visible_map(slug)
        style = _style(registry, current_principal(), saved.title, saved.spec)
        return _per_caller(allow_any_origin(jsonify(style)))

    @blueprint.post("/maps/preview/style.json")
    @operation(
        summary="The MapLibre style a map would have, without saving it (the studio's preview)",
        description="The body is `title` (optional) and `spec` as in POST /maps, checked the "
        "same way: every layer readable by the caller, every filter drawable.",
        responses={
            "200": {"description": "the style", "content": {"application/json": {}}},
            "400": {"$ref": "#/components/responses/InvalidParameter"},
        },
        tags=["maps"],
    )
    def preview_style():
        caller = current_principal()
        body = parse_preview_body(request.get_json(silent=True))
        check_spec_layers(body.spec, lambda layer_id: _readable(registry, caller, layer_id))
        return _per_caller(jsonify(_style(registry, caller, body.title, body.spec)))

    @blueprint.get("/m/<slug>")
    @operation(summary="A saved map as a full page", parameters=[_SLUG], tags=["maps"])
    def map_page(slug: str):
        saved = visible_map(slug)
        page = render_template("maps/viewer.html", saved=saved)
        return _per_caller(Response(page, mimetype="text/html"))

    def _owned(saved: SavedMap) -> tuple[SavedMap, Principal]:
        caller = _editor()
        if caller.department != saved.owner_department:
            raise Forbidden(f"map {saved.slug!r} belongs to department {saved.owner_department!r}")
        return saved, caller

    return blueprint


def _editor() -> Principal:
    caller = current_principal()
    if caller.is_anonymous or caller.role not in (EDITOR, ADMIN):
        raise Forbidden("saving maps needs an editor or admin key of a department")
    return caller


def _may_see(caller: Principal, saved: SavedMap) -> bool:
    return saved.is_public or not caller.is_anonymous


def _readable(registry: Registry, caller: Principal, layer_id: str) -> Layer | None:
    if layer_id in registry and can_read(caller, registry.get(layer_id)):
        return registry.get(layer_id)
    return None


def _style(registry: Registry, caller: Principal, title: str, spec: MapSpec) -> dict:
    """The style of ``spec`` as the caller sees it: the layers and base map it may read."""
    drawn = [
        (index, item, registry.get(item.layer))
        for index, item in enumerate(spec.layers)
        if _readable(registry, caller, item.layer)
    ]
    base = [layer for layer in registry if layer.module == BASE_MODULE and can_read(caller, layer)]
    return build_map_style(title, spec, drawn, base, request.host_url)


def _required_version() -> int:
    tags = if_match_tags(request.headers.get("If-Match"))
    if not tags:
        raise PreconditionRequired("send If-Match with the map's ETag")
    for tag in tags:
        digits = tag.strip('"')
        if digits.isdigit():
            return int(digits)
    raise PreconditionFailed("If-Match names no version of this map")


def _summary(saved: SavedMap) -> dict:
    return {
        "slug": saved.slug,
        "title": saved.title,
        "description": saved.description,
        "owner": saved.owner_department,
        "visibility": saved.visibility,
        "updated_at": saved.updated_at.isoformat(),
        "version": saved.version,
    }


def _map_response(saved: SavedMap, registry: Registry, caller: Principal, status: int) -> Response:
    spec = saved.spec.model_dump(mode="json")
    spec["layers"] = [item for item in spec["layers"] if _readable(registry, caller, item["layer"])]
    document = {
        **_summary(saved),
        "created_at": saved.created_at.isoformat(),
        "spec": spec,
        "links": [
            {"rel": "self", "href": url_for("maps.get_map", slug=saved.slug, _external=True)},
            {
                "rel": "stylesheet",
                "type": "application/json",
                "href": url_for("maps.map_style", slug=saved.slug, _external=True),
            },
            {
                "rel": "alternate",
                "type": "text/html",
                "href": url_for("maps.map_page", slug=saved.slug, _external=True),
            },
        ],
    }
    response = jsonify(document)
    response.status_code = status
    response.headers["ETag"] = f'"{saved.version}"'
    return _per_caller(response)


def _per_caller(response: Response) -> Response:
    # What a map shows depends on the key: shared caches must not hand one caller's to another.
    return private(response, "private, max-age=0")
