"""The module contract: a thematic module hands the core everything it adds in one object.

A thematic module (base, pipeline, land, grid, emergency, one a department writes later) is a
package with ``MODULE = Module(...)``, found by name through the ``geoplatform.modules`` entry
points (or, for a dotted name, imported from that package path: a module kept elsewhere, the
tests' fixture modules). The core iterates over the enabled modules and never names one.

A service (the tile server) adds endpoints across every module's layers instead of under a name
of its own; it is a ``Service`` found through ``geoplatform.services``.

``check_modules`` holds the rules that need no database; ``register_blueprint`` and
``check_pages`` need the app; the platform checks departments against the database.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from flask import Blueprint
from pydantic_settings import BaseSettings
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection

from geoplatform.keys import Department
from geoplatform.registry import INTERNAL, PUBLIC, Layer, Registry

if TYPE_CHECKING:
    from flask import Flask

    from geoplatform.analyses import Analysis

MODULE_GROUP = "geoplatform.modules"
SERVICE_GROUP = "geoplatform.services"


class ModuleError(Exception):
    """A configured module cannot be imported, or breaks the contract (the message names the
    module and the field)."""


@dataclass(frozen=True)
class Page:
    """An entry of the site's menu: a page of the module, by its Flask endpoint."""

    title_zh: str
    title_en: str
    endpoint: str


class DemoError(Exception):
    """A module's demo cannot be loaded (its message says what to do first)."""


# progress(stage, done, total): what a demo loader reports while it works.
DemoProgress = Callable[[str, int, int], None]


def _no_progress(stage: str, done: int, total: int) -> None:
    pass


def run_demos(
    platform: Any,
    names: Iterable[str] = (),
    reporting: Callable[[Module], AbstractContextManager[DemoProgress]] | None = None,
) -> Iterator[tuple[Module, Any]]:
    """Each enabled module's demo (only those of ``names`` when given) in load order, as
    `geoplatform demo` runs them, yielding the module and its summary as each finishes.
    ``reporting(module)`` gives the progress callback of that module's run."""
    wanted = set(names)
    for module in platform.modules:
        if module.demo is None or (wanted and module.name not in wanted):
            continue
        with (reporting or (lambda _module: nullcontext(_no_progress)))(module) as progress:
            summary = module.demo(platform, progress)
        yield module, summary


@dataclass(frozen=True, kw_only=True)
class Module:
    name: str
    title_zh: str
    title_en: str
    # Modules loaded (and their demos run) before this one.
    requires: tuple[str, ...] = ("base",)
    layers: tuple[Layer, ...] = ()
    # The module's tables; their schema is the module's name.
    metadata: MetaData | None = None
    # The module's own Alembic branch (branch label = name), beside the core's history.
    migrations: Path | None = None
    # Synced into platform.departments on `db upgrade`.
    departments: tuple[Department, ...] = ()
    # Typed settings read from GEOPLATFORM_<NAME>_*; the instance is platform.settings_of(name).
    settings: type[BaseSettings] | None = None
    # make_blueprint(platform) -> Blueprint, registered under /{name}.
    blueprint: Callable[..., Blueprint] | None = None
    cli: click.Group | None = None
    # demo(platform, progress) -> a summary (str or a rich renderable); idempotent.
    demo: Callable[..., Any] | None = None
    # samples(conn): a few rows per layer near the demo centre, for the access tests.
    samples: Callable[[Connection], None] | None = None
    pages: tuple[Page, ...] = ()
    conformance: tuple[str, ...] = ()
    # Questions asked of the data, mounted, documented and gated by the core (analyses.py).
    analyses: tuple[Analysis, ...] = ()

    @property
    def env_prefix(self) -> str:
        return f"GEOPLATFORM_{self.name.upper()}_"


@dataclass(frozen=True, kw_only=True)
class Service:
    """Endpoints over every module's layers (tiles, styles, rasters) with commands of its own."""

    name: str
    # Factories called with the Platform, each returning a Blueprint.
    blueprints: tuple[Callable[..., Blueprint], ...] = ()
    commands: tuple[click.Command, ...] = field(default=())
    # Extra links for each collection document (the tile service links its tilesets).
    collection_links: Callable[..., list[dict]] | None = None
    # Factories called with the finished Flask app and the Platform, each returning a WSGI app
    # that answers some requests itself and hands the rest to ``app.wsgi_app`` (hot paths that
    # must not pay for the framework).
    fronts: tuple[Callable[..., Callable], ...] = ()
    conformance: tuple[str, ...] = ()


def installed_names(group: str = MODULE_GROUP) -> list[str]:
    """The names of the installed modules (or services), as their entry points declare them."""
    return sorted(ep.name for ep in entry_points(group=group))


def _resolve(name: str, group: str, attribute: str) -> object:
    if "." in name:
        # A dotted name is a package path of its own (a department's module kept elsewhere).
        try:
            package = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is None or not name.startswith(exc.name):
                raise  # the package is there; something it imports is not
            raise ModuleError(f"module {name!r} is enabled but {name} is missing") from exc
        if not hasattr(package, attribute):
            raise ModuleError(f"{name} must define {attribute} = ...")
        return getattr(package, attribute)
    found = [ep for ep in entry_points(group=group) if ep.name == name]
    if not found:
        installed = ", ".join(installed_names(group)) or "none"
        raise ModuleError(
            f"{name!r} is enabled but no {group} entry point names it (installed: {installed})"
        )
    return found[0].load()


