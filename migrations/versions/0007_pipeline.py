"""pipeline: utility networks (pipes, points, maintenance) and their per-utility layers

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29

One table of pipes and one of points hold every utility's network; each utility reads its own
rows through views (``pipeline.water_pipes`` …), so that a layer's access can name the
utility's department without a filter in any endpoint. The views are simple (one table, a
WHERE on ``utility``), so PostgreSQL plans them on the tables' indexes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SCHEMA = "pipeline"

# CJJ 61-2017 App. B big classes; the view prefix names the utility in English.
UTILITIES = {
    "JS": "water",
    "PS": "drainage",
    "RQ": "gas",
    "RL": "heat",
    "DL": "power",
    "TX": "telecom",
}

# Owner departments besides the water and gas groups of revision 0003.
DEPARTMENTS = [
    ("drainage_utility", "排水公司", "Drainage Company"),
    ("heat_utility", "热力公司", "District Heating Company"),
    ("power_utility", "供电公司", "Power Supply Company"),
    ("telecom_utility", "通信管线单位", "Telecom Ducts Operator"),
]

POINT_KINDS = (
    "valve",
    "hydrant",
    "manhole",
    "junction",
    "tee",
    "service_connection",
    "source",
    "meter",
    "other",
)
SOURCE_KINDS = ("plant", "reservoir", "tank", "regulating_station", "substation")
MAINTENANCE_KINDS = (
    "inspection",
    "repair",
    "replacement",
    "flushing",
    "valve_exercise",
    "leak",
    "cleaning",
)

# Pipes past their material's service life (or within five years of it), by utility. The
# service lives are reference data loaded from data/pipe_service_lives.csv.
REPLACEMENT_VIEW = """
CREATE VIEW pipeline.{prefix}_replacement AS
SELECT p.id, p.network, p.code, p.utility, p.material, p.diameter_mm, p.install_year,
       l.years AS service_life_years,
       (extract(year FROM current_date)::int - p.install_year) AS age_years,
       (p.install_year + l.years - extract(year FROM current_date)::int) AS years_left,
       CASE WHEN p.install_year + l.years <= extract(year FROM current_date)::int
            THEN 'overdue' ELSE 'due_soon' END AS warning,
       p.road_name, p.length_m, p.geom, p.geom_3857
  FROM pipeline.pipes AS p
  JOIN pipeline.service_lives AS l ON l.material = p.material
 WHERE p.utility = '{code}'
   AND p.status = '0'
   AND p.install_year IS NOT NULL
   AND p.install_year + l.years - 5 <= extract(year FROM current_date)::int
