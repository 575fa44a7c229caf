"""One limit on request bodies for every endpoint, refused with 413 before a byte is read.

Without it a 400 MB POST to the map preview, anonymous, grew a worker from 491 MB to 1.83 GB
while Flask parsed it. Every endpoint takes ``GEOPLATFORM_MAX_BODY_BYTES`` unless its view says
otherwise with ``@accepts_body_up_to(n)`` (feature edits, file uploads). A declared
``Content-Length`` over the limit is refused at once. A chunked body (no length) is read here up
to one byte past the limit and refused when it has that byte; werkzeug alone would cut it off at
the limit without a word, and the view would see a truncated document (a 400 that names the
wrong problem).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TypeVar

from flask import Flask, current_app, request

from geoplatform.errors import PayloadTooLarge

View = TypeVar("View", bound=Callable)
ATTRIBUTE = "max_body_bytes"


def accepts_body_up_to(max_bytes: int) -> Callable[[View], View]:
    """Let a view take bodies up to ``max_bytes`` instead of the global limit."""

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
        request.max_content_length = limit  # Flask 3.1: per request
        length = request.content_length
        if length is not None and length > limit:
            raise PayloadTooLarge(
                f"request body of {length} bytes is over the limit of {limit} bytes"
            )
        if length is None and "chunked" in request.headers.get("Transfer-Encoding", "").lower():
            _bounded_chunked_body(request.environ, limit)


def _bounded_chunked_body(environ: dict, limit: int) -> None:
    # The server ends the chunked stream (wsgi.input_terminated); read at most limit + 1 bytes.
    data = environ["wsgi.input"].read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"request body is over the limit of {limit} bytes")
    environ["wsgi.input"] = io.BytesIO(data)
