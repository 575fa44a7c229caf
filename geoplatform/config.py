"""Settings from the environment: typed, read once, validated with messages a person can act on."""

from __future__ import annotations

import json
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, Literal

from limits import parse_many
from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/geoplatform"
DEFAULT_OSM_PATH = REPO_ROOT.parent / "shared" / "data" / "osm" / "liechtenstein-2015-07-27.osm.pbf"


class SettingsError(Exception):
    """Raised with one line per invalid setting, naming the environment variable."""


class Settings(BaseSettings):
    """Everything the platform reads from its environment.

    Variables carry the ``GEOPLATFORM_`` prefix except the two every tool in this field
    already knows by their bare names, ``DATABASE_URL`` and ``REDIS_URL``.
    """

    model_config = SettingsConfigDict(env_prefix="GEOPLATFORM_", frozen=True, extra="ignore")

    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        validation_alias=AliasChoices("DATABASE_URL", "GEOPLATFORM_DATABASE_URL"),
        description="PostgreSQL/PostGIS connection URL of the base geodatabase.",
    )
    redis_url: str = Field(
        "redis://127.0.0.1:6379/0",
        validation_alias=AliasChoices("REDIS_URL", "GEOPLATFORM_REDIS_URL"),
        description="Redis URL for the shared tile cache and live fan-out.",
    )
    modules: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: _installed("geoplatform.modules"),
        description="Thematic modules to enable, by the names of their `geoplatform.modules` "
        "entry points or as package paths (JSON list or comma-separated); every installed "
        "module when unset.",
    )
    services: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: _installed("geoplatform.services"),
        description="Services this node serves besides the core, by their "
        "`geoplatform.services` entry points: a features-only node may leave out the "
        "tileserver. Every installed service when unset.",
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        [],
        description="Host names (host or host:port) the platform answers to; any other Host "
        "header gets a 400. Absolute links (TileJSON, styles, paging) are built from the Host "
        "header, so set this wherever the platform is reachable by others. Empty: any host "
        "(a development machine).",
    )
    trusted_proxies: int = Field(
        0,
        ge=0,
        le=5,
        description="Reverse proxies in front of the platform whose X-Forwarded-For, -Proto, "
        "-Host and -Port it believes (that many hops); 0 ignores those headers, so a client "
        "cannot choose the scheme or host of the links it is sent.",
    )
    osm_path: Path = Field(DEFAULT_OSM_PATH, description="OSM extract loaded by `make demo`.")
    data_dir: Path = Field(
        REPO_ROOT / "var" / "data",
        description="Directory of files the platform serves besides the database: "
        "Cloud-Optimized GeoTIFFs and their sidecars under rasters/.",
    )
    projected_srid: int | None = Field(
        None,
        description="EPSG code of the projected CRS for areas and lengths; chosen from the "
        "data's extent when unset (CGCS2000 3-degree Gauss-Krüger in China, else UTM).",
    )
    city_code: str | None = Field(
        None, description="Six-digit GB/T 2260 administrative code of the city."
    )
    city_admin_level: int | None = Field(
        None,
        description="OSM admin_level of the city boundary; the lowest level whose boundary "
        "loaded completely when unset.",
    )
    import_max_loss: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Share of a layer's rows a load or import that replaces it may remove "
        "without `--force` (0.5: refuse a replace that would remove more than half).",
    )
    import_max_bytes: int = Field(
        200 * 1024 * 1024,
        ge=1024,
        description="Largest upload `POST /collections/{id}/imports` accepts, in bytes (the "
        "whole multipart body); a larger one is refused with 413 before it is read.",
    )
    on_invalid_layer: Literal["abort", "warn"] = Field(
        "abort",
        description="What start-up does when a declared layer does not match the live schema.",
    )
    db_pool_size: int = Field(
        5,
        ge=1,
        le=100,
        description="Size of a worker's two pools: the engine's (transactions; as many again "
        "when busy) and the read pool every feature, search and tile read shares. A worker "
        "opens at most 3 x this + 1 connections; `geoplatform serve` refuses workers x that "
        "beyond max_connections less the reserved ones and 10 of headroom.",
    )
    db_connect_timeout: int = Field(
        2,
        ge=2,
        le=60,
        description="Seconds to wait for a new database connection (libpq `connect_timeout`; "
        "libpq's minimum is 2).",
    )
    db_pool_timeout: float = Field(
        1.0,
        gt=0,
        le=60,
        description="Seconds a request waits for a pooled connection before it is answered "
        "503 with `Retry-After`.",
    )
    db_retry_seconds: float = Field(
        1.0,
        gt=0,
        le=60,
        description="While the database is unreachable, requests that need it are answered 503 "
        "at once and the database is probed this often; the first answer ends the outage.",
    )
    db_statement_timeout: int = Field(
        30_000,
        ge=0,
        description="Milliseconds a statement of a web request may run (PostgreSQL "
        "`statement_timeout`; 0: no limit); longer ones are cancelled and answered 503.",
    )
    db_lock_timeout: int = Field(
        5_000,
        ge=0,
        description="Milliseconds a web request's statement may wait for a lock "
        "(`lock_timeout`; 0: no limit).",
    )
    db_idle_in_transaction_timeout: int = Field(
        60_000,
        ge=0,
        description="Milliseconds a web request's transaction may sit idle before PostgreSQL "
        "ends it (`idle_in_transaction_session_timeout`).",
    )
    tile_cache_mb: int = Field(
        128, ge=0, le=65536, description="In-process tile cache per worker, in MiB."
    )
    tile_cache_ttl: int = Field(
        7 * 24 * 3600,
        ge=60,
        description="Seconds a tile stays in Redis; keys carry data versions, so this only "
        "bounds memory.",
    )
    tile_max_age: int = Field(
        60, ge=0, description="Cache-Control max-age of tiles for browsers and proxies, seconds."
    )
    features_default_limit: int = Field(
        100,
        ge=1,
        description="Features per page of `/collections/{id}/items` when the request gives no "
        "`limit`.",
    )
    features_max_limit: int = Field(
        10_000,
        ge=1,
        description="Largest `limit` a request for features may give; a larger one is refused "
        "with 400.",
    )
    host: str = Field("127.0.0.1", description="Address `geoplatform serve` binds to.")
    port: int = Field(8000, ge=1, le=65535, description="Port `geoplatform serve` binds to.")
    workers: int = Field(2, ge=1, le=64, description="Worker processes of `geoplatform serve`.")
    threads: int = Field(
        5,
        ge=1,
        le=256,
        description="Threads per worker that run requests: map clients keep connections open "
        "and ask for many tiles at once; a thread waiting on PostgreSQL does not hold the others. "
        "More than `GEOPLATFORM_DB_POOL_SIZE` only wait for a connection (Granian warns above "
        "2 × cores + 1).",
    )
    keepalive: int = Field(
        5, ge=0, le=60, description="Seconds an idle client connection is kept open."
    )
    auth_failures_per_minute: int = Field(
        30,
        ge=0,
        description="Failed authentications (unknown, revoked or malformed keys) an address may "
        "make in a minute, counted over all workers; past it every request with a key from it "
        "is 429 with Retry-After until the minute ends, before any lookup. 0: no limit.",
    )
    api_key_cache_ttl: float = Field(
        5.0,
        ge=0,
        le=300,
        description="Seconds a worker trusts an API key it has verified before asking the database "
        "again (0: every request); a revoked key stops working within this time.",
    )
    rate_limit_enabled: bool = Field(
        True, description="Whether requests are counted against the rate limits below."
    )
    rate_limit: str = Field(
        "1200 per minute",
        description="Requests each API key may make, over all endpoints together (empty: no "
        "limit), e.g. `1200 per minute` or `20/second;1000/minute`.",
    )
    rate_limit_anonymous: str = Field(
        "",
        description="Requests each client IP without a key may make (empty: no limit). Off by "
        "default: a whole city office comes out of one NAT address, and public map traffic "
        "should be absorbed by the tile caches and PMTiles, not refused by IP.",
    )
    rate_limit_key_prefix: str = Field(
        "geoplatform",
        description="Prefix of the rate-limit counters in Redis, so that several platforms can "
        "share one Redis.",
    )
    max_body_bytes: int = Field(
        1024 * 1024,
        ge=1024,
        description="Largest request body any endpoint accepts unless it declares its own "
        "limit (feature edits, uploads), in bytes; a larger one is refused with 413 before it is "
        "read.",
    )
    heavy_per_caller: int = Field(
        2,
        ge=1,
        le=64,
        description="Heavy requests (analyses, exports, pages of over 1,000 features) one caller "
        "(API key, or client address without one) may run at once over all workers; more are "
        "refused with 429.",
    )
    heavy_per_worker: int = Field(
        3,
        ge=1,
        le=256,
        description="Heavy requests a worker runs at once; the rest of its "
        "`GEOPLATFORM_THREADS` stay free for cheap ones (tiles, small pages, `/healthz`). Must "
        "be below the threads.",
    )
    heavy_wait_seconds: float = Field(
        0.5,
        ge=0,
        le=30,
        description="Seconds a heavy request waits for a free heavy slot of its worker before "
        "it is answered 503 with `Retry-After`.",
    )
    features_max_body_bytes: int = Field(
        5 * 1024 * 1024,
        ge=1024,
        description="Largest request body the feature edit API accepts (POST, PUT, PATCH of "
        "`/collections/{id}/items`), in bytes; a larger one is refused with 413.",
    )

    @field_validator("database_url")
    @classmethod
    def _postgres_only(cls, value: str) -> str:
        scheme = value.split("://", 1)[0]
        if scheme not in ("postgresql", "postgres", "postgresql+psycopg"):
            raise ValueError(f"must be a postgresql:// URL, got scheme {scheme!r}")
        return value

    @field_validator("modules", "services", "allowed_hosts", mode="before")
    @classmethod
    def _split_modules(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("city_code")
    @classmethod
    def _six_digits(cls, value: str | None) -> str | None:
        if value is not None and not (len(value) == 6 and value.isdigit()):
            raise ValueError("must be six digits (GB/T 2260), e.g. 320500")
        return value

    @field_validator("rate_limit", "rate_limit_anonymous")
    @classmethod
    def _rate_limit_string(cls, value: str) -> str:
        if value.strip():
            try:
                parse_many(value)
            except ValueError:
                raise ValueError(
                    "must be a rate limit such as '1200 per minute' or '20/second;1000/minute'"
                ) from None
        return value.strip()

    @model_validator(mode="after")
    def _default_limit_within_max(self) -> Settings:
        if self.features_default_limit > self.features_max_limit:
            raise ValueError(
                f"features_default_limit ({self.features_default_limit}) must not exceed "
                f"features_max_limit ({self.features_max_limit})"
            )
        return self

    @model_validator(mode="after")
    def _threads_left_for_cheap_requests(self) -> Settings:
        if self.heavy_per_worker >= self.threads:
            raise ValueError(
                f"heavy_per_worker ({self.heavy_per_worker}) must be below threads "
                f"({self.threads}): cheap requests need a thread heavy ones cannot take"
            )
        return self

    @property
    def sqlalchemy_url(self) -> str:
        """The URL with the psycopg 3 driver named, as SQLAlchemy wants it."""
        rest = self.database_url.split("://", 1)[1]
        return f"postgresql+psycopg://{rest}"

    @property
    def request_session(self) -> dict[str, str]:
        """Session settings of every connection that serves web requests."""
        return {
            "statement_timeout": str(self.db_statement_timeout),
            "lock_timeout": str(self.db_lock_timeout),
            "idle_in_transaction_session_timeout": str(self.db_idle_in_transaction_timeout),
        }

    @property
    def libpq_url(self) -> str:
        rest = self.database_url.split("://", 1)[1]
        return f"postgresql://{rest}"


def _installed(group: str) -> list[str]:
    """What the installed packages declare under an entry-point group (modules, services)."""
    return sorted(ep.name for ep in entry_points(group=group))


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment (overrides win); SettingsError names each bad one."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "settings"
            variable = _variable_name(field)
            lines.append(f"{variable}: {error['msg']} (got {error.get('input')!r})")
        raise SettingsError("invalid settings:\n  " + "\n  ".join(lines)) from None


def _variable_name(field: str) -> str:
    if field in ("database_url", "redis_url"):
        return field.upper()
    return f"GEOPLATFORM_{field.upper()}"


def settings_reference() -> str:
    """The settings as a Markdown table, generated from the types (README embeds this output)."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for name, info in Settings.model_fields.items():
        default = info.default
        if isinstance(default, Path):
            default = _relative(default)
        if info.default_factory is not None:
            shown = "all installed"
        elif default is None:
            shown = "unset"
        else:
            shown = f"`{json.dumps(default, ensure_ascii=False)}`"
        lines.append(f"| `{_variable_name(name)}` | {shown} | {info.description} |")
    return "\n".join(lines)


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(Path("..") / path.relative_to(REPO_ROOT.parent))
