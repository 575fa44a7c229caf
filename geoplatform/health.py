"""``/healthz``: is the database reachable and its schema at the migrations' head."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy.exc import SQLAlchemyError

from geoplatform import migrate


def make_health_blueprint() -> Blueprint:
    blueprint = Blueprint("health", __name__)

    @blueprint.get("/healthz")
    def healthz():
        engine = current_app.extensions["geoplatform"].engine
        head = migrate.head_revision()
        try:
            current = migrate.current_revision(engine)
        except SQLAlchemyError as exc:
            reason = f"database unreachable: {exc.__class__.__name__}: {str(exc).splitlines()[0]}"
            return jsonify(status="unavailable", reason=reason), 503
        if current != head:
            reason = (
                f"database schema at revision {current}, expected {head}: "
                "run `geoplatform db upgrade`"
            )
            return jsonify(status="unavailable", reason=reason, revision=current, head=head), 503
        return jsonify(status="ok", revision=current)

    return blueprint
