"""Cross-origin reads: map clients on other origins load our tiles, styles, glyphs and scripts.

GETs of those resources answer any origin (they carry no cookies; a key travels in a header the
caller sets). A browser asks before sending X-API-Key from another origin (a preflight); that is
answered for GET only, so every method that changes something stays same-origin.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, request

KEY_HEADERS = "X-API-Key, Authorization"
PREFLIGHT_MAX_AGE = 600


def any_origin_headers(expose: tuple[str, ...] = ()) -> dict[str, str]:
    """The headers that let any origin read a response (and the ``expose`` headers of it)."""
    headers = {"Access-Control-Allow-Origin": "*"}
    if expose:
        headers["Access-Control-Expose-Headers"] = ", ".join(expose)
    return headers


def allow_any_origin(response: Response, expose: tuple[str, ...] = ()) -> Response:
    response.headers.update(any_origin_headers(expose))
    return response


def open_blueprint(blueprint: Blueprint, expose: tuple[str, ...] = ()) -> None:
    """Every response of the blueprint may be read from any origin."""
    blueprint.after_request(lambda response: allow_any_origin(response, expose))


def install_preflight(app: Flask) -> None:
    @app.after_request
    def answer_get_preflight(response: Response) -> Response:
        if (
            request.method == "OPTIONS"
            and request.headers.get("Access-Control-Request-Method") == "GET"
        ):
            allow_any_origin(response)
            response.headers["Access-Control-Allow-Methods"] = "GET"
            response.headers["Access-Control-Allow-Headers"] = KEY_HEADERS
            response.headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE)
        return response
