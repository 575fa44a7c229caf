"""Saved maps in ``platform.saved_maps``: one function per statement, versions for If-Match."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select
from sqlalchemy.exc import IntegrityError

from geoplatform.errors import InvalidParameter, NotFound, PreconditionFailed
from geoplatform.maps.spec import MapSpec, SavedMapBody
from geoplatform.models import saved_maps


@dataclass(frozen=True)
class SavedMap:
    slug: str
    title: str
    description: str
    owner_department: str
    visibility: str
    spec: MapSpec
    created_at: datetime
    updated_at: datetime
    created_by: int | None
    version: int

    @property
    def is_public(self) -> bool:
        return self.visibility == "public"


def list_maps(conn: Connection, *, include_internal: bool) -> list[SavedMap]:
    query = select(saved_maps).order_by(saved_maps.c.slug)
    if not include_internal:
        query = query.where(saved_maps.c.visibility == "public")
    return [_saved_map(row) for row in conn.execute(query).mappings()]


def get_map(conn: Connection, slug: str) -> SavedMap | None:
    row = conn.execute(select(saved_maps).where(saved_maps.c.slug == slug)).mappings().first()
    return _saved_map(row) if row else None


def create_map(
    conn: Connection, body: SavedMapBody, department: str, key_id: int | None
) -> SavedMap:
    statement = (
        saved_maps.insert()
        .values(**_columns(body), owner_department=department, created_by=key_id)
        .returning(saved_maps)
    )
    try:
        # A savepoint, so that a taken slug leaves the caller's transaction usable.
        with conn.begin_nested():
            row = conn.execute(statement).mappings().one()
    except IntegrityError:
        raise InvalidParameter(f"slug: a map {body.slug!r} already exists") from None
    return _saved_map(row)


def replace_map(conn: Connection, slug: str, body: SavedMapBody, version: int) -> SavedMap:
    """The map replaced by ``body`` if its version is still ``version``; 412 otherwise."""
    if body.slug != slug:
        raise InvalidParameter(f"slug: {body.slug!r} differs from the map's slug {slug!r}")
    row = (
        conn.execute(
            saved_maps.update()
            .where(saved_maps.c.slug == slug, saved_maps.c.version == version)
            .values(**_columns(body), updated_at=func.now(), version=saved_maps.c.version + 1)
            .returning(saved_maps)
        )
        .mappings()
        .first()
    )
    if row is None:
        raise _stale_or_gone(conn, slug)
    return _saved_map(row)


def delete_map(conn: Connection, slug: str, version: int) -> None:
    deleted = conn.execute(
        saved_maps.delete().where(saved_maps.c.slug == slug, saved_maps.c.version == version)
    )
    if deleted.rowcount == 0:
        raise _stale_or_gone(conn, slug)


def _stale_or_gone(conn: Connection, slug: str) -> Exception:
    current = get_map(conn, slug)
    if current is None:
        return NotFound(f"no map {slug!r}")
    return PreconditionFailed(f"map {slug!r} is at version {current.version}; fetch it again")


def _columns(body: SavedMapBody) -> dict:
    return {
        "slug": body.slug,
        "title": body.title,
        "description": body.description,
        "visibility": body.visibility,
        "spec": body.spec.model_dump(mode="json"),
    }


def _saved_map(row) -> SavedMap:
    return SavedMap(
        slug=row["slug"],
        title=row["title"],
        description=row["description"],
        owner_department=row["owner_department"],
        visibility=row["visibility"],
        spec=MapSpec.model_validate(row["spec"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        created_by=row["created_by"],
        version=row["version"],
    )
