"""Maintenance (养护) of the networks: the record of work on pipes and points, the service lives
of pipe materials, and the pipes due for replacement by them.

Service lives come from ``data/pipe_service_lives.csv`` (material code of CJJ 61 C.0.1 → years).
They are reference defaults, not values of a standard; ``refresh_service_lives`` copies them
into ``pipeline.service_lives``, which the per-utility ``*_replacement`` views of migration 0007
read (overdue when past its life, due soon within five years of it).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geoplatform.auth import ADMIN, EDITOR, Principal
from geoplatform.errors import Forbidden, InvalidParameter, NotFound
from geoplatform.refdata import read_table
from layers.pipeline.measure import DEGREE_DIGITS
from layers.pipeline.networks import existing_networks
from layers.pipeline.utilities import BY_NAME, Utility, utility_by_name_or_code

SERVICE_LIVES_TABLE = "pipe_service_lives"
# The check constraint ck_maintenance_kind of migration 0007; a test holds them equal.
MAINTENANCE_KINDS = (
    "inspection",
    "repair",
    "replacement",
    "flushing",
    "valve_exercise",
    "leak",
    "cleaning",
)
ASSET_TABLES = {"pipe": "pipes", "point": "points"}

ASSET_SQL = {
    asset_type: text(f"SELECT 1 FROM pipeline.{table} WHERE network = :network AND code = :code")
    for asset_type, table in ASSET_TABLES.items()
}
INSERT_RECORD_SQL = text(
    """
    INSERT INTO pipeline.maintenance (network, asset_type, asset_code, performed_on, kind,
                                      description, cost_yuan, contractor, department)
    VALUES (:network, :asset_type, :asset_code, :performed_on, :kind,
            :description, :cost_yuan, :contractor, :department)
    RETURNING *
    """
)
RECORDS_SQL = text(
    """
    SELECT *
      FROM pipeline.maintenance
     WHERE network = :network AND asset_type = :asset_type AND asset_code = :asset_code
     ORDER BY performed_on DESC, id DESC
    """
)
DELETE_SERVICE_LIVES_SQL = text("DELETE FROM pipeline.service_lives")
INSERT_SERVICE_LIFE_SQL = text(
    """
    INSERT INTO pipeline.service_lives (material, years, source)
    VALUES (:material, :years, :source)
    """
)
# Views are named after the utility (migration 0007), so only names from the utility table are
# ever put into SQL.
REPLACEMENT_SQL = {
    name: text(
        f"""
        SELECT id, network, code, utility, material, diameter_mm, install_year,
               service_life_years, age_years, years_left, warning, road_name, length_m,
               ST_AsGeoJSON(geom, {DEGREE_DIGITS}, 0) AS geometry
          FROM pipeline.{name}_replacement
         WHERE CAST(:network AS text) IS NULL OR network = :network
         ORDER BY years_left, network, code
        """
    )
    for name in BY_NAME
}


class UnknownAsset(NotFound):
    """No pipe or point of that code in the network."""


@dataclass(frozen=True)
class MaintenanceInput:
    network: str
    asset_type: str  # "pipe" or "point"
    asset_code: str
    performed_on: dt.date
    kind: str  # one of MAINTENANCE_KINDS
    description: str = ""
    cost_yuan: Decimal | float | None = None
    contractor: str | None = None
    department: str | None = None


def check_recorder(principal: Principal, utility: Utility) -> None:
    """Only the owner utility's editors and admins record maintenance."""
    if principal.role not in (EDITOR, ADMIN) or principal.department != utility.department:
        raise Forbidden(f"only editors of {utility.department} record maintenance")


