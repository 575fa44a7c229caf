"""The platform without the web: settings, engine, modules and the checked registry.

Commands (loading, seeding, exports) need it as much as the app does; it lives apart from the
app factory so that a service's commands can build it without importing every blueprint.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Engine

from geoplatform.circuit import DatabaseCircuit
from geoplatform.config import Settings
from geoplatform.db import make_engine
from geoplatform.modules import Module, build_registry, load_modules
from geoplatform.reads import ReadPool
from geoplatform.registry import Registry


@dataclass(frozen=True)
class Platform:
    """What every blueprint may need, attached to the app as ``app.extensions['geoplatform']``."""

    settings: Settings
    engine: Engine
    registry: Registry
    modules: tuple[Module, ...]
    circuit: DatabaseCircuit

    def read_pool(self, name: str, session: Mapping[str, str] | None = None) -> ReadPool:
        """An autocommit pool for one kind of read, with the request timeouts and the circuit."""
        settings = self.settings
        return ReadPool(
            settings.libpq_url,
            settings.db_pool_size,
            name,
            {**settings.request_session, **(session or {})},
            circuit=self.circuit,
            timeout=settings.db_pool_timeout,
        )


def create_platform(settings: Settings, *, validate: bool = True) -> Platform:
    """Settings -> engine, modules and the registry, checked against the live schema."""
    modules = load_modules(settings.modules) + load_modules(settings.services, prefix="")
    registry = build_registry(modules)
    circuit = DatabaseCircuit(
        settings.libpq_url,
        retry_seconds=settings.db_retry_seconds,
        connect_timeout=settings.db_connect_timeout,
    )
    engine = make_engine(settings, circuit=circuit)
    if validate:
        try:
            registry.validate_or_raise(engine, settings.on_invalid_layer)
        except Exception:
            engine.dispose()
            raise
    return Platform(settings, engine, registry, tuple(modules), circuit)