"""


def _geometry(geometry_type: str) -> list[sa.Column]:
    return [
        sa.Column("geom", Geometry(geometry_type, srid=4490, spatial_index=False), nullable=False),
        sa.Column(
            "geom_3857",
            Geometry(geometry_type, srid=3857, spatial_index=False),
            sa.Computed("ST_Transform(geom, 3857)", persisted=True),
        ),
    ]


def _asset_columns() -> list[sa.Column]:
    return [
        sa.Column("id", sa.BigInteger, sa.Identity()),
        sa.Column("network", sa.Text, nullable=False),
        sa.Column("code", sa.Text, nullable=False),
        sa.Column("utility", sa.String(2), nullable=False),
        # CJJ 61 sub-class (JP 配水, YS 雨水, WS 污水, TR 天然气 …) and App. F feature code.
        sa.Column("subtype", sa.Text),
        sa.Column("feature_code", sa.String(8)),
        sa.Column("install_year", sa.SmallInteger),
        sa.Column("owner", sa.Text),
        # CJJ 61 C.0.3: 0 in use, 1 abandoned, 2 empty duct, 3 other.
        sa.Column("status", sa.String(1), nullable=False, server_default="0"),
    ]


def _asset_constraints(name: str) -> list:
    return [
        sa.PrimaryKeyConstraint("id", name=f"pk_{name}"),
        sa.UniqueConstraint("network", "code", name=f"uq_{name}_network_code"),
        sa.ForeignKeyConstraint(
            ["network"],
            [f"{SCHEMA}.networks.code"],
            name=f"fk_{name}_network_networks",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            "utility IN ('JS', 'PS', 'RQ', 'RL', 'DL', 'TX')", name=f"ck_{name}_utility"
        ),
        sa.CheckConstraint("status IN ('0', '1', '2', '3')", name=f"ck_{name}_status"),
        sa.CheckConstraint("feature_code ~ '^[0-9]{8}$'", name=f"ck_{name}_feature_code"),
    ]


def _indexes(name: str) -> None:
    for column in ("geom", "geom_3857"):
        op.create_index(
            f"ix_{name}_{column}", name, [column], schema=SCHEMA, postgresql_using="gist"
        )
    op.create_index(f"ix_{name}_utility", name, ["utility"], schema=SCHEMA)
    op.execute(
        f"CREATE INDEX ix_{name}_code_search ON {SCHEMA}.{name} "
        "USING gin (platform.search_fold(code) public.gin_trgm_ops)"
    )


def upgrade() -> None:
    departments = sa.table(
        "departments",
        sa.column("code", sa.Text),
        sa.column("name_zh", sa.Text),
        sa.column("name_en", sa.Text),
        schema="platform",
    )
    op.bulk_insert(
        departments,
        [{"code": code, "name_zh": zh, "name_en": en} for code, zh, en in DEPARTMENTS],
    )
    op.execute(f"CREATE SCHEMA {SCHEMA}")
    op.create_table(
        "networks",
        sa.Column("code", sa.Text, nullable=False),
        sa.Column("utility", sa.String(2), nullable=False),
        sa.Column("name_zh", sa.Text, nullable=False),
        sa.Column("name_en", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        # Endpoints closer than this (metres) are one node of the network graph.
        sa.Column("snap_tolerance_m", sa.Float, nullable=False, server_default="0.5"),
        sa.Column(
            "loaded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("code", name="pk_networks"),
        sa.CheckConstraint("code ~ '^[a-z0-9][a-z0-9_-]{0,62}$'", name="ck_networks_code_format"),
        sa.CheckConstraint(
            "utility IN ('JS', 'PS', 'RQ', 'RL', 'DL', 'TX')", name="ck_networks_utility"
        ),
        sa.CheckConstraint("snap_tolerance_m > 0", name="ck_networks_snap_tolerance_positive"),
        schema=SCHEMA,
    )
    op.create_table(
        "pipes",
        *_asset_columns(),
        # main, distribution, service (接户管), or the link kind of an imported model.
        sa.Column("role", sa.Text, nullable=False, server_default="main"),
        sa.Column("diameter_mm", sa.Integer),
        sa.Column("material", sa.Text),
        sa.Column("start_node", sa.Text),
        sa.Column("end_node", sa.Text),
        sa.Column("start_depth_m", sa.Float),
        sa.Column("end_depth_m", sa.Float),
        sa.Column("start_ground_m", sa.Float),
        sa.Column("end_ground_m", sa.Float),
        sa.Column("pressure_class", sa.Text),
        # CJJ 61 C.0.2 laying method (ZM 直埋, GG 管沟, ZH 综合管廊 …).
        sa.Column("laying", sa.Text),
        sa.Column("road_name", sa.Text),
        # Measured in the city's projected CRS when loaded.
        sa.Column("length_m", sa.Float, nullable=False),
        *_geometry("LINESTRING"),
        *_asset_constraints("pipes"),
        sa.CheckConstraint("diameter_mm > 0", name="ck_pipes_diameter_positive"),
        sa.CheckConstraint(
            "start_depth_m >= 0 AND end_depth_m >= 0", name="ck_pipes_depth_not_negative"
        ),
        schema=SCHEMA,
    )
    _indexes("pipes")
    op.create_table(
        "points",
        *_asset_columns(),
        sa.Column("kind", sa.Text, nullable=False),
        # The pipe a valve, hydrant or tap sits on (its code in the same network).
        sa.Column("pipe_code", sa.Text),
        sa.Column("normal_state", sa.Text),
        sa.Column("operable", sa.Boolean),
        sa.Column("source_kind", sa.Text),
        sa.Column("building_id", sa.BigInteger),
        sa.Column("address", sa.Text),
        sa.Column("customers", sa.Integer),
        sa.Column("ground_m", sa.Float),
        sa.Column("depth_m", sa.Float),
        *_geometry("POINT"),
        *_asset_constraints("points"),
        sa.CheckConstraint(
            "kind IN (" + ", ".join(f"'{k}'" for k in POINT_KINDS) + ")", name="ck_points_kind"
        ),
        sa.CheckConstraint("normal_state IN ('open', 'closed')", name="ck_points_normal_state"),
        sa.CheckConstraint(
            "source_kind IN (" + ", ".join(f"'{k}'" for k in SOURCE_KINDS) + ")",
            name="ck_points_source_kind",
        ),
        sa.CheckConstraint("customers >= 0", name="ck_points_customers_not_negative"),
        schema=SCHEMA,
    )
    _indexes("points")
    op.create_index("ix_points_kind", "points", ["kind"], schema=SCHEMA)
    op.create_table(
        "maintenance",
        sa.Column("id", sa.BigInteger, sa.Identity()),
        sa.Column("network", sa.Text, nullable=False),
        sa.Column("asset_type", sa.Text, nullable=False),
        sa.Column("asset_code", sa.Text, nullable=False),
        sa.Column("performed_on", sa.Date, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("cost_yuan", sa.Numeric(12, 2)),
        sa.Column("contractor", sa.Text),
        sa.Column("department", sa.Text),
        sa.Column(
            "recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("id", name="pk_maintenance"),
        sa.ForeignKeyConstraint(
            ["network"],
            [f"{SCHEMA}.networks.code"],
            name="fk_maintenance_network_networks",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint("asset_type IN ('pipe', 'point')", name="ck_maintenance_asset_type"),
        sa.CheckConstraint(
            "kind IN (" + ", ".join(f"'{k}'" for k in MAINTENANCE_KINDS) + ")",
            name="ck_maintenance_kind",
        ),
        sa.CheckConstraint("cost_yuan >= 0", name="ck_maintenance_cost_not_negative"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_maintenance_asset",
        "maintenance",
        ["network", "asset_type", "asset_code"],
        schema=SCHEMA,
    )
    op.create_table(
        "service_lives",
        sa.Column("material", sa.Text, nullable=False),
        sa.Column("years", sa.SmallInteger, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("material", name="pk_service_lives"),
        sa.CheckConstraint("years > 0", name="ck_service_lives_years_positive"),
        schema=SCHEMA,
    )
    for code, prefix in UTILITIES.items():
        op.execute(
            f"CREATE VIEW {SCHEMA}.{prefix}_pipes AS "
            f"SELECT * FROM {SCHEMA}.pipes WHERE utility = '{code}'"
        )
        op.execute(
            f"CREATE VIEW {SCHEMA}.{prefix}_points AS "
            f"SELECT * FROM {SCHEMA}.points WHERE utility = '{code}'"
        )
        op.execute(REPLACEMENT_VIEW.format(prefix=prefix, code=code))


def downgrade() -> None:
    op.execute(f"DROP SCHEMA {SCHEMA} CASCADE")
    codes = ", ".join(f"'{code}'" for code, _, _ in DEPARTMENTS)
    op.execute(f"DELETE FROM platform.api_keys WHERE department IN ({codes})")
    op.execute(f"DELETE FROM platform.departments WHERE code IN ({codes})")
