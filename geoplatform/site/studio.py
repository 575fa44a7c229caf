"""The map studio: a page where a department's editor assembles and saves a map without code.

The page itself is public; everything it does goes through the API with the key the user types
(kept in the tab's sessionStorage), so the API decides what the key may read and save.
"""

from __future__ import annotations

from flask import Blueprint, render_template

from geoplatform.features.openapi import operation


def add_studio(blueprint: Blueprint) -> None:
    """Route ``/studio`` on the site blueprint."""

    @blueprint.get("/studio")
    @operation(
        summary="The map studio: assemble and save a map without code (a page)", tags=["maps"]
    )
    def studio():
        return render_template("site/studio.html")
