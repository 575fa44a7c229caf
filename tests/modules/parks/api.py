"""The parks module's routes: a page and a count."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template
from sqlalchemy import text

from geoplatform.features.openapi import operation


def make_blueprint(platform) -> Blueprint:
    blueprint = Blueprint("parks", __name__, template_folder="templates")

    def count() -> int:
        with platform.engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM parks.parks")).scalar_one()

    @blueprint.get("/")
    @operation(summary="The parks page", tags=["parks"])
    def index():
        return render_template("parks/index.html", count=count())

    @blueprint.get("/count")
    @operation(summary="How many parks there are", tags=["parks"])
    def park_count():
        return jsonify(parks=count())

    return blueprint
