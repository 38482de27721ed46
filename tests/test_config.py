from pathlib import Path

import pytest

from greenhouse.config import Config, Secrets, load_config, load_site
from greenhouse.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "greenhouse.toml"
    path.write_text(text)
    return path


def test_missing_file_means_defaults(tmp_path: Path) -> None:
    site = load_site(tmp_path)
    assert site.config == Config()
    assert site.config.build.db == "build/greenhouse.duckdb"


def test_every_field_has_a_default_and_a_description() -> None:
    def walk(model: type) -> None:
        for name, field in model.model_fields.items():  # type: ignore[attr-defined]
            assert field.description, f"{model.__name__}.{name} has no description"
            assert not field.is_required(), f"{model.__name__}.{name} has no default"
            annotation = field.annotation
            if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
                walk(annotation)

    walk(Config)


def test_base_url_gets_a_trailing_slash(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[site]\nbase_url = "https://u.github.io/repo"\n'))
    assert config.site.base_url == "https://u.github.io/repo/"


def test_unknown_key_suggests_the_right_one_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[site]\ntitle = "x"\n\n[build]\nouptut = "out"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    [problem] = info.value.problems
    assert problem.line == 5
    assert problem.field == "build.ouptut"
    assert "did you mean 'output'" in problem.message
    assert str(path) in str(problem)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path, '[site]\nbase_url = "not a url"\n[build]\nper_page = "many"\n[demo]\ndays = -3\n'
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    fields = {p.field: p.line for p in info.value.problems}
    assert fields == {"site.base_url": 2, "build.per_page": 4, "demo.days": 6}


def test_malformed_toml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[site]\ntitle = "ok"\nbroken = = 3\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems[0].line == 3
    assert "invalid TOML" in info.value.problems[0].message


def test_invalid_utf8_config(tmp_path: Path) -> None:
    path = tmp_path / "greenhouse.toml"
    path.write_bytes(b'[site]\ntitle = "\xff"\n')
    with pytest.raises(ConfigError, match="UTF-8"):
        load_config(path)


def test_secrets_come_only_from_the_environment() -> None:
    secrets = Secrets.from_env({"GITHUB_TOKEN": "ghp_x", "LASTFM_API_KEY": ""})
    assert secrets.github_token == "ghp_x"
    assert secrets.lastfm_api_key is None
    assert secrets.values() == ["ghp_x"]
    assert "token" not in Config.model_fields["github"].annotation.model_fields  # type: ignore[union-attr]
