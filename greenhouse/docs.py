"""The configuration reference, generated from the config models.

``python -m greenhouse.docs`` rewrites ``docs/configuration.md``;
``python -m greenhouse.docs --check`` fails when the committed file is stale
(a test runs the same comparison). Both describe greenhouse's own sections
only, so the committed file does not depend on what is installed where it is
generated; ``--plugins`` writes the reference of this installation, the
sections of its source plugins included, to standard output.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Literal, get_args, get_origin

from greenhouse.config import Config
from greenhouse.scaffold import field_default, section_models, toml_value

CONFIGURATION_MD = Path("docs/configuration.md")


def configuration_markdown(*, plugins: bool = False) -> str:
    """Every section and option of greenhouse.toml: type, default and meaning, as Markdown.

    With *plugins*, the sections of the installed source plugins too.
    """
    lines = [
        "# Configuration reference",
        "",
        "<!-- Generated from greenhouse/config.py by `python -m greenhouse.docs`; do not edit. -->",
        "",
        "`greenhouse.toml` sits at the root of a site. Every option is optional; a",
        "missing file means all defaults. Unknown keys are refused. `greenhouse init`",
        "writes a commented file with every option below, and with the section of",
        "every installed source plugin (docs/plugins.md). Secrets never go in this",
        "file: they come from the environment",
        *textwrap.wrap(f"({', '.join(f'`{name}`' for name in _secrets(plugins))}).", width=80),
    ]
    for section, model in section_models(None if plugins else Config):
        lines += [
            "",
            f"## `[{section}]`",
            "",
            " ".join((model.__doc__ or "").split()),
            "",
            "| option | type | default | meaning |",
            "| --- | --- | --- | --- |",
        ]
        for name, field in model.model_fields.items():
            default = field_default(model, name)
            shown = "not set" if default is None else f"`{toml_value(default)}`"
            kind = _type_name(field.annotation)
            description = (field.description or "").replace("|", "\\|")
            lines.append(f"| `{name}` | {kind} | {shown} | {description} |")
    return "\n".join(lines) + "\n"


def _secrets(plugins: bool) -> list[str]:
    """The environment variables greenhouse's own sources read (and, with *plugins*, theirs)."""
    from greenhouse.sources.registry import registry

    installed = registry()
    names = {
        secret
        for name, source in installed.sources.items()
        if plugins or installed.builtin(name)
        for secret in source.secrets
    }
    return sorted(names)


def _type_name(annotation: object) -> str:
    """A readable type: ``str``, ``float or none``, ``one of "a", "b"``."""
    if get_origin(annotation) is Literal:
        return "one of " + ", ".join(f"`{toml_value(v)}`" for v in get_args(annotation))
    if isinstance(annotation, type) and not get_args(annotation):
        return annotation.__name__
    return str(annotation).replace("typing.", "").replace(" | None", " or none")


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check``, verify) docs/configuration.md under the current folder."""
    args = sys.argv[1:] if argv is None else argv
    if "--plugins" in args:
        print(configuration_markdown(plugins=True), end="")
        return 0
    wanted = configuration_markdown()
    if "--check" in args:
        current = CONFIGURATION_MD.read_text(encoding="utf-8") if CONFIGURATION_MD.exists() else ""
        if current != wanted:
            print(f"{CONFIGURATION_MD} is stale: run python -m greenhouse.docs", file=sys.stderr)
            return 1
        return 0
    CONFIGURATION_MD.parent.mkdir(parents=True, exist_ok=True)
    CONFIGURATION_MD.write_text(wanted, encoding="utf-8")
    print(f"wrote {CONFIGURATION_MD}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
