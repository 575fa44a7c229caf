"""Tables of the core (schema ``platform``): layer data versions, the city profile, load runs,
departments, their API keys, the audit log, saved maps and the items of workflows."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    SmallInteger,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from geoplatform.db import make_metadata

metadata = make_metadata("platform")

# One row per layer. ``version`` changes whenever the layer's data changes, so caches keyed by
# versions can never serve stale data; count and extent are kept here so listing layers is cheap.
layer_state = Table(
    "layer_state",
    metadata,
    Column("layer_id", Text, primary_key=True),
    Column("version", BigInteger, nullable=False, server_default="1"),
    Column("feature_count", BigInteger, nullable=False, server_default="0"),
    Column("bbox", ARRAY(Float)),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# The single row describing the city the base data covers.
city = Table(
    "city",
    metadata,
    Column("id", SmallInteger, primary_key=True, server_default="1"),
    Column("projected_srid", Integer, nullable=False),
    Column("city_admin_level", SmallInteger),
    Column("bbox", ARRAY(Float), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("id = 1", name="single_row"),
)

load_runs = Table(
    "load_runs",
    metadata,
    Column("id", Integer, Identity(), primary_key=True),
    Column("kind", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("sha256", Text, nullable=False),
    Column("loader_version", Text, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("summary", JSONB, nullable=False),
)

# Departments are the unit of access: layers name them in ``access`` and ``editable_by``.
departments = Table(
    "departments",
    metadata,
    Column("code", Text, primary_key=True),
    Column("name_zh", Text, nullable=False),
    Column("name_en", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("code ~ '^[a-z][a-z0-9_]*$'", name="code_format"),
)

# A department's API keys: only a SHA-256 of each key is kept (see geoplatform.keys).
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, Identity(), primary_key=True),
    Column("department", Text, ForeignKey(departments.c.code), nullable=False),
    Column("role", Text, nullable=False),
    Column("label", Text, nullable=False, server_default=""),
    Column("prefix", Text, nullable=False),
    Column("hash", Text, nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("revoked_at", DateTime(timezone=True)),
    Column("last_used_at", DateTime(timezone=True)),
    CheckConstraint("role IN ('viewer', 'editor', 'admin')", name="role"),
    CheckConstraint("hash ~ '^[0-9a-f]{64}$'", name="hash_is_sha256"),
)

# Every change through the feature edit API, and every edit refused because its If-Match was
# stale; ``before`` and ``after`` are the feature as GeoJSON. Written in the transaction of the
# change it records (a refusal in its own, as the edit's transaction rolled back).
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("department", Text),
    Column("role", Text),
    Column("key_id", Integer),
    Column("layer_id", Text, nullable=False),
    Column("fid", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("outcome", Text, nullable=False),
    Column("before", JSONB),
    Column("after", JSONB),
    Column("request_id", Text),
    CheckConstraint(
        "action IN ('create', 'replace', 'update', 'delete', 'transition')", name="action"
    ),
    CheckConstraint("outcome IN ('ok', 'rejected')", name="outcome"),
    Index("ix_audit_log_layer_id_fid_at", "layer_id", "fid", "at"),
    Index("ix_audit_log_at", "at"),
)

# Thematic maps assembled from layers (geoplatform.maps): ``spec`` is the validated MapSpec;
# ``version`` is the ETag that If-Match of a change names.
saved_maps = Table(
    "saved_maps",
    metadata,
    Column("id", Integer, Identity(), primary_key=True),
    Column("slug", Text, nullable=False, unique=True),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("owner_department", Text, ForeignKey(departments.c.code), nullable=False),
    Column("visibility", Text, nullable=False),
    Column("spec", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("created_by", Integer),
    Column("version", Integer, nullable=False, server_default="1"),
    CheckConstraint("slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'", name="slug_format"),
    CheckConstraint("visibility IN ('public', 'internal')", name="visibility"),
)

# Where each item of a workflow (geoplatform.workflow) stands: its state, since when, and when that
# state's time limit runs out. ``version`` is the ETag that If-Match of a transition names.
workflow_items = Table(
    "workflow_items",
    metadata,
    Column("workflow", Text, primary_key=True),
    Column("item_id", Text, primary_key=True),
    Column("state", Text, nullable=False),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("entered_at", DateTime(timezone=True), nullable=False),
    Column("due_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("version > 0", name="version_positive"),
    Index("ix_workflow_items_workflow_due_at", "workflow", "due_at"),
)

# One row per step of an item: its start (no transition, no from-state) and every transition,
# with who fired it, when the state it left was entered and due, and what they sent.
workflow_history = Table(
    "workflow_history",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("workflow", Text, nullable=False),
    Column("item_id", Text, nullable=False),
    Column("transition", Text),
    Column("from_state", Text),
    Column("to_state", Text, nullable=False),
    Column("department", Text),
    Column("role", Text),
    Column("key_id", Integer),
    Column("entered_at", DateTime(timezone=True), nullable=False),
    Column("due_at", DateTime(timezone=True)),
    Column("acted_at", DateTime(timezone=True), nullable=False),
    Column("note", Text),
    Column("attachments", JSONB, nullable=False, server_default="[]"),
    Column("request_id", Text),
    ForeignKeyConstraint(
        ["workflow", "item_id"],
        [workflow_items.c.workflow, workflow_items.c.item_id],
    ),
    CheckConstraint("(transition IS NULL) = (from_state IS NULL)", name="start_or_transition"),
    CheckConstraint("jsonb_typeof(attachments) = 'array'", name="attachments_array"),
    Index("ix_workflow_history_workflow_item_id_acted_at", "workflow", "item_id", "acted_at"),
)