def load_modules(names: Iterable[str]) -> list[Module]:
    """The enabled modules in load order: each after every module it requires."""
    modules = []
    for name in names:
        module = _resolve(name, MODULE_GROUP, "MODULE")
        if not isinstance(module, Module):
            raise ModuleError(f"{name}: MODULE must be a geoplatform.modules.Module")
        modules.append(module)
    return in_load_order(modules)


def load_services(names: Iterable[str]) -> list[Service]:
    services = []
    for name in names:
        service = _resolve(name, SERVICE_GROUP, "SERVICE")
        if not isinstance(service, Service):
            raise ModuleError(f"{name}: SERVICE must be a geoplatform.modules.Service")
        services.append(service)
    return services


def in_load_order(modules: Sequence[Module]) -> list[Module]:
    """Sorted so that each module comes after what it requires; refuses a missing or circular
    requirement, naming the module."""
    by_name: dict[str, Module] = {}
    for module in modules:
        if module.name in by_name:
            raise ModuleError(f"module {module.name}: enabled twice")
        by_name[module.name] = module
    for module in modules:
        for required in module.requires:
            if required not in by_name:
                raise ModuleError(
                    f"module {module.name}: requires {required!r}, which is not enabled"
                )
    ordered: list[Module] = []
    visiting: set[str] = set()

    def visit(module: Module) -> None:
        if module in ordered:
            return
        if module.name in visiting:
            raise ModuleError(f"module {module.name}: requires form a cycle")
        visiting.add(module.name)
        for required in module.requires:
            visit(by_name[required])
        visiting.discard(module.name)
        ordered.append(module)

    for module in modules:
        visit(module)
    return ordered


def check_modules(modules: Sequence[Module]) -> None:
    """The contract's rules that need neither the database nor the app."""
    for module in modules:
        where = f"module {module.name}"
        if not module.name.isidentifier() or not module.name.islower():
            raise ModuleError(f"{where}: name must be a lower-case identifier")
        if module.metadata is not None and module.metadata.schema != module.name:
            raise ModuleError(
                f"{where}: metadata.schema is {module.metadata.schema!r}, "
                f"must be the module's name {module.name!r}"
            )
        for table in module.metadata.tables.values() if module.metadata is not None else ():
            if table.schema != module.name:
                raise ModuleError(
                    f"{where}: table {table.fullname} is outside schema {module.name}"
                )
        if module.migrations is not None and not Path(module.migrations).is_dir():
            raise ModuleError(f"{where}: migrations {module.migrations} is not a directory")
        ids = [analysis.id for analysis in module.analyses]
        for twice in sorted({i for i in ids if ids.count(i) > 1}):
            raise ModuleError(f"{where}: analysis id {twice!r} is declared twice")
        for analysis in module.analyses:
            if not analysis.layers:
                raise ModuleError(f"{where}: analysis {analysis.id} names no layers")
        if module.settings is not None:
            prefix = module.settings.model_config.get("env_prefix", "")
            if prefix.upper() != module.env_prefix:
                raise ModuleError(
                    f"{where}: settings env_prefix is {prefix!r}, must be {module.env_prefix!r}"
                )


def named_departments(modules: Iterable[Module]) -> dict[str, str]:
    """Every department code a layer names in ``access`` or ``editable_by``, with who names it."""
    named: dict[str, str] = {}
    for module in modules:
        for layer in module.layers:
            access = layer.access if layer.access not in (PUBLIC, INTERNAL) else frozenset()
            for code in sorted({*access, *layer.editable_by}):
                named.setdefault(code, f"module {module.name}: layer {layer.id}")
    return named


def check_departments(modules: Sequence[Module], existing: set[str]) -> None:
    """Refuses a layer that names a department nobody has: it would be readable by nobody."""
    known = existing | {d.code for m in modules for d in m.departments}
    for code, where in named_departments(modules).items():
        if code not in known:
            raise ModuleError(
                f"{where} names department {code!r}, which does not exist "
                f"(known: {', '.join(sorted(known))})"
            )


def register_blueprint(app: Flask, module: Module, blueprint: Blueprint) -> None:
    """Registers the module's blueprint under /{name}, refusing any route it adds elsewhere
    (a rule added straight to the app from a deferred function included)."""
    prefix = f"/{module.name}"
    before = {rule.rule for rule in app.url_map.iter_rules()}
    app.register_blueprint(blueprint, url_prefix=prefix)
    for rule in app.url_map.iter_rules():
        if rule.rule in before:
            continue
        if rule.rule != prefix and not rule.rule.startswith(prefix + "/"):
            raise ModuleError(f"module {module.name}: route {rule.rule} is outside {prefix}")


def check_pages(app: Flask, modules: Sequence[Module]) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    for module in modules:
        for page in module.pages:
            if page.endpoint not in endpoints:
                raise ModuleError(
                    f"module {module.name}: page {page.title_en!r} names endpoint "
                    f"{page.endpoint!r}, which no route serves"
                )


def build_registry(modules: Iterable[Module]) -> Registry:
    registry = Registry()
    for module in modules:
        for layer in module.layers:
            if layer.module != module.name:
                raise ModuleError(f"module {module.name} declares {layer.id} outside its namespace")
            registry.register(layer)
    return registry
