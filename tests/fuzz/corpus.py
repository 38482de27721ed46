"""A seeded, deterministic corpus of hostile and careless inputs for the real CLI.

Five kinds of case, each a set of files written over a small real site and
the CLI invocations to run on it:

* ``config``: ``greenhouse.toml``;
* ``front-matter``: a project file of ``content/projects/``;
* ``skills``: ``content/skills.toml``;
* ``template``: a file of ``site_templates/``;
* ``cli``: command-line arguments.

Each kind has hand-written *seeds* (the evaluation's cases and their
relatives; most say what the error must mention) and random *mutations* of
a valid file or command line, drawn from ``random.Random(SEED)``: the same
corpus on every run and every machine. ``python -m tests.fuzz.corpus``
prints the counts.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

SEED = 16  # the number
#: A file's content (bytes), or FOLDER for a folder where a file is expected.
FOLDER = None

VALID_CONFIG = """\
[site]
title = "Small garden"
description = "A garden of two projects."
author = "me"
base_url = "https://me.example/garden/"

[weather]
provider = "none"

[growth]
max_height = 3.0
half_size = 150.0

[history]
interval_days = 7
"""

VALID_PROJECT = """\
+++
title = "Fern"
slug = "fern"
repo = "me/fern"
skills = ["Python", "DuckDB"]
species = "fern"
pinned = true
planted = 2025-06-01
homepage = "https://me.example/fern"
+++
A *small* project with [a link](https://me.example/) and `code`.

- one
- two
"""

VALID_SKILLS = """\
[[skills]]
name = "Python"
category = "language"
level = 5

[[skills]]
name = "DuckDB"
category = "tool"
level = 3
"""

VALID_TEMPLATE = """\
{% extends 'base.html' %}
{% block main %}
<h1>{{ site.title }}</h1>
<ul>{% for p in plants %}<li>{{ p.spec.name }} ({{ p.stage }})</li>{% endfor %}</ul>
<p>{{ weather.condition }} · {{ stages | length }}</p>
{% endblock %}
"""

PROJECT = "content/projects/fern.md"
CONFIG = "greenhouse.toml"
SKILLS = "content/skills.toml"
TEMPLATE = "site_templates/index.html"

CHECK_AND_BUILD = (("check",), ("build", "--offline"))


@dataclass(frozen=True)
class Case:
    """One fuzz case: files over the small site, then CLI invocations (``--root`` is added)."""

    id: str
    kind: str
    files: dict[str, bytes | None] = field(default_factory=dict)
    runs: tuple[tuple[str, ...], ...] = CHECK_AND_BUILD
    expect: str | None = None  # what the first run's output must say, where a seed knows it
    writes_inputs: bool = False  # the command writes content by design (plant, init)


def nested(depth: int, pair: str = "[]") -> str:
    return pair[0] * depth + pair[1] * depth


def config_seeds() -> list[Case]:
    def case(name: str, text: str | bytes | None, expect: str | None = None) -> Case:
        data = text.encode() if isinstance(text, str) else text
        return Case(f"config-{name}", "config", {CONFIG: data}, expect=expect)

    base = VALID_CONFIG
    grow = base.replace("max_height = 3.0", "max_height = {}")
    return [
        case(
            "inf",
            grow.format("inf"),
            "greenhouse.toml:11: [growth.max_height] Input should be a finite number",
        ),
        case("nan", base.replace("half_size = 150.0", "half_size = nan"), "finite number"),
        case("minus-inf", base + "\n[github]\nmax_rate_limit_wait = -inf\n", "finite number"),
        case("1e400", grow.format("1e400"), "finite number"),
        case("huge-float", grow.format("1.7e308"), "[growth.max_height]"),
        case("tiny-half-size", base.replace("half_size = 150.0", "half_size = 5e-324")),
        case(
            "huge-int", base + "\n[build]\nper_page = 99999999999999999999999\n", "[build.per_page]"
        ),
        case("negative-days", base + "\n[growth]\ndormant_after_days = -5\n"),
        case(
            "deep-array",
            grow.format(nested(5000)),
            "greenhouse.toml:11: invalid TOML: arrays or inline tables nested",
        ),
        case(
            "deep-inline-table",
            grow.format("{ a = " * 3000 + "1" + " }" * 3000),
            "nested more than",
        ),
        case("deep-dotted-key", base + ".".join(["a"] * 20000) + " = 1\n", "unknown key 'a'"),
        case(
            "deep-table-header",
            base + "[" + ".".join(["a"] * 5000) + "]\nx = 1\n",
            "unknown key 'a'",
        ),
        case(
            "wrong-type",
            base.replace('title = "Small garden"', "title = 5"),
            "greenhouse.toml:2: [site.title]",
        ),
        case("section-as-scalar", "site = 5\n", "[site]"),
        case("array-of-sections", '[[site]]\ntitle = "x"\n', "[site]"),
        case("empty", ""),
        case("bom", "\ufeff" + base),
        case("invalid-utf8", base.encode() + b"\n# \xff\xfe\n", "not valid UTF-8"),
        case("nul-byte", base.replace("author", "au\x00thor")),
        case("crlf", base.replace("\n", "\r\n")),
        case("megabyte-title", base.replace("Small garden", "G" * 1_000_000)),
        case("control-chars", base.replace("Small garden", "Small\\u0001\\u001b\\u0000 garden")),
        case(
            "base-url-js",
            base.replace("https://me.example/garden/", "javascript:alert(1)"),
            "[site.base_url]",
        ),
        case("base-url-control", base.replace("garden/", "gar\\u0007den/"), "[site.base_url]"),
        case("output-empty", base + '\n[build]\noutput = ""\n', "is the site folder"),
        case("output-dot", base + '\n[build]\noutput = "."\n', "is the site folder"),
        case("output-content", base + '\n[build]\noutput = "content"\n', "is the content folder"),
        case("output-root", base + '\n[build]\noutput = "/"\n', "contains the site folder"),
        case("output-parent", base + '\n[build]\noutput = ".."\n', "contains the site folder"),
        case("output-build", base + '\n[build]\noutput = "build"\n', "contains the data store"),
        case("db-is-a-folder", base + '\n[build]\ndb = "content"\n'),
        case("db-is-a-project-file", base + '\n[build]\ndb = "content/projects/fern.md"\n'),
        case(
            "db-in-output",
            base + '\n[build]\ndb = "build/site/garden.duckdb"\n',
            "contains the data store",
        ),
        case(
            "interval-zero",
            base.replace("interval_days = 7", "interval_days = 0"),
            "[history.interval_days]",
        ),
        case("demo-zero-days", base + "\n[demo]\nenabled = true\ndays = 0\n", "[demo.days]"),
        case("small-demo", base + "\n[demo]\nenabled = true\ndays = 40\nprojects = 3\n"),
        case(
            "demo-huge-weights",
            base.replace("max_height = 3.0", "max_height = 1.7e308\ncommit_weight = 1.7e308")
            + "\n[demo]\nenabled = true\ndays = 40\nprojects = 2\n",
            "[growth.max_height]",
        ),
        case(
            "demo-largest-weights",
            base.replace(
                "max_height = 3.0",
                "max_height = 1000\ncommit_weight = 1e6\nstar_weight = 1e6\nview_weight = 1e6",
            )
            + "\n[demo]\nenabled = true\ndays = 40\nprojects = 2\n",
        ),
        case("typo-section", base + "\n[gitub]\nuser = 'me'\n", "did you mean"),
        case(
            "duplicate-key",
            base.replace('author = "me"', 'author = "me"\nauthor = "you"'),
            "greenhouse.toml:5",
        ),
        case(
            "inverted-thresholds",
            base + "\n[growth]\nsprout_at = 0.9\nsapling_at = 0.1\nmature_at = 0.05\n",
        ),
        case(
            "datetime-title",
            base.replace('title = "Small garden"', "title = 1979-05-27T07:32:00Z"),
            "[site.title]",
        ),
        case(
            "attribute-injection",
            base.replace(
                'provider = "none"', 'provider = "none"\n\n[live]\nurl = "\\" onload=\\"alert(1)"'
            ).replace('"me"', '"</title><script>alert(1)</script>"'),
        ),
        case("is-a-folder", FOLDER, "greenhouse.toml: cannot read"),
        case("one-per-page", base + "\n[build]\nper_page = 1\n"),
        case("one-snapshot", base + "\n[history]\nmax_snapshots = 1\n".replace("[history]\n", "")),
    ]


def front_matter_seeds() -> list[Case]:
    def case(
        name: str, text: str | bytes | None, expect: str | None = None, path: str = PROJECT
    ) -> Case:
        data = text.encode() if isinstance(text, str) else text
        return Case(f"front-matter-{name}", "front-matter", {path: data}, expect=expect)

    body = "\nBody.\n"
    return [
        case(
            "deep-400",
            f"+++\nskills = {nested(400)}\n+++\n",
            "fern.md:2: invalid TOML front matter: arrays or inline",
        ),
        case("deep-20000", f"+++\nskills = {nested(20000)}\n+++\n", "nested more than"),
        case(
            "deep-inline",
            "+++\ntitle = " + "{a=" * 2000 + "1" + "}" * 2000 + "\n+++\n",
            "nested more than",
        ),
        case("never-closed", '+++\ntitle = "x"\n', "fern.md:1: front matter opened"),
        case("no-front-matter", "# Just markdown\n", "fern.md:1: must start with a '+++'"),
        case("only-fences", "+++\n+++\n"),
        case("empty", "", "must start with"),
        case("bom", "\ufeff+++\ntitle = 'x'\n+++\n", "must start with"),
        case("crlf", '+++\r\ntitle = "Fern"\r\n+++\r\nBody\r\n'),
        case("nul-in-body", '+++\ntitle = "Fern"\n+++\nbo\x00dy\n'),
        case("invalid-utf8", b'+++\ntitle = "\xff"\n+++\n', "fern.md:2: not valid UTF-8"),
        case("title-type", "+++\ntitle = 5\n+++\n", "fern.md:2: [title]"),
        case("title-200k", '+++\ntitle = "' + "T" * 200_000 + '"\n+++\n'),
        case("title-control", '+++\ntitle = "F\\u0001e\\u001bm\\u0000\\uFFFF"\n+++\n'),
        case(
            "title-markup",
            '+++\ntitle = "]]></title><script>alert(1)</script>"\ndescription = "<img src=x onerror=alert(1)>"\n+++\n',
        ),
        case("slug-traversal", '+++\nslug = "../../etc"\n+++\n', "fern.md:2: [slug]"),
        case("slug-empty", '+++\nslug = ""\n+++\n', "[slug]"),
        case("repo-three-parts", '+++\nrepo = "a/b/c"\n+++\n', "[repo]"),
        case(
            "skills-2000",
            "+++\nskills = [" + ", ".join(f'"s{n}"' for n in range(2000)) + "]\n+++\n",
            "at most 50 skills per project (got 2000)",
        ),
        case("skills-50", "+++\nskills = [" + ", ".join(f'"s{n}"' for n in range(50)) + "]\n+++\n"),
        case("skills-nested", "+++\nskills = [[1]]\n+++\n", "[skills"),
        case("skills-empty-name", '+++\nskills = ["", "x"]\n+++\n', "[skills]"),
        case("planted-invalid", "+++\nplanted = 2026-13-01\n+++\n", "invalid TOML front matter"),
        case("planted-datetime", "+++\nplanted = 1979-05-27T07:32:00Z\n+++\n", "[planted]"),
        case("planted-future", "+++\nplanted = 9999-12-31\n+++\n"),
        case("planted-year-one", "+++\nplanted = 0001-01-01\n+++\n"),
        case("homepage-js", '+++\nhomepage = "javascript:alert(1)"\n+++\n', "[homepage]"),
        case("species-unknown", '+++\nspecies = "triffid"\n+++\n', "[species]"),
        case("pinned-string", '+++\npinned = "yes please"\n+++\n', "[pinned]"),
        case("hidden", "+++\nhidden = true\n+++\n"),
        case("deep-blockquote", "+++\n+++\n" + ">" * 10000 + " deep\n"),
        case("deep-list", "+++\n+++\n" + "".join("  " * n + "- x\n" for n in range(3000))),
        case("deep-html", "+++\n+++\n" + "<div>" * 20000 + "x" + "</div>" * 20000 + "\n"),
        case(
            "hostile-html",
            "+++\n+++\n<script>alert(1)</script><iframe src=//evil></iframe><a href='javascript:x'>x</a><img src=x onerror=y>\n",
        ),
        case("two-megabytes", "+++\n+++\n" + ("word " * 400_000)),
        case(
            "name-with-space",
            '+++\ntitle = "x"\n+++\n',
            "is not a valid slug",
            "content/projects/my project.md",
        ),
        case(
            "name-unicode",
            '+++\ntitle = "x"\n+++\n',
            "is not a valid slug",
            "content/projects/café.md",
        ),
        case("is-a-folder", FOLDER, "fern.md: cannot read"),
        case(
            "dotted-deep",
            "+++\n" + ".".join(["k"] * 20000) + " = 1\n+++\n",
            "fern.md:2: [k] unknown key 'k'",
        ),
        case("fence-spaces", '+++   \ntitle = "Fern"\n+++  \n' + body),
    ]


def skills_seeds() -> list[Case]:
    def case(name: str, text: str | bytes | None, expect: str | None = None) -> Case:
        data = text.encode() if isinstance(text, str) else text
        return Case(f"skills-{name}", "skills", {SKILLS: data}, expect=expect)

    many = "".join(f'[[skills]]\nname = "s{n}"\n' for n in range(600))
    return [
        case("is-a-folder", FOLDER, "skills.toml: is a folder"),
        case("deep", f"[[skills]]\nname = {nested(3000)}\n", "skills.toml:2: invalid TOML: arrays"),
        case("600", many, "at most 500 declared skills (got 600)"),
        case("500", "".join(f'[[skills]]\nname = "s{n}"\n' for n in range(500))),
        case(
            "level-zero", '[[skills]]\nname = "x"\nlevel = 0\n', "skills.toml:3: [skills.0.level]"
        ),
        case("level-inf", '[[skills]]\nname = "x"\nlevel = inf\n', "[skills.0.level]"),
        case("level-string", '[[skills]]\nname = "x"\nlevel = "high"\n', "[skills.0.level]"),
        case("name-empty", '[[skills]]\nname = ""\n', "[skills.0.name]"),
        case("name-long", '[[skills]]\nname = "' + "n" * 1000 + '"\n', "[skills.0.name]"),
        case(
            "unknown-key",
            '[[skills]]\nname = "x"\ncolour = "red"\n',
            "skills.toml:3: [skills.0.colour] unknown key",
        ),
        case("string", 'skills = "Python"\n', "[skills]"),
        case("table", '[skills]\nname = "Python"\n', "[skills]"),
        case("invalid-utf8", b'[[skills]]\nname = "\xc3\x28"\n', "skills.toml:2: not valid UTF-8"),
        case("empty", ""),
        case(
            "markup-names",
            '[[skills]]\nname = "<script>alert(1)</script>\\u0001"\ncategory = "\\" onload=\\""\n',
        ),
        case(
            "duplicates",
            '[[skills]]\nname = "Go"\n[[skills]]\nname = "go"\n[[skills]]\nname = "GO!"\n',
        ),
    ]


def template_seeds() -> list[Case]:
    def case(
        name: str, text: str | bytes | None, expect: str | None = None, path: str = TEMPLATE
    ) -> Case:
        data = text.encode() if isinstance(text, str) else text
        return Case(f"template-{name}", "template", {path: data}, expect=expect)

    def page(body: str) -> str:
        return "{% extends 'base.html' %}\n{% block main %}\n" + body + "\n{% endblock %}\n"

    return [
        case("division-by-zero", page("{{ 1 // 0 }}"), None),
        case("undefined", page("{{ plant_count }}"), "index.html:3: 'plant_count' is undefined"),
        case(
            "missing-include",
            page("{% include 'partials/nav.html' %}"),
            "index.html:3: template not found: partials/nav.html",
        ),
        case(
            "missing-extends",
            "{% extends 'layout.html' %}\n",
            "index.html:1: template not found: layout.html",
        ),
        case("syntax", page("{{ oops( }}"), "index.html:3:"),
        case("unknown-filter", page("{{ site.title | shout }}"), "No filter named 'shout'"),
        case("self-include", page("{% include 'index.html' %}")),
        case("type-error", page("{{ '%d' % 'x' }}")),
        case("invalid-utf8", b"{% extends 'base.html' %}\xff\n", "not valid UTF-8"),
        case("deep-parens", page("{{ " + "(" * 1000 + "1" + ")" * 1000 + " }}")),
        case("index-out-of-range", page("{{ plants[999].spec.name }}")),
        case("none-attribute", page("{{ none.x.y }}")),
        case("runaway-macro", page("{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(0) }}")),
        case(
            "both-missing",
            page("{% include ['a.html', 'b.html'] %}"),
            "template not found: a.html or b.html",
        ),
        case(
            "import-missing",
            page("{% import 'macros.html' as m %}{{ m.x() }}"),
            "template not found: macros.html",
        ),
        case("is-a-folder", FOLDER),
        case(
            "project-page",
            page("{{ plant.name }} {{ series | length }} {{ state.spec.id }}"),
            None,
            "site_templates/project.html",
        ),
        case(
            "partial-error", "{{ weather.nothing.x }}\n", None, "site_templates/partials/card.html"
        ),
        case("valid", VALID_TEMPLATE),
    ]


def cli_seeds() -> list[Case]:
    def case(
        name: str, *runs: tuple[str, ...], expect: str | None = None, writes: bool = False
    ) -> Case:
        return Case(f"cli-{name}", "cli", {}, tuple(runs), expect, writes)

    return [
        case("port-too-big-serve", ("serve", "--port", "99999"), expect="--port"),
        case("port-negative-sidecar", ("sidecar", "--port", "-1"), expect="--port"),
        case("output-dot", ("build", "--offline", "--output", "."), expect="is the site folder"),
        case("output-empty", ("build", "--offline", "--output", "")),
        case(
            "output-slash",
            ("build", "--offline", "--output", "/"),
            expect="contains the site folder",
        ),
        case("db-folder", ("build", "--offline", "--db", "content")),
        case("db-config-file", ("build", "--offline", "--db", "greenhouse.toml")),
        case("db-missing-parent", ("build", "--offline", "--db", "no/such/dir/x.duckdb")),
        case(
            "base-url-js",
            ("build", "--offline", "--base-url", "javascript:alert(1)"),
            expect="--base-url",
        ),
        case("base-url-empty", ("build", "--offline", "--base-url", "")),
        case("plant-empty", ("plant", ""), writes=True),
        case("plant-traversal", ("plant", "../../etc/passwd"), writes=True),
        case("plant-control", ("plant", "a\x01b\x1b[31m"), writes=True),
        case("plant-long", ("plant", "x" * 10000), writes=True),
        case("plant-punctuation", ("plant", "!!!"), writes=True),
        case("plant-taken", ("plant", "Fern"), writes=True),
        case("plant-bad-repo", ("plant", "New", "--repo", "a/b/c"), writes=True),
        case("init-over-site", ("init", "."), writes=True),
        case("stats-zero-days", ("stats", "--days", "0")),
        case("stats-no-store", ("stats", "--json")),
        case("sync-unknown-source", ("sync", "--source", "nope")),
        case("auth-no-secrets", ("auth", "spotify", "--no-browser", "--timeout", "1")),
        case("unknown-command", ("grow",)),
        case("no-args", ()),
        case("version", ("--version",)),
        case("check-missing-root", ("check", "--root", "/nonexistent/greenhouse-site")),
        case("check-root-is-file", ("check", "--root", "greenhouse.toml")),
    ]


# -- random mutations ---------------------------------------------------------

TOKENS = [
    "[",
    "]",
    "[[",
    "]]",
    "{",
    "}",
    '"',
    "'",
    "'''",
    '"""',
    "=",
    "inf",
    "nan",
    "-0",
    "1e999",
    "0x7fffffffffffffff",
    "99999999999999999999",
    "true",
    "1979-05-27T07:32:00Z",
    "\x00",
    "\ufeff",
    "\u202e",
    "\x01",
    "\x1b",
    "#",
    "\n",
    "\r\n",
    "+++",
    ".",
    "\\",
    "\\u0000",
    "{{",
    "}}",
    "{%",
    "%}",
    "{{ 1 // 0 }}",
    "{{ nope }}",
    "{% include 'x.html' %}",
    "<script>",
    "]]>",
    "\U0001f331",
    "\t",
    " = [",
    "[[skills]]",
    "[site]",
    "a.b.c",
]


