"""Authentication: every request's API key becomes ``g.principal`` before any endpoint runs.

No credentials means anonymous. Credentials that are present but not valid are refused with 401,
never treated as anonymous: a client with a mistyped or revoked key must find out, not quietly
get the public view.
"""

from __future__ import annotations

from flask import Flask, Response, g, request
from flask_limiter.util import get_remote_address
from werkzeug.datastructures import Headers

from geoplatform.auth import ANONYMOUS
from geoplatform.auth_failures import FailedAuthentications
from geoplatform.errors import TooManyRequests, Unauthorized
from geoplatform.keys import KeyAuthenticator, hash_key, is_well_formed

# RFC 9110 §11.6.1 requires the challenge on every 401; RFC 6750 names the Bearer scheme.
CHALLENGE = 'Bearer realm="geoplatform"'
# The headers a key comes in, and so what decides the caller.
CREDENTIAL_HEADERS = ("Authorization", "X-API-Key")


def install_authentication(
    app: Flask, authenticator: KeyAuthenticator, failures: FailedAuthentications | None = None
) -> None:
    """Resolve the caller before every request (register before anything that needs the caller)."""

    @app.before_request
    def authenticate_request() -> None:
        key = presented_key(request.headers)
        if key is None:
            g.principal = ANONYMOUS
            return
        address = get_remote_address()
        if failures is not None and failures.blocked(address):
            raise TooManyRequests(
                f"too many failed authentications from {address} "
                f"(more than {failures.limit} a {failures.window} s); try again later",
                failures.retry_after(),
            )
        if not is_well_formed(key):
            _failed(address, hash_key(key))
            raise Unauthorized("malformed API key")
        digest = hash_key(key)
        known_bad = failures is not None and failures.recently_failed(digest)
        principal = None if known_bad else authenticator.authenticate(key)
        if principal is None:
            _failed(address, digest)
            raise Unauthorized("unknown or revoked API key")
        g.principal = principal

    def _failed(address: str, digest: str) -> None:
        if failures is not None:
            failures.failed(address, digest)

    @app.after_request
    def challenge(response: Response) -> Response:
        if response.status_code == 401:
            response.headers.setdefault("WWW-Authenticate", CHALLENGE)
        return response

    @app.after_request
    def vary_on_credentials(response: Response) -> Response:
        # The caller decides most answers (which layers exist, what their features are). An
        # answer whose endpoint did not say how it may be cached must not be handed by a shared
        # cache to a caller with other credentials; X-API-Key, unlike Authorization, does not
        # keep a response out of shared caches by itself (RFC 9111 §3.5).
        # Vary alone leaves a cache free to keep it; private keeps it out of shared caches, and
        # no-cache makes a browser ask again (the caller's key may have been revoked).
        if "Cache-Control" not in response.headers:
            response.vary.update(CREDENTIAL_HEADERS)
            response.headers["Cache-Control"] = "private, no-cache"
        return response


def private(response: Response, cache_control: str = "private, no-store") -> Response:
    """Mark an answer that depends on who asks: ``cache_control`` (never ``public``) and a
    ``Vary`` on the credential headers, so no cache hands it to a caller with another key."""
    response.headers["Cache-Control"] = cache_control
    response.vary.update(CREDENTIAL_HEADERS)
    return response


def named_layers_caching(public: bool, max_age: int, vary: tuple[str, ...] = ()) -> dict[str, str]:
    """Cache-Control and Vary of an answer about the layers its URL names (a tile): the same for
    everyone when they are all public; otherwise private to the caller and varying on its
    credentials. ``vary``: what else the answer varies on (Accept-Encoding)."""
    headers = {"Cache-Control": f"{'public' if public else 'private'}, max-age={max_age}"}
    varies = vary if public else (*vary, *CREDENTIAL_HEADERS)
    if varies:
        headers["Vary"] = ", ".join(varies)
    return headers


def presented_key(headers: Headers) -> str | None:
    """The key from ``Authorization: Bearer`` or ``X-API-Key``; None when neither is sent."""
    bearer = _bearer_token(headers.get("Authorization"))
    api_key = headers.get("X-API-Key")
    if api_key is not None:
        api_key = api_key.strip()
        if bearer is not None and bearer != api_key:
            raise Unauthorized("Authorization and X-API-Key carry different keys")
    return bearer if bearer is not None else api_key


def _bearer_token(authorization: str | None) -> str | None:
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise Unauthorized("the Authorization header must be 'Bearer <API key>'")
    return token.strip()
