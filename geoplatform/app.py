"""The application factory: builds a Flask app from settings; nothing happens at import time."""

from __future__ import annotations

import re
from importlib import metadata

from flask import Flask, request
from werkzeug.middleware.proxy_fix import ProxyFix

from geoplatform.analyses import make_analyses_blueprint
from geoplatform.auth import current_principal
from geoplatform.auth_failures import FailedAuthentications
from geoplatform.authn import install_authentication
from geoplatform.body_limit import install_body_limit
from geoplatform.circuit import install_database_errors
from geoplatform.config import Settings, load_settings
from geoplatform.cors import install_preflight
from geoplatform.errors import InvalidParameter, register_error_handlers
from geoplatform.features.api import TITLE, make_features_blueprint
from geoplatform.features.collections import make_collections_blueprint
from geoplatform.features.edit_api import make_edit_blueprint
from geoplatform.features.import_api import make_import_blueprint
from geoplatform.features.openapi import make_openapi_blueprint
from geoplatform.health import make_health_blueprint
from geoplatform.keys import KeyAuthenticator
from geoplatform.maps.api import make_maps_blueprint
from geoplatform.modules import check_pages, register_blueprint
from geoplatform.platform import Platform, create_platform
from geoplatform.ratelimit import install_rate_limits
from geoplatform.search.api import make_search_blueprint
from geoplatform.site import make_site_blueprint
from geoplatform.site.menu import install_site_menu
from geoplatform.whoami import make_whoami_blueprint
from geoplatform.workload import CallerSlots, install_heavy_limits


def create_app(settings: Settings | None = None, *, validate: bool = True) -> Flask:
    settings = settings or load_settings()
    platform = create_platform(settings, validate=validate)
    try:
        return _build_app(platform)
    except Exception:
        # A module that breaks the contract must not leave pools and listeners open.
        platform.close()
        raise


def _build_app(platform: Platform) -> Flask:
    settings = platform.settings
    app = Flask(__name__)
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    app.extensions["geoplatform"] = platform
    register_error_handlers(app)
    install_database_errors(app, platform.circuit, settings.db_pool_timeout)
    install_body_limit(app, settings.max_body_bytes)  # before anything reads or authenticates
    failures = FailedAuthentications(
        settings.redis_url, settings.rate_limit_key_prefix, settings.auth_failures_per_minute
    )
    platform.on_close(failures.close)
    install_authentication(
        app, KeyAuthenticator(platform.engine, settings.api_key_cache_ttl), failures
    )
    install_rate_limits(app, settings)  # after authentication: limits are counted per key
    heavy_slots = CallerSlots(
        settings.redis_url, settings.rate_limit_key_prefix, settings.heavy_per_caller
    )
    install_heavy_limits(app, heavy_slots, settings.heavy_per_worker, settings.heavy_wait_seconds)
    install_preflight(app)
    app.before_request(refuse_nul_characters)
    app.register_blueprint(make_health_blueprint())
    link_providers = tuple(s.collection_links for s in platform.services if s.collection_links)
    app.register_blueprint(
        make_collections_blueprint(platform.registry, current_principal, link_providers)
    )
    site = make_site_blueprint()
    app.register_blueprint(site)
    app.register_blueprint(make_features_blueprint(platform, current_principal, site.map_page))
    app.register_blueprint(make_edit_blueprint(platform, current_principal))
    app.register_blueprint(make_import_blueprint(platform, current_principal))
    app.register_blueprint(make_search_blueprint(platform, current_principal))
    app.register_blueprint(make_maps_blueprint(platform))
    app.register_blueprint(make_whoami_blueprint(platform.engine, current_principal))
    app.register_blueprint(make_openapi_blueprint(TITLE, _version()))
    for service in platform.services:
        for factory in service.blueprints:
            app.register_blueprint(factory(platform))
    for module in platform.modules:
        if module.blueprint is not None:
            register_blueprint(app, module, module.blueprint(platform))
        if module.analyses:
            register_blueprint(app, module, make_analyses_blueprint(platform, module))
    check_pages(app, platform.modules)
    install_site_menu(app, platform.modules)
    for service in platform.services:
        for front in service.fronts:
            app.wsgi_app = front(app, platform)
    if settings.allowed_hosts:
        app.config["TRUSTED_HOSTS"] = list(settings.allowed_hosts)
    if settings.trusted_proxies:
        # Outermost, so that the fast paths in front of Flask see the client's scheme and host.
        hops = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)
    return app


def refuse_nul_characters() -> None:
    """400 for a URL, or a JSON body, holding a NUL character or (in JSON) a lone UTF-16
    surrogate: PostgreSQL text can hold neither, so no such request names anything here, and
    one that reached a statement would fail it (500)."""
    args = request.args.items(multi=True)
    if "\x00" in request.path or any("\x00" in k + v for k, v in args):
        raise InvalidParameter("the URL holds a NUL character (%00)")
    if request.is_json and request.content_length:
        try:
            found = _unstorable_text(request.get_json(silent=True), "")
        except RecursionError:
            raise InvalidParameter("the body nests deeper than any document here can") from None
        if found is not None:
            place, what = found
            raise InvalidParameter(f"the body holds {what} at {place or 'its top level'}")


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _unstorable_text(value: object, path: str) -> tuple[str, str] | None:
    """Where in a JSON document a string (or a key) holds what PostgreSQL cannot store."""
    if isinstance(value, str):
        found = _UNSTORABLE.search(value)
        if found is None:
            return None
        if found.group() == "\x00":
            return path, "a NUL character (\\u0000)"
        return path, "a lone surrogate (\\ud800-\\udfff)"
    children: list[tuple[str, object]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            children += [(here, key), (here, item)]
    elif isinstance(value, list):
        children = [(f"{path}[{index}]", item) for index, item in enumerate(value)]
    for here, child in children:
        found = _unstorable_text(child, here)
        if found is not None:
            return found
    return None


def _version() -> str:
    try:
        return metadata.version("geoplatform")
    except metadata.PackageNotFoundError:
        return "0+unknown"
