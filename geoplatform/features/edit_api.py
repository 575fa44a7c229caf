"""HTTP of feature editing (OGC API – Features Part 4), feature history and the audit log.

Each endpoint parses, authorises through ``geoplatform.auth``, calls ``features.edit`` or
``audit`` and serialises. The order of refusals: a caller who may not read the layer gets 404
(the one gate, ``readable_layer``); a layer nobody may edit (empty ``editable_by``) answers 405
with ``Allow: GET, HEAD``, as the collection does not support the method at all; a reader who may
not edit gets 403. Then 428 (no If-Match), 415 (media type), 413 (size), 400 (body), 404 (no such
feature), 412 (stale If-Match, with the current ETag).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import MethodNotAllowed

from geoplatform import audit
from geoplatform.auth import Principal, can_edit, readable_layer, readable_layers
from geoplatform.body_limit import accepts_body_up_to
from geoplatform.crs import CRS84_URI
from geoplatform.errors import (
    Forbidden,
    InvalidParameter,
    NotFound,
    PreconditionRequired,
    UnsupportedMediaType,
)
from geoplatform.etags import if_match_tags
from geoplatform.features.crs import Crs, CrsResolver
from geoplatform.features.edit import (
    Edited,
    StaleEdit,
    city_projected_srid,
    content_crs,
    create_feature,
    delete_feature,
    feature_exists,
    replace_feature,
    update_feature,
)
from geoplatform.features.validate import (
    feature_for_create,
    feature_for_patch,
    feature_for_replace,
    parse_json,
)
from geoplatform.registry import Layer
from geoplatform.request_actor import actor_of, with_request_id

if TYPE_CHECKING:
    from geoplatform.platform import Platform

GEOJSON = "application/geo+json"
FEATURE_TYPES = (GEOJSON, "application/json")
PATCH_TYPES = ("application/merge-patch+json", GEOJSON)
READ_ONLY = ("GET", "HEAD")
DEFAULT_AUDIT_LIMIT = 100


def make_edit_blueprint(platform: Platform, principal: Callable[[], Principal]) -> Blueprint:
    registry, engine, settings = platform.registry, platform.engine, platform.settings
    blueprint = Blueprint("features_edit", __name__)

    def editable_layer(layer_id: str) -> Layer:
        caller = principal()
        layer = readable_layer(registry, caller, layer_id)
        if not layer.editable_by:
            raise MethodNotAllowed(
                valid_methods=READ_ONLY,
                description=f"collection {layer.id!r} is read-only: no department edits it "
                "through the API",
            )
        if not can_edit(caller, layer):
            raise Forbidden(_may_not_edit(caller, layer))
        return layer

    # As the read side resolves it: the loaded city's CRS first, the setting before any load.
    crs_resolver = CrsResolver(lambda: city_projected_srid(engine) or settings.projected_srid)

    def request_crs() -> Crs:
        return content_crs(request.headers.get("Content-Crs"), crs_resolver)

    def body(accepted: tuple[str, ...]):
        _check_media_type(accepted)
        # Bounded before the view runs: @accepts_body_up_to below (geoplatform.body_limit).
        return parse_json(request.get_data())

    @blueprint.errorhandler(StaleEdit)
    def stale_edit(error: StaleEdit):
        response = jsonify(code="PreconditionFailed", description=str(error))
        response.status_code = 412
        response.headers["ETag"] = error.current_etag
        return with_request_id(response)

    @blueprint.errorhandler(MethodNotAllowed)
    def read_only(error: MethodNotAllowed):
        response = jsonify(code="MethodNotAllowed", description=error.description)
        response.status_code = 405
        response.headers["Allow"] = ", ".join(READ_ONLY)
        return response

    @blueprint.post("/collections/<layer_id>/items")
    @accepts_body_up_to(settings.features_max_body_bytes)
    def create_item(layer_id: str):
        """Add a feature (201 with Location and ETag)."""
        layer = editable_layer(layer_id)
        draft = feature_for_create(layer, body(FEATURE_TYPES))
        edited = create_feature(
            engine, layer, draft, request_crs(), actor_of(principal()), registry.over_table(layer)
        )
        response = _feature_response(edited, 201)
        response.headers["Location"] = (
            f"{request.host_url}collections/{layer.id}/items/{edited.fid}"
        )
        return response

    @blueprint.put("/collections/<layer_id>/items/<feature_id>")
    @accepts_body_up_to(settings.features_max_body_bytes)
    def replace_item(layer_id: str, feature_id: str):
        """Replace a feature: geometry and every property (If-Match required)."""
        layer = editable_layer(layer_id)
        if_match = _required_if_match("replace")
        draft = feature_for_replace(layer, body(FEATURE_TYPES), feature_id)
        edited = replace_feature(
            engine,
            layer,
            feature_id,
            draft,
            if_match,
            request_crs(),
            actor_of(principal()),
            registry.over_table(layer),
        )
        return _feature_response(edited, 200)

    @blueprint.patch("/collections/<layer_id>/items/<feature_id>")
    @accepts_body_up_to(settings.features_max_body_bytes)
    def update_item(layer_id: str, feature_id: str):
        """Change a feature with a JSON merge patch, RFC 7396 (If-Match required)."""
        layer = editable_layer(layer_id)
        if_match = _required_if_match("update")
        patch = feature_for_patch(layer, body(PATCH_TYPES), feature_id)
        edited = update_feature(
            engine,
            layer,
            feature_id,
            patch,
            if_match,
            request_crs(),
            actor_of(principal()),
            registry.over_table(layer),
        )
        return _feature_response(edited, 200)

    @blueprint.delete("/collections/<layer_id>/items/<feature_id>")
    def delete_item(layer_id: str, feature_id: str):
        """Delete a feature (If-Match required; its history stays)."""
        layer = editable_layer(layer_id)
        if_match = _required_if_match("delete")
        delete_feature(
            engine, layer, feature_id, if_match, actor_of(principal()), registry.over_table(layer)
        )
        return with_request_id(Response(status=204))

    @blueprint.get("/collections/<layer_id>/items/<feature_id>/history")
    def item_history(layer_id: str, feature_id: str):
        """The versions of a feature, oldest first, for whoever may read the layer."""
        layer = readable_layer(registry, principal(), layer_id)
        with engine.connect() as conn:
            entries = audit.feature_history(conn, layer.id, feature_id)
        if not entries and not feature_exists(engine, layer, feature_id):
            raise NotFound(f"no feature {feature_id} in collection {layer.id}")
        versions = [
            {
                "version": number,
                "action": entry.action,
                "at": entry.at.isoformat(),
                "department": entry.department,
                "before": entry.before,
                "after": entry.after,
            }
            for number, entry in enumerate(entries, start=1)
        ]
        return jsonify(collection=layer.id, featureId=feature_id, versions=versions)

    @blueprint.get("/audit")
    def audit_log():
        """The audit log of the layers an administrator may read."""
        caller = principal()
        if not caller.is_admin:
            raise Forbidden("the audit log is open to administrators only; send an admin key")
        if request.args.get("layer"):
            layer_ids = [readable_layer(registry, caller, request.args["layer"]).id]
        else:
            layer_ids = [layer.id for layer in readable_layers(registry, caller)]
        limit = _int_arg("limit", DEFAULT_AUDIT_LIMIT, 1, audit.MAX_PAGE)
        with engine.connect() as conn:
            entries = audit.search(
                conn,
                layer_ids,
                since=_datetime_arg("since"),
                until=_datetime_arg("until"),
                after=_int_arg("after", 0, 0, 2**63 - 1),
                limit=limit,
            )
        links = [{"rel": "self", "href": request.url}]
        if len(entries) == limit:
            query = urlencode({**request.args.to_dict(), "after": entries[-1].id})
            links.append({"rel": "next", "href": f"{request.base_url}?{query}"})
        return jsonify(
            entries=[entry.to_json() for entry in entries],
            numberReturned=len(entries),
            links=links,
        )

    return blueprint


def _may_not_edit(caller: Principal, layer: Layer) -> str:
    who = "anonymous callers" if caller.is_anonymous else f"{caller.department} {caller.role}s"
    editors = ", ".join(sorted(layer.editable_by))
    return f"{who} may not edit {layer.id}; it takes an editor or admin key of {editors}"


def _required_if_match(verb: str) -> set[str]:
    header = request.headers.get("If-Match", "")
    if not header.strip():
        raise PreconditionRequired(
            f"If-Match is required to {verb} a feature: send the ETag of the version you read"
        )
    return if_match_tags(header)


def _check_media_type(accepted: tuple[str, ...]) -> None:
    mimetype = request.mimetype
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if mimetype not in accepted or charset not in ("utf-8", "utf8"):
        sent = request.content_type or "no Content-Type"
        raise UnsupportedMediaType(
            f"{sent} is not accepted here; send {' or '.join(accepted)} (UTF-8)"
        )


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"\d{1,19}", raw) or not low <= int(raw) <= high:
        raise InvalidParameter(f"{name}: expected an integer from {low} to {high}, got {raw!r}")
    return int(raw)


def _datetime_arg(name: str) -> datetime | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise InvalidParameter(
            f"{name}: expected an RFC 3339 date-time with a time zone, such as "
            f"2026-11-23T08:00:00Z, got {raw!r}"
        )
    return value


def _feature_response(edited: Edited, status: int) -> Response:
    response = jsonify(edited.feature)
    response.status_code = status
    response.mimetype = GEOJSON
    response.headers["ETag"] = edited.etag
    response.headers["Content-Crs"] = f"<{CRS84_URI}>"
    return with_request_id(response)
