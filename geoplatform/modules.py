"""Thematic modules: each hands its layers, blueprint and commands over in one object.

Modules are listed by name in the settings and imported explicitly from ``layers.<name>``; the
core never imports a module by itself.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

import click
from flask import Blueprint

from geoplatform.registry import Layer, Registry


class ModuleError(Exception):
    """A configured module cannot be imported or does not publish a MODULE."""


@dataclass(frozen=True)
class Module:
    name: str
    layers: tuple[Layer, ...]
    # Factories called with the Platform, each returning a Blueprint.
    blueprints: tuple[Callable[..., Blueprint], ...] = ()
    commands: tuple[click.Command, ...] = field(default=())
    # Extra links for each collection document (the tile service links its tilesets).
    collection_links: Callable[..., list[dict]] | None = None
    # Factories called with the finished Flask app and the Platform, each returning a WSGI app
    # that answers some requests itself and hands the rest to ``app.wsgi_app`` (hot paths that
    # must not pay for the framework).
    fronts: tuple[Callable[..., Callable], ...] = ()


def load_modules(names: list[str], prefix: str = "layers.") -> list[Module]:
    """Import each named package (under ``prefix`` unless dotted) and take its MODULE."""
    modules = []
    for name in names:
        # A dotted name is a package path of its own (a department's module kept elsewhere).
        package_name = name if "." in name else f"{prefix}{name}"
        try:
            package = importlib.import_module(package_name)
        except ModuleNotFoundError as exc:
            raise ModuleError(f"module {name!r} is enabled but {package_name} is missing") from exc
        module = getattr(package, "MODULE", None)
        if not isinstance(module, Module):
            raise ModuleError(f"{package_name} must define MODULE = Module(...)")
        modules.append(module)
    return modules


def build_registry(modules: list[Module]) -> Registry:
    registry = Registry()
    for module in modules:
        for layer in module.layers:
            if layer.module != module.name:
                raise ModuleError(f"module {module.name} declares {layer.id} outside its namespace")
            registry.register(layer)
    return registry
