"""gazetteer: the search folding function and trigram indexes on the base layers' names

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# platform.search_fold(text): the one normalisation both the stored names and the query go
# through, so "Schaanerstraße", "Schaaner Strasse" and "schaanerstr." meet in one spelling:
# accents removed and ß -> ss (unaccent), lower case, the German transliterations ae/oe/ue folded
# like the umlauts they stand for, punctuation and runs of spaces to one space, and "str" at the
# end of a word spelled out. unaccent() is only STABLE (its dictionary could be changed), so the
# wrapper is declared IMMUTABLE to be usable in an index, naming the dictionary by schema so
# the search_path cannot change its meaning. PL/pgSQL, not SQL: a search rechecks this on every
# row the trigram index proposes, and an SQL function that cannot be inlined (its body is less
# immutable than declared) runs through the executor at twice the cost per call.
FOLD = r"""
CREATE FUNCTION platform.search_fold(value text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
BEGIN
    RETURN btrim(
        regexp_replace(
            regexp_replace(
                replace(replace(replace(
                    lower(public.unaccent('public.unaccent'::regdictionary, value)),
                    'ae', 'a'), 'oe', 'o'), 'ue', 'u'),
                '[[:punct:][:space:]]+', ' ', 'g'),
            'str( |$)', 'strasse\1', 'g'));
END
$$
"""

# The base tables' searchable columns (their layers' ``searchable``), as of this revision.
SEARCHABLE = {
    "admin_areas": ("name", "name_zh", "name_en"),
    "places": ("name", "name_zh", "name_en"),
    "pois": ("name", "name_zh", "name_en", "subcategory", "address"),
    "roads": ("name", "name_zh", "name_en", "ref"),
    "addresses": ("label",),
    "buildings": ("name", "name_zh", "name_en", "address"),
    "water": ("name", "name_zh", "name_en"),
    "landuse": ("name", "name_zh", "name_en"),
}


def index_name(table: str, column: str) -> str:
    return f"ix_{table}_{column}_search"


def upgrade() -> None:
    # Kept on downgrade, as PostGIS is: other objects of the database may use them.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")
    op.execute("CREATE EXTENSION IF NOT EXISTS unaccent WITH SCHEMA public")
    op.execute(FOLD)
    for table, columns in SEARCHABLE.items():
        for column in columns:
            # GIN over trigrams serves LIKE '%q%', similarity (%) and word similarity (<%).
            op.execute(
                f"CREATE INDEX {index_name(table, column)} ON base.{table} "
                f"USING gin (platform.search_fold({column}) public.gin_trgm_ops)"
            )


def downgrade() -> None:
    for table, columns in SEARCHABLE.items():
        for column in columns:
            op.execute(f"DROP INDEX base.{index_name(table, column)}")
    op.execute("DROP FUNCTION platform.search_fold(text)")
