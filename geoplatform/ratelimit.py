"""Rate limits per API key (and optionally per anonymous IP), counted in Redis across workers.

The counters live in Redis so that every worker on every machine sees the same count. When Redis
does not answer, each worker counts in its own memory until Redis is back: limits get looser for
a while, but the platform keeps serving rather than failing every request with the cache.
"""

from __future__ import annotations

import math
import time

from flask import Flask, Response, jsonify, request
from flask_limiter import ApplicationLimit, Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address
from limits.errors import StorageError

from geoplatform.auth import current_principal
from geoplatform.config import Settings

# Short timeouts: a Redis that hangs must not hold every request for the client's default.
REDIS_OPTIONS = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5, "wrap_exceptions": True}


def install_rate_limits(app: Flask, settings: Settings) -> Limiter:
    """Register the limiter; call after authentication, since limits are counted per key."""
    limiter = Limiter(
        key_func=caller_key,
        application_limits=application_limits(settings),
        storage_uri=settings.redis_url or "memory://",
        storage_options=REDIS_OPTIONS if settings.redis_url else {},
        key_prefix=settings.rate_limit_key_prefix,
        in_memory_fallback_enabled=True,
        swallow_errors=True,
        # Rate-limit headers on every response would cost Redis round trips on every request;
        # only the 429 carries Retry-After.
        headers_enabled=False,
        enabled=settings.rate_limit_enabled,
    )
    limiter.request_filter(_is_health_check)
    limiter.init_app(app)
    if not settings.rate_limit_anonymous:
        _skip_for_anonymous_callers(app, limiter)

    @app.errorhandler(RateLimitExceeded)
    def too_many_requests(exc: RateLimitExceeded) -> Response:
        description = f"rate limit of {exc.description} exceeded; see Retry-After"
        response = jsonify(code="TooManyRequests", description=description)
        response.status_code = 429
        response.headers["Retry-After"] = str(seconds_until_reset(limiter, exc))
        return response

    return limiter


def _skip_for_anonymous_callers(app: Flask, limiter: Limiter) -> None:
    """Without an anonymous limit, let requests without a key bypass the limiter altogether.

    Its check resolves and filters every limit before finding none applies: a tenth of a
    millisecond on each public tile, which is most of a cached tile's time in the application.
    flask-limiter 4 has no switch for this, so its hook is wrapped where it was registered.
    """
    hooks = app.before_request_funcs.setdefault(None, [])
    check = limiter._check_request_limit
    if check not in hooks:  # a disabled limiter registers no hook
        return
    position = hooks.index(check)

    def check_callers_with_a_key() -> None:
        if not current_principal().is_anonymous:
            check()

    hooks[position] = check_callers_with_a_key


def application_limits(settings: Settings) -> list[ApplicationLimit]:
    """One bucket per key over all endpoints; one per IP for callers without a key, if set."""
    limits = []
    if settings.rate_limit:
        limits.append(ApplicationLimit(settings.rate_limit, scope="key", exempt_when=_is_anonymous))
    if settings.rate_limit_anonymous:
        limits.append(
            ApplicationLimit(settings.rate_limit_anonymous, scope="anonymous", exempt_when=_has_key)
        )
    return limits


def caller_key() -> str:
    principal = current_principal()
    if principal.is_anonymous:
        return f"ip:{get_remote_address()}"
    # The key's fingerprint, not its id: ids restart at 1 in every deployment, and two sharing a
    # Redis would share each key's budget with another deployment's key of the same id.
    return f"key:{principal.key_fingerprint or principal.key_id}"


def seconds_until_reset(limiter: Limiter, exc: RateLimitExceeded) -> int:
    """Whole seconds until the breached window resets; the whole window if that is unknown."""
    window = exc.limit.limit.get_expiry()
    breached = limiter.current_limit
    try:
        if breached is not None:
            return min(window, max(1, math.ceil(breached.reset_at - time.time())))
    except StorageError:
        pass
    return window


def _is_anonymous() -> bool:
    return current_principal().is_anonymous


def _has_key() -> bool:
    return not current_principal().is_anonymous


def _is_health_check() -> bool:
    return request.blueprint == "health"