def mutate(text: bytes, rng: random.Random, steps: int) -> bytes:
    """*steps* random edits: delete, insert a token, duplicate or swap lines, flip a byte, cut."""
    data = bytearray(text)
    for _ in range(steps):
        op = rng.randrange(7)
        at = rng.randrange(len(data) + 1)
        if op == 0 and data:
            del data[at : at + rng.randint(1, 12)]
        elif op in (1, 2):
            data[at:at] = rng.choice(TOKENS).encode("utf-8", "surrogatepass")
        elif op == 3:
            lines = data.split(b"\n")
            k = rng.randrange(len(lines))
            lines.insert(k, lines[k])
            data = bytearray(b"\n".join(lines))
        elif op == 4:
            lines = data.split(b"\n")
            i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
            data = bytearray(b"\n".join(lines))
        elif op == 5 and data:
            data[min(at, len(data) - 1)] = rng.randrange(256)
        elif op == 6:
            del data[at:]
    return bytes(data)


def file_mutations(kind: str, path: str, valid: str, count: int, rng: random.Random) -> list[Case]:
    return [
        Case(
            f"{kind}-mutant-{n:03d}",
            kind,
            {path: mutate(valid.encode(), rng, rng.randint(1, 4))},
        )
        for n in range(count)
    ]


