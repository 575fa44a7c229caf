"""Settings: typed, from the environment, with errors that name the variable."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest

from geoplatform.config import DEFAULT_DATABASE_URL, SettingsError, load_settings


def test_defaults(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    settings = load_settings()
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.sqlalchemy_url.startswith("postgresql+psycopg://")
    # Every installed module, as the entry points name them: no list of modules in the core.
    installed = sorted(ep.name for ep in entry_points(group="geoplatform.modules"))
    assert settings.modules == installed
    assert {"base", "pipeline"} <= set(installed)
    assert settings.services == ["tileserver"]


def test_environment_is_read(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db:5433/city")
    monkeypatch.setenv("GEOPLATFORM_MODULES", "base, pipeline")
    monkeypatch.setenv("GEOPLATFORM_PROJECTED_SRID", "4549")
    settings = load_settings()
    assert settings.database_url == "postgresql://u@db:5433/city"
    assert settings.modules == ["base", "pipeline"]
    assert settings.projected_srid == 4549


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "DATABASE_URL",
            "mysql://root@localhost/city",
            "DATABASE_URL: Value error, must be a postgresql:// URL",
        ),
        ("GEOPLATFORM_CITY_CODE", "3205", "GEOPLATFORM_CITY_CODE: Value error, must be six digits"),
        (
            "GEOPLATFORM_PORT",
            "99999",
            "GEOPLATFORM_PORT: Input should be less than or equal to 65535",
        ),
        (
            "GEOPLATFORM_ON_INVALID_LAYER",
            "ignore",
            "GEOPLATFORM_ON_INVALID_LAYER: Input should be 'abort' or 'warn'",
        ),
    ],
)
def test_bad_values_name_the_variable(monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert message in str(error.value)