def add_record(conn: Connection, record: MaintenanceInput) -> dict:
    """Record work on an asset; the stored row as JSON-ready values. Nothing is written when
    the record is refused."""
    _check_record(record)
    _require_asset(conn, record.network, record.asset_type, record.asset_code)
    params = {
        "network": record.network,
        "asset_type": record.asset_type,
        "asset_code": record.asset_code,
        "performed_on": record.performed_on,
        "kind": record.kind,
        "description": record.description,
        "cost_yuan": record.cost_yuan,
        "contractor": record.contractor,
        "department": record.department,
    }
    return _json_row(conn.execute(INSERT_RECORD_SQL, params).mappings().one())


def records_for(conn: Connection, network: str, asset_type: str, asset_code: str) -> list[dict]:
    """The asset's maintenance records, latest first."""
    _check_asset_type(asset_type)
    _require_asset(conn, network, asset_type, asset_code)
    params = {"network": network, "asset_type": asset_type, "asset_code": asset_code}
    return [_json_row(row) for row in conn.execute(RECORDS_SQL, params).mappings()]


def _check_record(record: MaintenanceInput) -> None:
    _check_asset_type(record.asset_type)
    if record.kind not in MAINTENANCE_KINDS:
        raise InvalidParameter(
            f"kind must be one of {', '.join(MAINTENANCE_KINDS)}; got {record.kind!r}"
        )
    performed_on = record.performed_on
    if not isinstance(performed_on, dt.date) or isinstance(performed_on, dt.datetime):
        raise InvalidParameter(f"performed_on must be a date, got {performed_on!r}")
    if performed_on > dt.date.today():
        raise InvalidParameter(f"performed_on {performed_on.isoformat()} is in the future")
    cost = record.cost_yuan
    if cost is not None and not (math.isfinite(cost) and cost >= 0):
        raise InvalidParameter(f"cost_yuan must be a number not below 0, got {cost}")


def _check_asset_type(asset_type: str) -> None:
    if asset_type not in ASSET_TABLES:
        raise InvalidParameter(f"asset_type must be 'pipe' or 'point', got {asset_type!r}")


def _require_asset(conn: Connection, network: str, asset_type: str, asset_code: str) -> None:
    if not existing_networks(conn, [network]):
        raise NotFound(f"unknown network {network!r}")
    found = conn.execute(ASSET_SQL[asset_type], {"network": network, "code": asset_code})
    if found.scalar() is None:
        raise UnknownAsset(f"no {asset_type} {asset_code!r} in network {network!r}")


def _json_row(row: Any) -> dict:
    return {key: _json_value(value) for key, value in row.items()}


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def refresh_service_lives(conn: Connection) -> int:
    """Replace ``pipeline.service_lives`` by the CSV's rows; how many rows were loaded."""
    rows = [
        {
            "material": row["material"],
            "years": int(row["years"]),
            "source": f"{row['source']} ({row['verified']}; data/{SERVICE_LIVES_TABLE}.csv)",
        }
        for row in read_table(SERVICE_LIVES_TABLE)
    ]
    conn.execute(DELETE_SERVICE_LIVES_SQL)
    conn.execute(INSERT_SERVICE_LIFE_SQL, rows)
    return len(rows)


def replacement_warnings(conn: Connection, utility_name: str, network: str | None = None) -> dict:
    """Pipes of a utility past or within five years of their service life, soonest first, as a
    GeoJSON FeatureCollection (CRS84). ``utility_name``: ``water`` or its CJJ 61 code ``JS``."""
    try:
        utility = utility_by_name_or_code(utility_name)
    except ValueError as error:
        raise InvalidParameter(str(error)) from None
    if network is not None and not existing_networks(conn, [network]):
        raise NotFound(f"unknown network {network!r}")
    rows = conn.execute(REPLACEMENT_SQL[utility.name], {"network": network}).mappings()
    features = []
    for row in rows:
        properties = {key: value for key, value in row.items() if key != "geometry"}
        features.append(
            {
                "type": "Feature",
                "id": row["id"],
                "geometry": json.loads(row["geometry"]),
                "properties": properties,
            }
        )
    return {"type": "FeatureCollection", "features": features}
