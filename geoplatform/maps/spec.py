"""The saved-map document: what a caller sends and what is stored, checked by pydantic.

Validation errors become one 400 naming the field as a path (``layers[1].color: ...``); which
layers exist and whether a filter can be drawn is checked against the registry in ``style``.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from geoplatform.bodies import parse_body

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{1,62}$"
HEX_COLOUR_PATTERN = r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$"
Zoom = Annotated[float, Field(ge=0, le=24)]
# Pydantic would quote the regular expression.
_MESSAGES = {
    ("slug", "string_pattern_mismatch"): "lower-case letters, digits and '-', 2 to 63 "
    "characters, not starting with '-'"
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MapLayer(_Strict):
    layer: str = Field(min_length=1)
    visible: bool = True
    color: str
    opacity: float = Field(default=1.0, ge=0, le=1)
    label: str | None = None
    filter: str | None = None
    minzoom: Zoom | None = None
    maxzoom: Zoom | None = None

    @field_validator("color")
    @classmethod
    def _hex_colour(cls, value: str) -> str:
        if not re.match(HEX_COLOUR_PATTERN, value):
            raise ValueError("not a CSS hex colour")
        return value


class View(_Strict):
    center: tuple[Annotated[float, Field(ge=-180, le=180)], Annotated[float, Field(ge=-90, le=90)]]
    zoom: Zoom
    bearing: float = Field(default=0, ge=-360, le=360)
    pitch: float = Field(default=0, ge=0, le=85)


class MapSpec(_Strict):
    layers: list[MapLayer] = Field(min_length=1, max_length=50)
    view: View
    basemap: bool = True


class SavedMapBody(_Strict):
    """The body of POST and PUT /maps."""

    slug: str = Field(pattern=SLUG_PATTERN)
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    visibility: Literal["public", "internal"]
    spec: MapSpec


class PreviewBody(_Strict):
    """The body of POST /maps/preview/style.json: what a map body needs to be drawn."""

    title: str = Field(default="", max_length=200)
    spec: MapSpec


def parse_map_body(document: object) -> SavedMapBody:
    """The body as a SavedMapBody, or a 400 naming each field that is wrong."""
    return parse_body(SavedMapBody, document, _MESSAGES)


def parse_preview_body(document: object) -> PreviewBody:
    """The body as a PreviewBody, or a 400 naming each field as ``parse_map_body`` does."""
    return parse_body(PreviewBody, document, _MESSAGES)
