"""Every command, option and setting is documented, and the generated docs are up to date.

The README's command table is checked against the CLI through typer's own
command model (``typer.main.get_command``), never through ``click`` directly:
typer 0.29 vendors its own copy and stopped depending on click, and an
``isinstance(param, click.Option)`` check quietly matches nothing there. The
checker is a plain function so that the planted-mistake tests below can show
it fails.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import typer
import typer.main
from typer.testing import CliRunner

from greenhouse.cli import app
from greenhouse.docs import configuration_markdown
from greenhouse.scaffold import section_models
from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
#: Described once for every command, above the table.
SHARED_OPTIONS = {"--help", "--root"}
ROW = re.compile(r"^\| `(greenhouse [^`]*)` \|", re.M)


def _commands(group: Any, prefix: str = "greenhouse") -> Iterator[tuple[str, Any]]:
    for name, command in sorted(group.commands.items()):
        full = f"{prefix} {name}"
        if getattr(command, "commands", None):  # a group, such as `auth`
            yield from _commands(command, full)
        else:
            yield full, command


COMMANDS = dict(_commands(typer.main.get_command(app)))


def _long_options(command: Any) -> set[str]:
    return {
        opt
        for param in command.params
        if param.param_type_name == "option"
        for opt in [*param.opts, *param.secondary_opts]
        if opt.startswith("--")
    }


def readme_problems(readme: str) -> list[str]:
    """What is wrong with the README's command table, compared with the real CLI."""
    problems: list[str] = []
    rows: dict[str, list[str]] = {}
    for usage in ROW.findall(readme):
        name = max(
            (c for c in COMMANDS if usage == c or usage.startswith(c + " ")), key=len, default=None
        )
        if name is None:
            problems.append(f"README row `{usage}` names no greenhouse command")
            continue
        rows.setdefault(name, []).append(usage)
    for name, command in COMMANDS.items():
        found = rows.get(name, [])
        if not found:
            problems.append(f"{name} is missing from the README's command table")
            continue
        if len(found) > 1:
            problems.append(f"{name} has {len(found)} rows in the README's command table")
        usage = found[-1]
        options = _long_options(command)
        for option in sorted(options - SHARED_OPTIONS):
            if not re.search(rf"\[{re.escape(option)}[\] ]", usage):
                problems.append(f"{name}: {option} is not in its README row")
        for option in re.findall(r"--[a-z][a-z-]*", usage):
            if option not in options:
                problems.append(f"{name}: the README lists {option}, which it does not take")
    return problems


def test_readme_command_table_matches_the_cli() -> None:
    assert readme_problems(README) == []


def test_the_table_check_fails_on_a_missing_row() -> None:
    row = next(line for line in README.splitlines() if line.startswith("| `greenhouse stats"))
    assert readme_problems(README.replace(row + "\n", "")) == [
        "greenhouse stats is missing from the README's command table"
    ]


def test_the_table_check_fails_on_a_duplicate_row_and_a_missing_option() -> None:
    planted = README.replace(
        "| `greenhouse check",
        "| `greenhouse serve [--port N]` | stale row |\n| `greenhouse check",
    )
    problems = readme_problems(planted)
    assert "greenhouse serve has 2 rows in the README's command table" in problems


def test_the_table_check_fails_on_an_option_that_does_not_exist() -> None:
    planted = README.replace("| `greenhouse check", "| `greenhouse check [--fast]", 1)
    assert readme_problems(planted) == [
        "greenhouse check: the README lists --fast, which it does not take"
    ]


def test_the_table_check_fails_on_an_undocumented_option() -> None:
    planted = README.replace(" [--strict] [--force]", " [--force]", 1)
    assert "greenhouse build: --strict is not in its README row" in readme_problems(planted)


def test_the_commands_of_the_spec_are_in_the_table() -> None:
    for command in ("init", "sync", "build", "serve", "sidecar", "plant", "stats", "check"):
        assert f"greenhouse {command}" in COMMANDS
    assert "greenhouse auth spotify" in COMMANDS
    assert "--root DIR" in README and "--version" in README


def _words(text: str) -> str:
    return " ".join(text.replace("│", " ").split())


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_shows_every_word_of_every_option(name: str) -> None:
    """No word of an option's help is eaten as markup (typer 0.29 took ``[build]`` for Rich)."""
    result = CliRunner().invoke(
        app, [*name.split()[1:], "--help"], env={"COLUMNS": "300", "TERM": "dumb"}
    )
    assert result.exit_code == 0, result.output
    shown = _words(result.output)
    command = COMMANDS[name]
    assert _words(command.help or "") in shown
    for param in command.params:
        if param.help:
            assert _words(param.help) in shown, f"{name}: {param.help!r} is not shown whole"


def test_help_check_fails_when_markup_eats_a_word() -> None:
    """The check above can fail: a help text read as Rich markup loses its bracketed word."""
    probe = typer.Typer(rich_markup_mode="rich", add_completion=False)

    @probe.command()
    def go(out: str = typer.Option("x", "--out", help="Bundle (default: [build] output).")) -> None:
        """Go."""

    @probe.command()
    def stay() -> None:
        """Stay."""

    result = CliRunner().invoke(probe, ["go", "--help"], env={"COLUMNS": "300"})
    shown = _words(result.output)
    assert "Bundle (default: [build] output)." not in shown


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


def test_readme_links_resolve() -> None:
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README):
        if "://" in target:
            continue
        assert (REPO / target).exists(), target


def test_readme_shows_each_image_once() -> None:
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README)
    assert len(images) == len(set(images)), images


def test_exit_statuses_are_documented() -> None:
    for status in ("0 success", "1 a problem", "2 bad usage", "130"):
        assert status in " ".join(README.split()), status


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
