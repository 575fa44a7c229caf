"""The module contract's start-up checks: each refusal names the module and the field."""

from __future__ import annotations

import dataclasses

import pytest
from flask import Blueprint
from pydantic_settings import BaseSettings, SettingsConfigDict

from geoplatform.app import create_app
from geoplatform.config import load_settings
from geoplatform.modules import (
    Module,
    ModuleError,
    Page,
    check_departments,
    check_modules,
    in_load_order,
    load_modules,
)
from geoplatform.platform import create_platform
from layers.base.models import metadata as base_metadata
from tests.fixtures.internal import MODULE as INTERNAL

BASE, PIPELINE = load_modules(["base", "pipeline"])


def module(name="extra", **fields) -> Module:
    return Module(name=name, title_zh="附加", title_en="Extra", **fields)


def test_modules_load_in_requires_order_whatever_the_settings_say():
    assert [m.name for m in load_modules(["pipeline", "base"])] == ["base", "pipeline"]


def test_a_requirement_not_enabled_is_refused():
    with pytest.raises(ModuleError, match="^module pipeline: requires .base., which is not"):
        load_modules(["pipeline"])


def test_a_cycle_of_requirements_is_refused():
    first, second = module("first", requires=("second",)), module("second", requires=("first",))
    with pytest.raises(ModuleError, match="requires form a cycle"):
        in_load_order([first, second])


def test_an_unknown_module_names_the_installed_ones():
    with pytest.raises(ModuleError) as error:
        load_modules(["base", "parcels"])
    assert str(error.value) == (
        "'parcels' is enabled but no geoplatform.modules entry point names it "
        "(installed: base, pipeline)"
    )


def test_a_schema_other_than_the_name_is_refused():
    with pytest.raises(ModuleError) as error:
        check_modules([module("land", metadata=base_metadata)])
    assert str(error.value) == (
        "module land: metadata.schema is 'base', must be the module's name 'land'"
    )


def test_settings_with_another_prefix_are_refused():
    class WrongPrefix(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="LAND_")

    with pytest.raises(ModuleError) as error:
        check_modules([module("land", settings=WrongPrefix)])
    assert str(error.value) == (
        "module land: settings env_prefix is 'LAND_', must be 'GEOPLATFORM_LAND_'"
    )


def test_a_layer_naming_a_department_that_does_not_exist_is_refused():
    typo = dataclasses.replace(
        INTERNAL.layers[1], id="internal.typo", access=frozenset({"water_utilty"})
    )
    broken = dataclasses.replace(INTERNAL, layers=(typo,))
    with pytest.raises(ModuleError) as error:
        check_departments([BASE, broken], {"water_utility", "gas_utility"})
    assert str(error.value) == (
        "module internal: layer internal.typo names department 'water_utilty', which does not "
        "exist (known: gas_utility, water_utility)"
    )


def test_a_department_the_module_declares_counts_as_existing():
    # The pipeline's owners are declared by the module itself and synced on upgrade.
    check_departments([BASE, PIPELINE], {"emergency_management"})


def test_the_platform_checks_departments_against_the_database(demo_settings, demo_load):
    settings = demo_settings.model_copy(
        update={"modules": ["base", "tests.fixtures.typo_department"]}
    )
    with pytest.raises(ModuleError, match="names department 'water_utilty', which does not"):
        create_platform(settings)


def _blueprint_at(path: str):
    def factory(platform) -> Blueprint:
        blueprint = Blueprint("extra", __name__)
        blueprint.add_url_rule(path, "page", lambda: "ok")
        return blueprint

    return factory


def _blueprint_beside():
    def factory(platform) -> Blueprint:
        blueprint = Blueprint("extra", __name__)
        # Straight onto the app, past the blueprint's prefix.
        blueprint.record_once(lambda state: state.app.add_url_rule("/collections/extra", "x"))
        return blueprint

    return factory


def test_a_route_outside_the_modules_prefix_is_refused(demo_settings, demo_load, monkeypatch):
    fixture = module(blueprint=_blueprint_beside())
    _enable(monkeypatch, fixture)
    with pytest.raises(ModuleError) as error:
        create_app(demo_settings.model_copy(update={"modules": ["base", "extra"]}))
    assert str(error.value) == "module extra: route /collections/extra is outside /extra"


def test_a_page_that_does_not_resolve_is_refused(demo_settings, demo_load, monkeypatch):
    fixture = module(
        blueprint=_blueprint_at("/"), pages=(Page("附加", "Extra page", "extra.missing"),)
    )
    _enable(monkeypatch, fixture)
    with pytest.raises(ModuleError) as error:
        create_app(demo_settings.model_copy(update={"modules": ["base", "extra"]}))
    assert str(error.value) == (
        "module extra: page 'Extra page' names endpoint 'extra.missing', which no route serves"
    )


def test_a_blueprint_is_served_under_the_modules_name(demo_settings, demo_load, monkeypatch):
    _enable(monkeypatch, module(blueprint=_blueprint_at("/hello")))
    app = create_app(demo_settings.model_copy(update={"modules": ["base", "extra"]}))
    try:
        assert app.test_client().get("/extra/hello").get_data(as_text=True) == "ok"
        assert app.test_client().get("/hello").status_code == 404
    finally:
        app.extensions["geoplatform"].close()


def _enable(monkeypatch, fixture: Module) -> None:
    """Installs ``fixture`` as the entry point named by its name, as a package would."""
    import geoplatform.modules as modules

    real = modules._resolve

    def resolve(name, group, attribute):
        return fixture if name == fixture.name else real(name, group, attribute)

    monkeypatch.setattr(modules, "_resolve", resolve)


def test_every_installed_module_keeps_the_contract():
    check_modules(load_modules(load_settings().modules))
