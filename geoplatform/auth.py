"""Who is calling and what they may read: the one permission gate every endpoint goes through."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import g

from geoplatform.errors import NotFound
from geoplatform.registry import INTERNAL, PUBLIC, Layer, Registry

VIEWER = "viewer"
EDITOR = "editor"
ADMIN = "admin"
ROLES = (VIEWER, EDITOR, ADMIN)


@dataclass(frozen=True)
class Principal:
    """The caller: anonymous (no department) or a department's key with a role."""

    department: str | None = None
    role: str | None = None
    key_id: int | None = None
    # A prefix of the key's SHA-256: names the key across deployments (ids repeat in each).
    key_fingerprint: str | None = field(default=None, compare=False)

    @property
    def is_anonymous(self) -> bool:
        return self.department is None

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN


ANONYMOUS = Principal()


def can_read(principal: Principal, layer: Layer) -> bool:
    return may_access(principal, layer.access)


def may_access(principal: Principal, access: str | frozenset[str]) -> bool:
    """The rule for anything with an access level (a layer, a raster): public, internal, or
    the named departments."""
    if access == PUBLIC:
        return True
    if principal.is_anonymous:
        return False
    if access == INTERNAL:
        return True
    return principal.department in access


def can_edit(principal: Principal, layer: Layer) -> bool:
    """Editors and admins of a department the layer names in ``editable_by``."""
    return (
        principal.role in (EDITOR, ADMIN)
        and principal.department in layer.editable_by
        and can_read(principal, layer)
    )


def current_principal() -> Principal:
    """The principal of the current request (set by the authentication hook, else anonymous)."""
    return g.get("principal", ANONYMOUS)


def readable_layers(registry: Registry, principal: Principal) -> list[Layer]:
    return [layer for layer in registry if can_read(principal, layer)]


def readable_layer(registry: Registry, principal: Principal, layer_id: str) -> Layer:
    """The layer if the caller may read it; NotFound otherwise, so its existence is not revealed."""
    if layer_id in registry:
        layer = registry.get(layer_id)
        if can_read(principal, layer):
            return layer
    raise NotFound(f"no collection {layer_id!r}")
