"""What ``greenhouse check`` finds in a site's templates without rendering them.

Syntax errors, unknown filters and tests (from compiling), names that no
page gives a template (``{{ titel }}``), and ``include``/``extends``/``import``
of templates that exist neither in ``site_templates/`` nor in the theme. Each
is a :class:`~greenhouse.errors.Problem` with the file and line.

Names are judged leniently, so ``check`` never complains about a template
that builds: a name assigned anywhere in the template (``set``, ``for``,
macro arguments, imports) counts as defined, and the names a template may
use are the union over every page (a partial may be included from any of
them). What only rendering can show (``{{ 1 // 0 }}``, a name used by a page
that does not get it) is reported by the build, with file and line too.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from pathlib import Path

import jinja2
import jinja2.meta
from jinja2 import nodes

from greenhouse.errors import Problem

#: Files of site_templates/ that are templates (static/ holds files copied as they are).
TEMPLATE_SUFFIXES = frozenset({".html", ".xml", ".txt", ".j2"})


def lint_templates(folder: Path) -> list[Problem]:
    """Every problem in the templates of *folder* (a site's ``site_templates/``)."""
    from greenhouse.site.render import template_environment

    if not folder.is_dir():
        return []
    env = template_environment(folder)
    known = known_names(env)
    problems: list[Problem] = []
    for path in template_files(folder):
        name = path.relative_to(folder).as_posix()
        try:
            source = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            problems.append(Problem(path, f"not valid UTF-8 (byte {exc.start})"))
            continue
        except OSError as exc:
            problems.append(Problem(path, f"cannot read: {exc.strerror}"))
            continue
        try:
            tree = env.parse(source, name=name, filename=str(path))
            env.compile(source, name=name, filename=str(path))  # unknown filters and tests
        except jinja2.TemplateSyntaxError as exc:
            problems.append(Problem(path, exc.message or "template syntax error", exc.lineno))
            continue
        except RecursionError:
            problems.append(Problem(path, "nested too deeply to compile"))
            continue
        found = undefined_names(tree, known, path) + missing_templates(tree, env, path)
        problems.extend(sorted(found, key=lambda problem: problem.line or 0))
    return problems


def template_files(folder: Path) -> list[Path]:
    """The template files under *folder*, outside ``static/``."""
    return [
        path
        for path in sorted(folder.rglob("*"))
        if path.suffix in TEMPLATE_SUFFIXES
        and path.is_file()
        and "static" not in path.relative_to(folder).parts
    ]


def known_names(env: jinja2.Environment) -> frozenset[str]:
    """Every name a page may give a template: the renderer's, the theme's, Jinja's globals."""
    from greenhouse.site import THEME
    from greenhouse.site.render import CONTEXT_NAMES

    names = set(env.globals) | set(CONTEXT_NAMES)
    for path in template_files(THEME / "templates"):
        tree = env.parse(path.read_text(encoding="utf-8"))
        names |= jinja2.meta.find_undeclared_variables(tree) - assigned_names(tree)
    return frozenset(names)


def assigned_names(tree: nodes.Template) -> set[str]:
    """Names the template itself binds anywhere (set, for, with, macro arguments, imports)."""
    names: set[str] = set()
    for node in tree.find_all(nodes.Name):
        if node.ctx in ("store", "param"):
            names.add(node.name)
    for imported in tree.find_all(nodes.FromImport):
        for item in imported.names:
            names.add(item[1] if isinstance(item, tuple) else item)
    callables: list[nodes.Macro | nodes.CallBlock] = [*tree.find_all(nodes.Macro)]
    callables.extend(tree.find_all(nodes.CallBlock))
    for macro in callables:
        names.update({"caller", "varargs", "kwargs"})
        names.update(arg.name for arg in macro.args)
    return names


def undefined_names(tree: nodes.Template, known: frozenset[str], path: Path) -> list[Problem]:
    """A problem for each name the template reads that nothing defines."""
    unknown = jinja2.meta.find_undeclared_variables(tree) - assigned_names(tree) - known
    problems = []
    for name in sorted(unknown):
        line = next(
            (n.lineno for n in tree.find_all(nodes.Name) if n.name == name and n.ctx == "load"),
            None,
        )
        close = difflib.get_close_matches(name, sorted(known), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        problems.append(Problem(path, f"'{name}' is undefined: no page gives it{hint}", line))
    return problems


def missing_templates(tree: nodes.Template, env: jinja2.Environment, path: Path) -> list[Problem]:
    """A problem for each include, extends or import of a template found nowhere."""
    problems = []
    for node, names in _references(tree):
        if names and not any(_exists(env, name) for name in names):
            shown = " or ".join(names)
            problems.append(Problem(path, f"template not found: {shown}", node.lineno))
    return problems


def _references(tree: nodes.Template) -> Iterator[tuple[nodes.Node, list[str]]]:
    """(node, candidate names) of every reference to another template by a constant name."""
    found: list[nodes.Include | nodes.Extends | nodes.Import | nodes.FromImport] = []
    for kind in (nodes.Include, nodes.Extends, nodes.Import, nodes.FromImport):
        found.extend(tree.find_all(kind))
    for node in sorted(found, key=lambda n: n.lineno):
        if isinstance(node, nodes.Include) and node.ignore_missing:
            continue
        target = node.template
        if isinstance(target, nodes.Const) and isinstance(target.value, str):
            yield node, [target.value]
        elif isinstance(target, (nodes.List, nodes.Tuple)) and all(
            isinstance(item, nodes.Const) and isinstance(item.value, str) for item in target.items
        ):
            yield node, [item.value for item in target.items]  # type: ignore[attr-defined]


def _exists(env: jinja2.Environment, name: str) -> bool:
    assert env.loader is not None
    try:
        env.loader.get_source(env, name)
    except jinja2.TemplateNotFound:
        return False
    return True
