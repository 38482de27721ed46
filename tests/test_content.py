from pathlib import Path

import pytest

from greenhouse.content import load_content, render_markdown
from greenhouse.errors import ContentError


def project(root: Path, name: str, text: str | bytes) -> Path:
    folder = root / "content" / "projects"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def test_front_matter_and_markdown(tmp_path: Path) -> None:
    project(
        tmp_path,
        "tidy.md",
        '+++\ntitle = "Tidy"\nrepo = "me/tidy"\nskills = ["Go"]\n+++\n# Hi\n\n*there*\n',
    )
    [p] = load_content(tmp_path).projects
    assert p.slug == "tidy" and p.meta.title == "Tidy" and p.meta.repo == "me/tidy"
    assert "<h1>Hi</h1>" in p.body_html and "<em>there</em>" in p.body_html


def test_markdown_is_sanitised() -> None:
    html = render_markdown(
        "<img src=x onerror=alert(1)>\n\n<script>alert(2)</script>\n\n[a](javascript:alert(3))"
    )
    assert "onerror" not in html and "<script" not in html and 'href="javascript' not in html
    assert '<img src="x">' in html  # the harmless part of the markup survives


def test_front_matter_that_never_closes(tmp_path: Path) -> None:
    path = project(tmp_path, "open.md", '+++\ntitle = "x"\n\nbody\n')
    with pytest.raises(ContentError) as info:
        load_content(tmp_path)
    [problem] = info.value.problems
    assert problem.file == path and problem.line == 1 and "never closed" in problem.message


def test_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    project(tmp_path, "bad.md", b'+++\ntitle = "x"\n+++\nline four\n\xff\xfe\n')
    with pytest.raises(ContentError) as info:
        load_content(tmp_path)
    assert info.value.problems[0].line == 5 and "UTF-8" in info.value.problems[0].message


def test_wrong_type_and_unknown_key_with_lines(tmp_path: Path) -> None:
    project(tmp_path, "a.md", '+++\ntitle = "A"\npinned = "yes please"\ncolour = "red"\n+++\n')
    with pytest.raises(ContentError) as info:
        load_content(tmp_path)
    found = {(p.field, p.line) for p in info.value.problems}
    assert found == {("pinned", 3), ("colour", 4)}


def test_path_traversal_and_bad_slugs_are_refused(tmp_path: Path) -> None:
    project(tmp_path, "a.md", '+++\nslug = "../../etc"\n+++\n')
    project(tmp_path, "Bad Name.md", "+++\n+++\n")
    with pytest.raises(ContentError) as info:
        load_content(tmp_path)
    messages = " ".join(str(p) for p in info.value.problems)
    assert "a.md" in messages and "[a-z0-9-]+" in messages
    assert "Bad Name.md" in messages


def test_duplicate_slugs_and_repos(tmp_path: Path) -> None:
    project(tmp_path, "one.md", '+++\nslug = "same"\n+++\n')
    project(tmp_path, "same.md", "+++\n+++\n")
    project(tmp_path, "x.md", '+++\nrepo = "me/x"\n+++\n')
    project(tmp_path, "y.md", '+++\nrepo = "Me/X"\n+++\n')
    with pytest.raises(ContentError) as info:
        load_content(tmp_path)
    text = "\n".join(str(p) for p in info.value.problems)
    assert "duplicate slug 'same'" in text
    assert "already attached" in text


def test_skills_file_errors_name_line_and_field(tmp_path: Path) -> None:
    (tmp_path / "content").mkdir()
    (tmp_path / "content" / "skills.toml").write_text(
        '[[skills]]\nname = "Go"\n\n[[skills]]\nname = "Rust"\nlevel = 9\n'
    )
    with pytest.raises(ContentError) as info:
        load_content(tmp_path)
    [problem] = info.value.problems
    assert problem.field == "skills.1.level" and problem.line == 6
