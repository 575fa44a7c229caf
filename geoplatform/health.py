"""``/healthz`` (ready: the database answers at the migrations' heads) and ``/livez`` (the process
serves at all): an orchestrator restarts a worker that is not live and sends no traffic to one
that is not ready."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy.exc import SQLAlchemyError

from geoplatform import migrate
from geoplatform.circuit import DatabaseUnavailable


def make_health_blueprint() -> Blueprint:
    blueprint = Blueprint("health", __name__)
    expected: list[frozenset[str]] = []

    @blueprint.get("/livez")
    def livez():
        # Needs nothing outside the process: a database outage must not get workers restarted.
        return jsonify(status="ok")

    @blueprint.get("/healthz")
    def healthz():
        platform = current_app.extensions["geoplatform"]
        if not expected:
            # Read once: scanning the migration folders takes longer than the check itself.
            expected.append(migrate.head_revisions(platform.settings))
        heads = expected[0]
        retry = {"Retry-After": str(platform.circuit.retry_after), "Cache-Control": "no-store"}
        try:
            current = migrate.current_revisions(platform.engine)
        except DatabaseUnavailable as exc:
            return jsonify(status="unavailable", reason=str(exc)), 503, retry
        except SQLAlchemyError as exc:
            reason = f"database unreachable: {exc.__class__.__name__}: {str(exc).splitlines()[0]}"
            return jsonify(status="unavailable", reason=reason), 503, retry
        if current != heads:
            reason = (
                f"database schema at {_revisions(current)}, expected {_revisions(heads)}: "
                "run `geoplatform db upgrade`"
            )
            return (
                jsonify(
                    status="unavailable",
                    reason=reason,
                    revisions=sorted(current),
                    heads=sorted(heads),
                ),
                503,
            )
        return jsonify(status="ok", revisions=sorted(current)), 200, {"Cache-Control": "no-store"}

    return blueprint


def _revisions(revisions: frozenset[str]) -> str:
    if not revisions:
        return "no revision"
    return ("revision " if len(revisions) == 1 else "revisions ") + ", ".join(sorted(revisions))
