"""The parks module's settings, read from GEOPLATFORM_PARKS_*."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ParksSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GEOPLATFORM_PARKS_")

    min_area_m2: float = Field(
        500.0, ge=0, description="Smallest green the demo counts as a park, in square metres."
    )