VALUES = [
    "",
    ".",
    "..",
    "/",
    "content",
    "greenhouse.toml",
    "build",
    "-1",
    "0",
    "1",
    "99999",
    "1e9",
    "nan",
    "inf",
    "\u202e",
    "x" * 300,
    "a/b",
    "--root",
    "-",
    "café",
    "http://",
    "javascript:x",
    "https://me.example/",
    "build/site",
    "out",
]
COMMANDS = {
    "build": ["--offline", "--output", "--db", "--base-url", "--force", "--strict"],
    "check": [],
    "stats": ["--days", "--json", "--db"],
    "plant": ["--repo"],
    "sync": ["--source", "--db", "--strict"],
}
FLAGS = {"--offline", "--force", "--strict", "--json"}


def cli_mutations(count: int, rng: random.Random) -> list[Case]:
    cases = []
    for n in range(count):
        command = rng.choice(sorted(COMMANDS))
        args: list[str] = [command]
        if command == "plant":
            args.append(rng.choice(VALUES) or "New plant")
        for option in rng.sample(
            COMMANDS[command], k=min(len(COMMANDS[command]), rng.randint(0, 3))
        ):
            args.append(option)
            if option not in FLAGS:
                args.append(rng.choice(VALUES))
        if command == "build" and "--offline" not in args:
            args.append("--offline")  # no network in the corpus
        if rng.random() < 0.15:
            args.insert(
                rng.randrange(1, len(args) + 1), rng.choice(["--nope", "-x", "--", "--root"])
            )
        cases.append(
            Case(f"cli-mutant-{n:03d}", "cli", {}, (tuple(args),), None, command == "plant")
        )
    return cases


def cases(seed: int = SEED) -> list[Case]:
    """The whole corpus, the same for the same seed."""
    rng = random.Random(seed)
    return [
        *config_seeds(),
        *file_mutations("config", CONFIG, VALID_CONFIG, 50, rng),
        *front_matter_seeds(),
        *file_mutations("front-matter", PROJECT, VALID_PROJECT, 50, rng),
        *skills_seeds(),
        *file_mutations("skills", SKILLS, VALID_SKILLS, 25, rng),
        *template_seeds(),
        *file_mutations("template", TEMPLATE, VALID_TEMPLATE, 30, rng),
        *cli_seeds(),
        *cli_mutations(30, rng),
    ]


def counts(corpus: list[Case]) -> Counter[str]:
    """Cases per kind, seeds and mutants apart."""
    return Counter(f"{c.kind} {'mutant' if '-mutant-' in c.id else 'seed'}" for c in corpus)


if __name__ == "__main__":
    corpus = cases()
    for key, n in sorted(counts(corpus).items()):
        print(f"{key:24} {n:4}")
    print(f"{'total':24} {len(corpus):4}")
