"""departments and their API keys, with the six departments of the platform's first users

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SCHEMA = "platform"

DEPARTMENTS = [
    ("natural_resources", "自然资源局", "Natural Resources Bureau"),
    ("urban_management", "城市管理局", "Urban Management Bureau"),
    ("water_utility", "水务集团", "Water Utility Group"),
    ("gas_utility", "燃气集团", "Gas Utility Group"),
    ("emergency_management", "应急管理局", "Emergency Management Bureau"),
    ("public_security", "公安局", "Public Security Bureau"),
]


def upgrade() -> None:
    departments = op.create_table(
        "departments",
        sa.Column("code", sa.Text),
        sa.Column("name_zh", sa.Text, nullable=False),
        sa.Column("name_en", sa.Text, nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("code", name="pk_departments"),
        # Codes appear in layer declarations (access, editable_by) and in rate-limit keys.
        sa.CheckConstraint("code ~ '^[a-z][a-z0-9_]*$'", name="ck_departments_code_format"),
        schema=SCHEMA,
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer, sa.Identity()),
        sa.Column("department", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("label", sa.Text, nullable=False, server_default=""),
        sa.Column("prefix", sa.Text, nullable=False),
        sa.Column("hash", sa.Text, nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.Column("last_used_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.ForeignKeyConstraint(
            ["department"],
            [f"{SCHEMA}.departments.code"],
            name="fk_api_keys_department_departments",
        ),
        sa.UniqueConstraint("hash", name="uq_api_keys_hash"),
        sa.CheckConstraint("role IN ('viewer', 'editor', 'admin')", name="ck_api_keys_role"),
        # A SHA-256 hex digest: the table can never hold a usable key, even by mistake.
        sa.CheckConstraint("hash ~ '^[0-9a-f]{64}$'", name="ck_api_keys_hash_is_sha256"),
        schema=SCHEMA,
    )
    op.bulk_insert(
        departments,
        [{"code": code, "name_zh": zh, "name_en": en} for code, zh, en in DEPARTMENTS],
    )


def downgrade() -> None:
    op.drop_table("api_keys", schema=SCHEMA)
    op.drop_table("departments", schema=SCHEMA)
