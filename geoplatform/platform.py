"""The platform without the web: settings, engine, modules and the checked registry.

Commands (loading, seeding, exports) need it as much as the app does; it lives apart from the
app factory so that a service's commands can build it without importing every blueprint.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from geoplatform.config import Settings
from geoplatform.db import make_engine
from geoplatform.modules import Module, build_registry, load_modules
from geoplatform.registry import Registry


@dataclass(frozen=True)
class Platform:
    """What every blueprint may need, attached to the app as ``app.extensions['geoplatform']``."""

    settings: Settings
    engine: Engine
    registry: Registry
    modules: tuple[Module, ...]


def create_platform(settings: Settings, *, validate: bool = True) -> Platform:
    """Settings -> engine, modules and the registry, checked against the live schema."""
    modules = load_modules(settings.modules) + load_modules(settings.services, prefix="")
    registry = build_registry(modules)
    engine = make_engine(settings)
    if validate:
        try:
            registry.validate_or_raise(engine, settings.on_invalid_layer)
        except Exception:
            engine.dispose()
            raise
    return Platform(settings, engine, registry, tuple(modules))
