"""One limit on request bodies for every endpoint, refused with 413 before a byte is read.

Without it a 400 MB POST to the map preview, anonymous, grew a worker from 491 MB to 1.83 GB
while Flask parsed it. Every endpoint takes ``GEOPLATFORM_MAX_BODY_BYTES`` unless its view says
otherwise with ``@accepts_body_up_to(n)`` (feature edits, file uploads). A declared
``Content-Length`` over the limit is refused at once; a chunked body is cut off by werkzeug when
it passes the limit while being read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Flask, current_app, request

from geoplatform.errors import PayloadTooLarge

View = TypeVar("View", bound=Callable)
ATTRIBUTE = "max_body_bytes"


def accepts_body_up_to(max_bytes: int | Callable[[], int]) -> Callable[[View], View]:
    """Let a view take bodies up to ``max_bytes`` (or what a callable returns, for a limit that
    comes from settings) instead of the global limit."""

    def mark(view: View) -> View:
        setattr(view, ATTRIBUTE, max_bytes)
        return view

    return mark


def install_body_limit(app: Flask, default_bytes: int) -> None:
    """Refuse over-limit bodies before anything else runs (register before authentication)."""

    @app.before_request
    def refuse_large_bodies() -> None:
        view = current_app.view_functions.get(request.endpoint or "")
        limit = getattr(view, ATTRIBUTE, default_bytes)
        if callable(limit):
            limit = limit()
        # Flask 3.1: per request; werkzeug then stops a chunked body at the limit while reading.
        request.max_content_length = limit
        length = request.content_length
        if length is not None and length > limit:
            raise PayloadTooLarge(
                f"request body of {length:,} bytes is over this endpoint's limit of "
                f"{limit:,} bytes"
            )
