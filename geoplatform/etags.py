"""What the entity tags of conditional requests name (RFC 9110, 13.1), for every endpoint.

If-Match guards a change, so it compares strongly: a weak tag never matches. If-None-Match only
saves sending a representation again, so it compares weakly (``W/"x"`` names ``"x"``), and ``*``
names whatever representation is current.
"""

from __future__ import annotations


def if_match_tags(header: str | None) -> set[str]:
    """The quoted tags an If-Match header names ('*' included as is); weak tags never match."""
    return {part for part in _parts(header) if part.startswith(('"', "*"))}


def none_match(header: str | None, etag: str) -> bool:
    """Whether an If-None-Match header names the representation whose ETag is ``etag``."""
    tags = {part.removeprefix("W/") for part in _parts(header)}
    return "*" in tags or etag.removeprefix("W/") in tags


def _parts(header: str | None) -> list[str]:
    return [part for part in (raw.strip() for raw in (header or "").split(",")) if part]
