"""Running Alembic from code: the core's history plus one branch per enabled module.

The core's revisions (0001-0007 hold the base and pipeline schemas as history) live in
``migrations/versions``; each module's later revisions live in its own ``migrations`` folder as
a branch labelled with its name, so modules developed side by side never collide. Upgrading
goes to every head, and then syncs the departments the enabled modules declare.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from geoplatform.config import REPO_ROOT, Settings
from geoplatform.db import make_engine, transaction
from geoplatform.keys import sync_departments
from geoplatform.modules import Module, load_modules

MIGRATIONS_DIR = REPO_ROOT / "migrations"
CORE_VERSIONS = MIGRATIONS_DIR / "versions"


def alembic_config(settings: Settings, modules: Sequence[Module] | None = None) -> Config:
    modules = load_modules(settings.modules) if modules is None else modules
    config = Config(str(REPO_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    locations = [CORE_VERSIONS, *(m.migrations for m in modules if m.migrations is not None)]
    # One path per line: a checkout's path may hold spaces.
    config.set_main_option("path_separator", "newline")
    config.set_main_option("version_locations", "\n".join(str(p) for p in locations))
    config.attributes["sqlalchemy_url"] = settings.sqlalchemy_url
    config.attributes["modules"] = tuple(modules)
    return config


def upgrade(settings: Settings, revision: str = "heads") -> None:
    modules = load_modules(settings.modules)
    # With a branch per module there are several heads; "head" means all of them.
    revision = "heads" if revision == "head" else revision
    command.upgrade(alembic_config(settings, modules), revision)
    if revision == "heads":
        engine = make_engine(settings)
        try:
            with transaction(engine) as conn:
                sync_departments(conn, (d for m in modules for d in m.departments))
        finally:
            engine.dispose()


def downgrade(settings: Settings, revision: str) -> None:
    command.downgrade(alembic_config(settings), revision)


def head_revisions(settings: Settings) -> frozenset[str]:
    """The heads of the core's history and of every enabled module's branch."""
    return frozenset(ScriptDirectory.from_config(alembic_config(settings)).get_heads())


def current_revisions(engine: Engine) -> frozenset[str]:
    with engine.connect() as conn:
        return frozenset(MigrationContext.configure(conn).get_current_heads())
