"""Departments and their API keys: create, revoke, list, and turn a presented key into a Principal.

A key is shown once when it is made; the database keeps its SHA-256 only. The keys are 256-bit
random tokens, so a fast unsalted hash is the standard choice (as for GitHub or PyPI tokens):
there is nothing to brute-force that a slow password hash would protect, and the digest makes
the lookup one indexed equality.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from cachetools import TTLCache
from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection

from geoplatform.auth import ROLES, Principal
from geoplatform.db import transaction

KEY_MARK = "gp_"
PREFIX_LENGTH = 8
# token_urlsafe(32) is always 43 characters of the URL-safe base64 alphabet.
KEY_PATTERN = re.compile(r"^gp_[A-Za-z0-9_-]{43}$")
# 64 bits of the key's SHA-256: unique among any keys that will ever exist, and reveals nothing.
FINGERPRINT_LENGTH = 16
DEPARTMENT_CODE = re.compile(r"^[a-z][a-z0-9_]*$")


class KeyManagementError(Exception):
    """A department or key command that cannot be carried out; the message says why."""


class UnknownDepartment(KeyManagementError):
    pass


class DepartmentExists(KeyManagementError):
    pass


class InvalidDepartmentCode(KeyManagementError):
    pass


class InvalidRole(KeyManagementError):
    pass


class UnknownKey(KeyManagementError):
    pass


class AmbiguousKey(KeyManagementError):
    pass


@dataclass(frozen=True)
class KeyRecord:
    """What is known about a key besides the key itself."""

    id: int
    department: str
    role: str
    label: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


@dataclass(frozen=True)
class Department:
    code: str
    name_zh: str
    name_en: str


KEY_COLUMNS = "id, department, role, label, prefix, created_at, revoked_at, last_used_at"

INSERT_DEPARTMENT = text(
    """INSERT INTO platform.departments (code, name_zh, name_en)
       VALUES (:code, :name_zh, :name_en)
       ON CONFLICT (code) DO NOTHING
       RETURNING code"""
)
UPSERT_DEPARTMENT = text(
    """INSERT INTO platform.departments (code, name_zh, name_en)
       VALUES (:code, :name_zh, :name_en)
       ON CONFLICT (code) DO UPDATE SET name_zh = excluded.name_zh, name_en = excluded.name_en"""
)
SELECT_DEPARTMENTS = text("SELECT code, name_zh, name_en FROM platform.departments ORDER BY code")
SELECT_DEPARTMENT = text(
    "SELECT code, name_zh, name_en FROM platform.departments WHERE code = :code"
)
INSERT_KEY = text(
    f"""INSERT INTO platform.api_keys (department, role, label, prefix, hash)
        VALUES (:department, :role, :label, :prefix, :hash)
        RETURNING {KEY_COLUMNS}"""
)
SELECT_KEYS = text(f"SELECT {KEY_COLUMNS} FROM platform.api_keys ORDER BY id")
SELECT_KEYS_TO_REVOKE = text(
    f"""SELECT {KEY_COLUMNS} FROM platform.api_keys
         WHERE id = :id OR prefix = :prefix OR hash = :hash
         FOR UPDATE"""
)
REVOKE_KEY = text(
    f"""UPDATE platform.api_keys SET revoked_at = coalesce(revoked_at, now())
         WHERE id = :id
        RETURNING {KEY_COLUMNS}"""
)
# Stamping last_used_at in the lookup itself keeps authentication one round trip; with the
# per-process cache it is written at most once per cache TTL per worker, not per request.
AUTHENTICATE = text(
    """UPDATE platform.api_keys SET last_used_at = now()
        WHERE hash = :hash AND revoked_at IS NULL
       RETURNING id, department, role"""
)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def is_well_formed(key: str) -> bool:
    return KEY_PATTERN.fullmatch(key) is not None


def list_departments(conn: Connection) -> list[Department]:
    return [Department(*row) for row in conn.execute(SELECT_DEPARTMENTS)]


def find_department(conn: Connection, code: str) -> Department | None:
    row = conn.execute(SELECT_DEPARTMENT, {"code": code}).first()
    return Department(*row) if row else None


def create_department(conn: Connection, code: str, name_zh: str, name_en: str) -> Department:
    if not DEPARTMENT_CODE.fullmatch(code):
        raise InvalidDepartmentCode(
            f"department code {code!r} must be lower-case letters, digits and _, "
            "starting with a letter"
        )
    params = {"code": code, "name_zh": name_zh, "name_en": name_en}
    if conn.execute(INSERT_DEPARTMENT, params).first() is None:
        raise DepartmentExists(f"department {code!r} exists")
    return Department(code, name_zh, name_en)


def sync_departments(conn: Connection, departments: Iterable[Department]) -> None:
    """Departments the enabled modules declare: created when missing, their names kept current."""
    for department in departments:
        conn.execute(
            UPSERT_DEPARTMENT,
            {"code": department.code, "name_zh": department.name_zh, "name_en": department.name_en},
        )


def create_key(
    conn: Connection, department: str, role: str, label: str = ""
) -> tuple[KeyRecord, str]:
    """A new key for the department: its record and the key itself, which is not stored."""
    if role not in ROLES:
        raise InvalidRole(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    _require_department(conn, department)
    key = KEY_MARK + secrets.token_urlsafe(32)
    params = {
        "department": department,
        "role": role,
        "label": label,
        "prefix": key[:PREFIX_LENGTH],
        "hash": hash_key(key),
    }
    record = KeyRecord(*conn.execute(INSERT_KEY, params).one())
    return record, key


def list_keys(conn: Connection) -> list[KeyRecord]:
    return [KeyRecord(*row) for row in conn.execute(SELECT_KEYS)]


def revoke_key(conn: Connection, id_prefix_or_key: int | str) -> KeyRecord:
    """Revoke a key named by its id, its listed prefix or the key itself (idempotent).

    Workers that verified the key keep accepting it for at most ``api_key_cache_ttl`` seconds.
    """
    ident = str(id_prefix_or_key)
    params = {
        "id": int(ident) if ident.isdigit() else None,
        "prefix": ident,
        "hash": hash_key(ident),
    }
    matches = [KeyRecord(*row) for row in conn.execute(SELECT_KEYS_TO_REVOKE, params)]
    if not matches:
        raise UnknownKey(f"no API key with id, prefix or value {ident!r}")
    if len(matches) > 1:
        ids = ", ".join(str(m.id) for m in matches)
        raise AmbiguousKey(f"{ident!r} names several keys (ids {ids}); revoke by id")
    return KeyRecord(*conn.execute(REVOKE_KEY, {"id": matches[0].id}).one())


def authenticate(conn: Connection, key: str) -> Principal | None:
    """The principal of a valid, unrevoked key; None for any other string."""
    if not is_well_formed(key):
        return None
    return _principal_for_hash(conn, hash_key(key))


class KeyAuthenticator:
    """``authenticate`` with the answers remembered per process for a few seconds.

    Only successful lookups are cached, keyed by the key's hash, so a new key works at once and a
    revoked key keeps working in a worker for at most ``ttl_seconds`` after the revocation.
    """

    def __init__(self, engine: Engine, ttl_seconds: float, max_keys: int = 10_000) -> None:
        self._engine = engine
        self._cache: TTLCache[str, Principal] | None = (
            TTLCache(maxsize=max_keys, ttl=ttl_seconds) if ttl_seconds > 0 else None
        )
        # cachetools caches are not thread-safe; gunicorn may run threaded workers.
        self._lock = threading.Lock()

    def authenticate(self, key: str) -> Principal | None:
        if not is_well_formed(key):
            return None
        digest = hash_key(key)
        cached = self._cached(digest)
        if cached is not None:
            return cached
        with transaction(self._engine) as conn:
            principal = _principal_for_hash(conn, digest)
        if principal is not None and self._cache is not None:
            with self._lock:
                self._cache[digest] = principal
        return principal

    def _cached(self, digest: str) -> Principal | None:
        if self._cache is None:
            return None
        with self._lock:
            return self._cache.get(digest)


def _principal_for_hash(conn: Connection, digest: str) -> Principal | None:
    row = conn.execute(AUTHENTICATE, {"hash": digest}).first()
    if row is None:
        return None
    return Principal(
        department=row.department,
        role=row.role,
        key_id=row.id,
        key_fingerprint=digest[:FINGERPRINT_LENGTH],
    )


def _require_department(conn: Connection, code: str) -> None:
    known = [d.code for d in list_departments(conn)]
    if code not in known:
        raise UnknownDepartment(f"unknown department {code!r}; departments: {', '.join(known)}")
