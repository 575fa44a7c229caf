"""Who changed which feature, when, and how it looked before and after: the audit trail.

Rows are written by the feature edit service (``geoplatform.features.edit``) in the transaction of
the change they record, so a change and its audit row exist together or not at all. An edit
refused because its If-Match was stale leaves a ``rejected`` row, written in a transaction of its
own since the edit's rolled back. ``before`` and ``after`` are GeoJSON Features built by SQL from
the stored row, in the layer's storage CRS (lon/lat for CGCS2000 layers).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import text
from sqlalchemy.engine import Connection

Action = Literal["create", "replace", "update", "delete", "transition"]
Outcome = Literal["ok", "rejected"]

MAX_PAGE = 1000


@dataclass(frozen=True)
class Actor:
    """Who asked for a change, as the request was authenticated."""

    department: str | None
    role: str | None
    key_id: int | None
    request_id: str | None = None


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    department: str | None
    role: str | None
    key_id: int | None
    layer_id: str
    fid: str
    action: Action
    outcome: Outcome
    before: dict | None
    after: dict | None
    request_id: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "layer": self.layer_id,
            "featureId": self.fid,
            "action": self.action,
            "outcome": self.outcome,
            "department": self.department,
            "role": self.role,
            "keyId": self.key_id,
            "requestId": self.request_id,
            "before": self.before,
            "after": self.after,
        }


# clock_timestamp(), not the column default now(): the row is written while the feature's row
# lock is held, so for one feature the order of ``at`` is the order in which changes applied,
# even when a later change's transaction began first.
_RECORD = text(
    """
    INSERT INTO platform.audit_log
           (at, department, role, key_id, layer_id, fid, action, outcome, before, after,
            request_id)
    VALUES (clock_timestamp(), :department, :role, :key_id, :layer_id, :fid, :action, :outcome,
            CAST(:before AS jsonb), CAST(:after AS jsonb), :request_id)
    """
)

_COLUMNS = """id, at, department, role, key_id, layer_id, fid, action, outcome, before, after,
              request_id"""

_HISTORY = text(
    f"""
    SELECT {_COLUMNS}
      FROM platform.audit_log
     WHERE layer_id = :layer_id AND fid = :fid AND outcome = 'ok'
     ORDER BY at, id
    """
)

_SEARCH = text(
    f"""
    SELECT {_COLUMNS}
      FROM platform.audit_log
     WHERE layer_id = ANY(:layer_ids)
       AND (CAST(:since AS timestamptz) IS NULL OR at >= :since)
       AND (CAST(:until AS timestamptz) IS NULL OR at < :until)
       AND id > :after
     ORDER BY id
     LIMIT :limit
    """
)


def record(
    conn: Connection,
    actor: Actor,
    layer_id: str,
    fid: str,
    action: Action,
    outcome: Outcome,
    before: dict | None,
    after: dict | None,
) -> None:
    """Write one audit row on ``conn``, inside whatever transaction the caller holds."""
    conn.execute(
        _RECORD,
        {
            "department": actor.department,
            "role": actor.role,
            "key_id": actor.key_id,
            "layer_id": layer_id,
            "fid": fid,
            "action": action,
            "outcome": outcome,
            "before": _json(before),
            "after": _json(after),
            "request_id": actor.request_id,
        },
    )


def feature_history(conn: Connection, layer_id: str, fid: str) -> list[AuditEntry]:
    """The applied changes of one feature, oldest first (a deleted feature's included)."""
    return [_entry(row) for row in conn.execute(_HISTORY, {"layer_id": layer_id, "fid": fid})]


def search(
    conn: Connection,
    layer_ids: list[str],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    after: int = 0,
    limit: int = 100,
) -> list[AuditEntry]:
    """Audit rows of these layers in ``since <= at < until``, in the order they were written.

    ``after`` is the id of the last row of the previous page (ids grow as rows are written).
    """
    params = {
        "layer_ids": layer_ids,
        "since": since,
        "until": until,
        "after": after,
        "limit": min(limit, MAX_PAGE),
    }
    return [_entry(row) for row in conn.execute(_SEARCH, params)]


def _json(feature: dict | None) -> str | None:
    return None if feature is None else json.dumps(feature, ensure_ascii=False)


def _entry(row) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        at=row.at,
        department=row.department,
        role=row.role,
        key_id=row.key_id,
        layer_id=row.layer_id,
        fid=row.fid,
        action=row.action,
        outcome=row.outcome,
        before=row.before,
        after=row.after,
        request_id=row.request_id,
    )
