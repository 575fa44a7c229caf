"""Domain exceptions and the one table that maps them to HTTP responses."""

from __future__ import annotations

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException


class PlatformError(Exception):
    """Base of the errors a service raises for a caller's mistake."""


class NotFound(PlatformError):
    """The thing does not exist or the caller may not know it exists."""


class InvalidParameter(PlatformError):
    """A query parameter or body is malformed."""


STATUS_CODES: dict[type[PlatformError], tuple[int, str]] = {
    NotFound: (404, "NotFound"),
    InvalidParameter: (400, "InvalidParameterValue"),
}


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(PlatformError)
    def platform_error(exc: PlatformError):
        status, code = STATUS_CODES.get(type(exc), (400, "BadRequest"))
        return jsonify(code=code, description=str(exc)), status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return jsonify(code=exc.name.replace(" ", ""), description=exc.description), exc.code
