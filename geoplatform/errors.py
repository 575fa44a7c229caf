"""Domain exceptions and the one table that maps them to HTTP responses."""

from __future__ import annotations

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException


class PlatformError(Exception):
    """Base of the errors a service raises for a caller's mistake."""


class NotFound(PlatformError):
    """The thing does not exist or the caller may not know it exists."""


class InvalidParameter(PlatformError):
    """A query parameter or body is malformed."""


class Unauthorized(PlatformError):
    """Credentials were sent but are not valid (unknown, revoked or malformed key)."""


class Forbidden(PlatformError):
    """The caller may see the thing but not do this to it (say, a viewer editing)."""


class Conflict(PlatformError):
    """The request does not fit the thing's current state (say, a transition its state does not
    allow)."""


class PreconditionFailed(PlatformError):
    """If-Match names a version that is no longer current."""


class PreconditionRequired(PlatformError):
    """A change was sent without If-Match."""


class PayloadTooLarge(PlatformError):
    """The request body is over the configured limit."""


class UnsupportedMediaType(PlatformError):
    """The request body is not in a format the endpoint accepts."""


class RetryLater(PlatformError):
    """Refused for now; ``retry_after`` seconds later the same request may succeed."""

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TooManyRequests(RetryLater):
    """The caller is over one of its limits."""


class ServiceUnavailable(RetryLater):
    """Something the answer needs is not available now; the caller may retry after a while."""


STATUS_CODES: dict[type[PlatformError], tuple[int, str]] = {
    NotFound: (404, "NotFound"),
    InvalidParameter: (400, "InvalidParameterValue"),
    Unauthorized: (401, "Unauthorized"),
    Forbidden: (403, "Forbidden"),
    Conflict: (409, "Conflict"),
    PreconditionFailed: (412, "PreconditionFailed"),
    PreconditionRequired: (428, "PreconditionRequired"),
    PayloadTooLarge: (413, "PayloadTooLarge"),
    UnsupportedMediaType: (415, "UnsupportedMediaType"),
    TooManyRequests: (429, "TooManyRequests"),
    ServiceUnavailable: (503, "ServiceUnavailable"),
}


def error_response(exc: PlatformError) -> Response:
    # Modules raise their own subclasses (UnknownPipe is a NotFound): the nearest listed
    # ancestor decides the status.
    listed = next((c for c in type(exc).__mro__ if c in STATUS_CODES), None)
    status, code = STATUS_CODES.get(listed, (400, "BadRequest"))
    response = jsonify(code=code, description=str(exc))
    response.status_code = status
    if isinstance(exc, RetryLater):
        response.headers["Retry-After"] = str(exc.retry_after)
        response.headers["Cache-Control"] = "no-store"
    return response


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(PlatformError, error_response)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return jsonify(code=exc.name.replace(" ", ""), description=exc.description), exc.code
