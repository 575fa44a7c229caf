"""README stays true: it opens with the two commands and carries the generated settings table."""

from __future__ import annotations

from geoplatform.config import settings_reference
from tests.test_cli import REPO_ROOT


def test_readme_opens_with_the_two_commands():
    lines = (REPO_ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    block = lines[lines.index("```sh") + 1 : lines.index("```sh") + 3]
    assert [line.split("#")[0].strip() for line in block] == ["make demo", "make test"]


def test_readme_settings_table_is_the_generated_one():
    assert settings_reference() in (REPO_ROOT / "README.md").read_text(encoding="utf-8")


def test_ci_runs_the_readme_test_command():
    assert "make test" in (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")
