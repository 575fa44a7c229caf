"""The platform without the web: settings, engine, modules and the checked registry.

Commands (loading, seeding, exports) need it as much as the app does; it lives apart from the
app factory so that a service's commands can build it without importing every blueprint.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic_settings import BaseSettings
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from geoplatform.circuit import DatabaseCircuit
from geoplatform.config import Settings
from geoplatform.db import make_engine
from geoplatform.modules import (
    Module,
    ModuleError,
    Service,
    build_registry,
    check_departments,
    check_modules,
    load_modules,
    load_services,
)
from geoplatform.notifications import Notifications
from geoplatform.reads import PurposeReads, ReadPool
from geoplatform.registry import Registry

T = TypeVar("T")


@dataclass(frozen=True)
class Platform:
    """What every blueprint may need, attached to the app as ``app.extensions['geoplatform']``."""

    settings: Settings
    engine: Engine
    registry: Registry
    # In load order: each after what it requires.
    modules: tuple[Module, ...]
    circuit: DatabaseCircuit
    services: tuple[Service, ...] = ()
    module_settings: Mapping[str, BaseSettings] = field(default_factory=dict)
    # What close() releases besides the engine (pools, listeners), newest first.
    _closers: list[Callable[[], None]] = field(default_factory=list, repr=False, compare=False)
    _shared: dict[str, object] = field(default_factory=dict, repr=False, compare=False)
    _shared_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def read_pool(self, name: str, session: Mapping[str, str] | None = None) -> PurposeReads:
        """Autocommit reads of one kind (``session``: its own settings) over the worker's one
        read pool, which has the request timeouts and the circuit."""
        return self.shared("read_pool", self._open_read_pool).for_purpose(name, session)

    def _open_read_pool(self) -> ReadPool:
        settings = self.settings
        pool = ReadPool(
            settings.libpq_url,
            settings.db_pool_size,
            "geoplatform-reads",
            settings.request_session,
            circuit=self.circuit,
            timeout=settings.db_pool_timeout,
        )
        self.on_close(pool.close)
        return pool

    @property
    def notifications(self) -> Notifications:
        """The process's one LISTEN connection, for every channel (layer versions, live pushes)."""
        return self.shared("notifications", self._open_notifications)

    def _open_notifications(self) -> Notifications:
        hub = Notifications(self.settings.libpq_url)
        self.on_close(hub.close)
        return hub

    def module(self, name: str) -> Module:
        for module in self.modules:
            if module.name == name:
                return module
        raise KeyError(name)

    def settings_of(self, name: str) -> BaseSettings:
        """A module's own typed settings (GEOPLATFORM_<NAME>_*)."""
        return self.module_settings[name]

    def shared(self, key: str, factory: Callable[[], T]) -> T:
        """One object per platform under ``key`` (a module's cache of graphs, say), made on
        first use: shared by the module's routes and analyses, never hung on a blueprint."""
        with self._shared_lock:
            if key not in self._shared:
                self._shared[key] = factory()
            return self._shared[key]  # type: ignore[return-value]

    def on_close(self, closer: Callable[[], None]) -> None:
        self._closers.append(closer)

    def close(self) -> None:
        """Release every connection the platform and its services opened."""
        while self._closers:
            self._closers.pop()()
        self.engine.dispose()


def create_platform(settings: Settings, *, validate: bool = True) -> Platform:
    """Settings -> engine, modules and the registry, checked against the live schema."""
    modules = load_modules(settings.modules)
    check_modules(modules)
    services = load_services(settings.services)
    registry = build_registry(modules)
    module_settings = {m.name: m.settings() for m in modules if m.settings is not None}
    circuit = DatabaseCircuit(
        settings.libpq_url,
        retry_seconds=settings.db_retry_seconds,
        connect_timeout=settings.db_connect_timeout,
    )
    engine = make_engine(settings, circuit=circuit)
    if validate:
        try:
            registry.validate_or_raise(engine, settings.on_invalid_layer)
            check_departments(modules, _existing_departments(engine))
        except Exception:
            engine.dispose()
            raise
    return Platform(
        settings, engine, registry, tuple(modules), circuit, tuple(services), module_settings
    )


def _existing_departments(engine: Engine) -> set[str]:
    try:
        with engine.connect() as conn:
            return set(conn.execute(text("SELECT code FROM platform.departments")).scalars())
    except SQLAlchemyError as exc:
        raise ModuleError(f"cannot read platform.departments: {exc.__class__.__name__}") from exc
