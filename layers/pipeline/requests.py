"""Request bodies and query parameters of the pipeline API, checked before anything runs."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field, model_validator

from geoplatform.bodies import Body, parse_body
from geoplatform.errors import InvalidParameter


class IsolationRequest(BaseModel):
    """A burst on a pipe (by code) or at a point (lon, lat), with valves reported inoperable."""

    model_config = ConfigDict(extra="forbid")

    network: str = Field(min_length=1, max_length=63)
    pipe: str | None = Field(default=None, min_length=1, max_length=100)
    point: tuple[float, float] | None = None
    inoperable_valves: list[str] = Field(default_factory=list, max_length=500)

    @model_validator(mode="after")
    def _one_location(self) -> IsolationRequest:
        if self.pipe is None and self.point is None:
            raise ValueError("give the burst as 'pipe' (a pipe code) or 'point' ([lon, lat])")
        if self.point is not None:
            lon, lat = self.point
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                raise ValueError("point must be [lon, lat] in degrees")
        return self


class MaintenanceRequest(BaseModel):
    """A maintenance record of one pipe or point; the service checks it against the data."""

    model_config = ConfigDict(extra="forbid")

    asset_type: str
    asset_code: str = Field(min_length=1, max_length=100)
    performed_on: date
    kind: str
    description: str = Field(default="", max_length=4000)
    # The column is numeric(12, 2): at most 9,999,999,999.99 yuan.
    cost_yuan: float | None = Field(default=None, ge=0, lt=1e10, allow_inf_nan=False)
    contractor: str | None = Field(default=None, max_length=200)


def parse(model: type[Body], document: object) -> Body:
    """The document as ``model``, or a 400 naming each field that is wrong."""
    if not isinstance(document, dict):
        raise InvalidParameter("the body must be a JSON object")
    return parse_body(model, document)
