"""``/auth/whoami``: who the API takes the caller for, so a page can greet the key it holds.

The authentication hook has already refused a key that is malformed, unknown or revoked (401),
so a request that reaches the endpoint is either anonymous (all nulls) or a department's key.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, jsonify
from sqlalchemy import Engine

from geoplatform.auth import Principal
from geoplatform.authn import private
from geoplatform.features.openapi import operation
from geoplatform.keys import find_department

_NULLABLE_STRING = {"type": "string", "nullable": True}
_WHOAMI_SCHEMA = {
    "type": "object",
    "required": ["department", "department_name_zh", "department_name_en", "role"],
    "properties": {
        "department": _NULLABLE_STRING,
        "department_name_zh": _NULLABLE_STRING,
        "department_name_en": _NULLABLE_STRING,
        "role": {"type": "string", "enum": ["viewer", "editor", "admin"], "nullable": True},
    },
}


def make_whoami_blueprint(engine: Engine, principal: Callable[[], Principal]) -> Blueprint:
    blueprint = Blueprint("whoami", __name__)

    @blueprint.get("/auth/whoami")
    @operation(
        summary="The caller: its department (code and names) and role; nulls when anonymous",
        responses={
            "200": {
                "description": "the caller",
                "content": {"application/json": {"schema": _WHOAMI_SCHEMA}},
            },
            "401": {
                "description": "the key is malformed, unknown or revoked",
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Exception"}}
                },
            },
        },
        tags=["capabilities"],
    )
    def whoami():
        caller = principal()
        department = None
        if not caller.is_anonymous:
            with engine.connect() as conn:
                department = find_department(conn, caller.department)
        response = jsonify(
            department=caller.department,
            department_name_zh=department.name_zh if department else None,
            department_name_en=department.name_en if department else None,
            role=caller.role,
        )
        # The answer is the caller itself: no cache may keep it, let alone hand it to another key.
        return private(response)

    return blueprint
