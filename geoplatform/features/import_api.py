"""HTTP of the generic import: ``POST /collections/{id}/imports`` with a file, for the layer's
editors (``geoplatform.imports`` does the work).

The request is ``multipart/form-data``: the file in the field ``file``, and the fields ``mode``
(``append``, the default, or ``replace``), ``crs`` (of a file that declares none), ``force``
(``true`` to replace even if that removes most of the layer), ``source_layer``, ``wkt_column``,
``x_column``, ``y_column``. Bodies up to ``GEOPLATFORM_IMPORT_MAX_BYTES``; werkzeug spools the
file to disk as it parses, and the import reads it from a temporary file of its own.

Answers: 201 with the report (counts: read, refused, repaired, written, before, after; the new
layer version); 422 with the report of the refused rows, or the counts of a refused replace,
nothing changed; 400 for a file that is not one of the formats or cannot be read, or a form
that is not right; the refusals of the gate as the edit API has them: 404 exactly as an
unknown collection for a caller who may not read the layer, 403 for one who may read but not
edit it (or anyone, when no department edits it).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from flask import Blueprint, jsonify, request

from geoplatform.auth import Principal, can_edit, readable_layer
from geoplatform.body_limit import accepts_body_up_to
from geoplatform.errors import Forbidden, InvalidParameter, UnsupportedMediaType
from geoplatform.features.openapi import operation
from geoplatform.imports import (
    ImportOptions,
    ImportRefused,
    UnreadableFile,
    import_file,
    suffix_of,
)
from geoplatform.ingest import ReplacementRefused
from geoplatform.registry import Layer
from geoplatform.request_actor import actor_of
from geoplatform.workload import heavy

if TYPE_CHECKING:
    from geoplatform.platform import Platform

MODES = ("append", "replace")
_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off", "")
_TEXT_FIELDS = ("crs", "source_layer", "wkt_column", "x_column", "y_column")

_OPENAPI = {
    "summary": "Import a file into a collection (all rows or none)",
    "tags": ["edit"],
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "mode": {"type": "string", "enum": list(MODES), "default": "append"},
                        "crs": {"type": "string", "example": "EPSG:4326"},
                        "force": {"type": "boolean", "default": False},
                        **{
                            name: {"type": "string"}
                            for name in ("source_layer", "wkt_column", "x_column", "y_column")
                        },
                    },
                }
            }
        },
    },
    "responses": {
        "201": {"description": "imported; the counts and the report"},
        "400": {"description": "not a supported or readable file, or a malformed form"},
        "403": {"description": "the caller may read the collection but not edit it"},
        "404": {"description": "no such collection, or the caller may not read it"},
        "413": {"description": "over GEOPLATFORM_IMPORT_MAX_BYTES"},
        "422": {"description": "refused: the report lists the refused rows; nothing changed"},
    },
}


def make_import_blueprint(platform: Platform, principal: Callable[[], Principal]) -> Blueprint:
    registry, engine, settings = platform.registry, platform.engine, platform.settings
    blueprint = Blueprint("features_import", __name__)

    @blueprint.errorhandler(ImportRefused)
    def refused(error: ImportRefused):
        body = {"code": "ImportRefused", "description": str(error), **error.report.to_json()}
        return jsonify(body), 422

    @blueprint.errorhandler(ReplacementRefused)
    def replacement_refused(error: ReplacementRefused):
        changes = [{"layer": c.layer, "before": c.before, "after": c.after} for c in error.changes]
        body = {
            "code": "ReplacementRefused",
            "description": f"{error}; nothing was changed (send force=true to replace anyway)",
            "changes": changes,
        }
        return jsonify(body), 422

    @blueprint.errorhandler(UnreadableFile)
    def unreadable(error: UnreadableFile):
        return jsonify(code="InvalidParameterValue", description=f"{error}"), 400

    @blueprint.post("/collections/<layer_id>/imports")
    @accepts_body_up_to(settings.import_max_bytes)
    @heavy()
    @operation(**_OPENAPI)
    def create_import(layer_id: str):
        """Import a file into the collection (its editors only)."""
        caller = principal()
        layer = _importable_layer(registry, caller, layer_id)
        upload = _uploaded_file()
        options = _options(settings.import_max_loss, upload.filename or "upload")
        with tempfile.TemporaryDirectory(prefix="geoplatform-import-") as folder:
            # The temporary name keeps the format's suffix: GDAL tells some formats by it.
            head = upload.stream.read(32)
            upload.stream.seek(0)
            path = Path(folder) / f"upload{suffix_of(options.name or '', head)}"
            upload.save(path)
            result = import_file(engine, registry, layer, path, options, actor=actor_of(caller))
        response = jsonify(result.report.to_json())
        response.status_code = 201
        return response

    return blueprint


def _importable_layer(registry, caller: Principal, layer_id: str) -> Layer:
    layer = readable_layer(registry, caller, layer_id)
    if not can_edit(caller, layer):
        if not layer.editable_by:
            raise Forbidden(f"collection {layer.id!r} is read-only: no department edits it")
        who = "anonymous callers" if caller.is_anonymous else f"{caller.department} {caller.role}s"
        editors = ", ".join(sorted(layer.editable_by))
        raise Forbidden(
            f"{who} may not import into {layer.id}; it takes an editor or admin key of {editors}"
        )
    return layer


def _uploaded_file():
    if request.mimetype != "multipart/form-data":
        sent = request.content_type or "no Content-Type"
        raise UnsupportedMediaType(
            f"{sent} is not accepted here; send multipart/form-data with the file in 'file'"
        )
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise InvalidParameter("send the file in the multipart/form-data field 'file'")
    return upload


def _options(max_loss: float, name: str) -> ImportOptions:
    form = request.form
    mode = form.get("mode", "append").strip() or "append"
    if mode not in MODES:
        raise InvalidParameter(f"mode: expected append or replace, got {mode!r}")
    force = form.get("force", "").strip().lower()
    if force not in _TRUE + _FALSE:
        raise InvalidParameter(f"force: expected true or false, got {force!r}")
    texts = {field: (form.get(field) or "").strip() or None for field in _TEXT_FIELDS}
    return ImportOptions(
        mode=mode,  # type: ignore[arg-type]
        force=force in _TRUE,
        max_loss=max_loss,
        name=Path(name).name,
        **texts,
    )
