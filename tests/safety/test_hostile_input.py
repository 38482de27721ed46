"""Issue 16.4: bad input is a clear error with file and line, exit 1, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from greenhouse.tomltext import MAX_DEPTH, TomlSyntaxError, parse_toml, too_deep_at
from tests.conftest import run_module


def nested(depth: int, open_: str = "[", close: str = "]") -> str:
    return open_ * depth + close * depth


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 400, 20000])
def test_deeply_nested_front_matter(cli, small_site: Path, depth: int) -> None:
    path = small_site / "content" / "projects" / "deep.md"
    path.write_text(f'+++\ntitle = "Deep"\nskills = {nested(depth)}\n+++\nbody\n')
    for command in (["check"], ["build", "--offline"]):
        result = cli(*command, "--root", small_site)
        assert result.exit_code == 1
        assert f"{path}:3: invalid TOML front matter: arrays or inline tables nested more than" in (
            result.output
        )
        assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "value", [nested(5000), "{ a = " * 3000 + "1" + " }" * 3000, "[{ a = [" * 2000 + "]}]" * 2000]
)
def test_deeply_nested_config_in_a_real_process(small_site: Path, value: str) -> None:
    config = small_site / "greenhouse.toml"
    config.write_text(config.read_text() + f"\n[growth]\nmax_height = {value}\n")
    line = len(config.read_text().splitlines())
    result = run_module("check", "--root", str(small_site))
    assert result.returncode == 1
    assert f"greenhouse.toml:{line}: invalid TOML: arrays or inline tables nested" in result.stderr
    assert "Traceback" not in result.stderr and "RecursionError" not in result.stderr


def test_deep_nesting_in_skills_toml(cli, small_site: Path) -> None:
    skills = small_site / "content" / "skills.toml"
    skills.write_text(f"[[skills]]\nname = 'x'\nlevel = {nested(3000)}\n")
    result = cli("check", "--root", small_site)
    assert result.exit_code == 1 and f"{skills}:3: invalid TOML: arrays or inline" in result.output


def test_a_dotted_key_thousands_deep_is_just_an_unknown_key(cli, small_site: Path) -> None:
    path = small_site / "content" / "projects" / "dotted.md"
    path.write_text("+++\n" + ".".join(["a"] * 20000) + " = 1\n+++\n")
    result = cli("check", "--root", small_site)
    assert result.exit_code == 1 and f"{path}:2: [a] unknown key 'a'" in result.output


def test_brackets_inside_strings_and_comments_are_not_nesting() -> None:
    text = (
        'a = "' + "[" * 100 + '"\n'
        "b = '" + "{" * 100 + "'\n"
        "# " + "[" * 100 + "\n"
        'c = """\n' + "[" * 100 + '\n"""\n'
        "d = '''" + "[" * 100 + "'''\n"
        'e = "\\"[[[[" \n'
        "f = [[1], [2]]\n"
    )
    assert too_deep_at(text, limit=3) is None
    assert parse_toml(text)["f"] == [[1], [2]]
    assert too_deep_at("x = 1\ny = [[[[1]]]]\n", limit=3) == 2
    with pytest.raises(TomlSyntaxError) as info:
        parse_toml("\n\nkey = = 1\n")
    assert info.value.line == 3


def test_skills_toml_that_is_a_folder(cli, small_site: Path) -> None:
    skills = small_site / "content" / "skills.toml"
    skills.unlink()
    skills.mkdir()
    for command in (["check"], ["build", "--offline"]):
        result = cli(*command, "--root", small_site)
        assert result.exit_code == 1
        assert f"{skills}: is a folder; skills.toml must be a file" in result.output


def test_a_project_file_that_is_a_folder(cli, small_site: Path) -> None:
    folder = small_site / "content" / "projects" / "odd.md"
    folder.mkdir()
    result = cli("check", "--root", small_site)
    assert result.exit_code == 1 and f"{folder}: cannot read: Is a directory" in result.output


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("growth", "max_height", "inf"),
        ("growth", "half_size", "nan"),
        ("growth", "commit_weight", "+inf"),
        ("live", "messages_per_second", "inf"),
        ("weather", "latitude", "nan"),
        ("github", "max_rate_limit_wait", "-inf"),
    ],
)
def test_non_finite_numbers_are_refused_where_they_enter(
    cli, small_site: Path, section: str, key: str, value: str
) -> None:
    config = small_site / "greenhouse.toml"
    text = config.read_text()
    if f"[{section}]" in text:
        text = text.replace(f"[{section}]\n", f"[{section}]\n{key} = {value}\n")
    else:
        text += f"\n[{section}]\n{key} = {value}\n"
    config.write_text(text)
    line = text.splitlines().index(f"{key} = {value}") + 1
    for command in (["check"], ["build", "--offline"]):
        result = cli(*command, "--root", small_site)
        assert result.exit_code == 1, result.output
        assert f"greenhouse.toml:{line}: [{section}.{key}] Input should be a finite number" in (
            result.output
        )
    assert not (small_site / "build").exists()  # refused before anything was written


def test_a_huge_wrong_value_is_shown_short(cli, small_site: Path) -> None:
    config = small_site / "greenhouse.toml"
    config.write_text(config.read_text() + '\n[growth]\nmax_height = "' + "9" * 100_000 + '"\n')
    result = cli("check", "--root", small_site)
    assert result.exit_code == 1 and len(result.output) < 1000
