"""Every command, option and setting is documented, and the generated docs are up to date."""

from __future__ import annotations

import re
from collections.abc import Iterator

import click
import pytest
import typer

from greenhouse.cli import app
from greenhouse.docs import configuration_markdown
from greenhouse.scaffold import section_models
from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
UNDOCUMENTED_OPTIONS = {"--help", "--root"}  # --root is described once for every command


def _commands(
    group: click.Group, prefix: str = "greenhouse"
) -> Iterator[tuple[str, click.Command]]:
    for name, command in sorted(group.commands.items()):
        full = f"{prefix} {name}"
        if isinstance(command, click.Group):
            yield from _commands(command, full)
        else:
            yield full, command


COMMANDS = list(_commands(typer.main.get_command(app)))  # type: ignore[arg-type]


def _row(command: str) -> str:
    match = re.search(rf"^\| `{re.escape(command)}(?: [^`]*)?` \|.*$", README, re.M)
    assert match, f"{command} is missing from the README's commands table"
    return match.group(0)


@pytest.mark.parametrize(("name", "command"), COMMANDS, ids=[n for n, _ in COMMANDS])
def test_command_and_options_documented(name: str, command: click.Command) -> None:
    row = _row(name)
    for param in command.params:
        if isinstance(param, click.Option):
            long_names = [o for o in param.opts if o.startswith("--")]
            if set(long_names) & UNDOCUMENTED_OPTIONS:
                continue
            assert any(o in row for o in long_names), f"{name}: {long_names} not in the README"


def test_the_commands_of_the_spec_are_in_the_table() -> None:
    for command in ("init", "sync", "build", "serve", "sidecar", "plant", "stats", "check"):
        _row(f"greenhouse {command}")
    _row("greenhouse auth spotify")
    assert "--root DIR" in README and "--version" in README


def test_configuration_reference_is_up_to_date() -> None:
    committed = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert committed == configuration_markdown(), "run: python -m greenhouse.docs"


def test_every_option_is_documented() -> None:
    text = configuration_markdown()
    for section, model in section_models():
        assert f"## `[{section}]`" in text
        for name, field in model.model_fields.items():
            assert field.description, f"{section}.{name} has no description"
            assert f"| `{name}` |" in text


def test_readme_links_resolve_or_are_known_to_come() -> None:
    coming = {"docs/garden.png", "docs/sidecar.md", "tests/bench/README.md"}  # other work items
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README):
        if "://" in target:
            continue
        assert (REPO / target).exists() or target in coming, target


def test_model_doc_names_every_growth_constant() -> None:
    from greenhouse.config import GrowthConfig

    model = (REPO / "docs" / "model.md").read_text(encoding="utf-8")
    for name, field in GrowthConfig.model_fields.items():
        value = f"{field.default:g}"
        lines = [line for line in model.splitlines() if name in line]
        assert lines, f"{name} is not in docs/model.md"
        assert any(re.search(rf"(?<![\d.]){re.escape(value)}(?![\d])", line) for line in lines), (
            f"{name}'s default {value} is not next to it in docs/model.md"
        )
