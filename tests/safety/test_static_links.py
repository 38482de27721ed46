"""Issue 16.2 (build): static files are published only when they really belong to the site."""

from __future__ import annotations

import os
from pathlib import Path

from greenhouse.site.static import StaticRule, publishable
from tests.conftest import run_module

TOKEN = "ghp_fuzzSECRETtoken1234567890"
LIVE = "live-SECRET-export-token"


def bundle_bytes(site: Path) -> list[tuple[Path, bytes]]:
    return [(p, p.read_bytes()) for p in (site / "build" / "site").rglob("*") if p.is_file()]


def test_links_to_the_environment_and_passwd_are_never_published(small_site: Path) -> None:
    """The evaluation's case, in a real process whose environment holds the tokens."""
    static = small_site / "site_templates" / "static"
    static.mkdir(parents=True)
    (static / "env.txt").symlink_to("/proc/self/environ")
    (static / "passwd.txt").symlink_to("/etc/passwd")
    (static / "logo.txt").write_text("a real static file")
    result = run_module(
        "build",
        "--offline",
        "--root",
        str(small_site),
        env={"GITHUB_TOKEN": TOKEN, "GREENHOUSE_LIVE_TOKEN": LIVE},
    )
    assert result.returncode == 0, result.stderr
    for path, data in bundle_bytes(small_site):
        assert TOKEN.encode() not in data and LIVE.encode() not in data, path
        assert b"root:x:0:0" not in data, path
    published = small_site / "build" / "site" / "static"
    assert (published / "logo.txt").read_text() == "a real static file"
    assert not (published / "env.txt").exists() and not (published / "passwd.txt").exists()
    assert f"warning: skipped static file {static / 'env.txt'}: leads out of the site" in (
        result.stderr
    )
    assert f"{static / 'passwd.txt'}: leads out of the site folder (to /etc/passwd)" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr


def test_links_inside_the_site_are_followed_but_not_into_hidden_or_private_files(
    cli, small_site: Path, tmp_path: Path
) -> None:
    static = small_site / "site_templates" / "static"
    static.mkdir(parents=True)
    images = small_site / "content" / "images"
    images.mkdir()
    (images / "fern.svg").write_text("<svg/>")
    (small_site / "README.txt").write_text("about this garden")
    (small_site / ".git").mkdir()
    (small_site / ".git" / "config").write_text(f"extraheader = AUTHORIZATION: basic {TOKEN}")
    (small_site / ".env").write_text(f"GITHUB_TOKEN={TOKEN}")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(TOKEN)

    (static / "images").symlink_to(images)  # a folder inside the site: followed
    (static / "readme.txt").symlink_to(small_site / "README.txt")  # a file inside: copied
    (static / "git-config").symlink_to(small_site / ".git" / "config")
    (static / "dotenv").symlink_to("../../.env")
    (static / "store.bin").symlink_to(small_site / "build" / "greenhouse.duckdb")
    (static / "store.wal").symlink_to(small_site / "build" / "greenhouse.duckdb.wal")
    (static / "outside").symlink_to(outside)  # a folder out of the site
    (static / "dangling").symlink_to(small_site / "nothing-here")
    (static / "loop").symlink_to(static)  # back into itself
    os.mkfifo(static / "pipe")  # reading it would hang the build

    assert cli("build", "--offline", "--root", small_site).exit_code == 0  # the store exists now
    result = cli("build", "--offline", "--force", "--root", small_site)
    assert result.exit_code == 0, result.output
    published = small_site / "build" / "site" / "static"
    assert (published / "images" / "fern.svg").read_text() == "<svg/>"
    assert (published / "readme.txt").read_text() == "about this garden"
    for name in ("git-config", "dotenv", "store.bin", "store.wal", "outside", "dangling", "pipe"):
        assert not (published / name).exists(), name
    assert not list(published.glob("loop/**/*"))
    for _path, data in bundle_bytes(small_site):
        assert TOKEN.encode() not in data
    out = result.output
    assert f"{static / 'git-config'}: leads into a hidden file or folder (.git" in out
    assert f"{static / 'dotenv'}: leads into a hidden file or folder (.env" in out
    assert f"{static / 'store.bin'}: leads to a private file" in out
    assert f"{static / 'outside'}: leads out of the site folder" in out
    assert f"{static / 'dangling'}: a link that leads nowhere" in out
    assert f"{static / 'loop'}: a link back into a folder above it" in out
    assert f"{static / 'pipe'}: not a regular file" in out
    # The wal file does not exist between builds: it "leads nowhere" rather than being private.
    assert f"{static / 'store.wal'}:" in out


def test_publishable_takes_only_plain_regular_files(tmp_path: Path) -> None:
    folder = tmp_path / "static"
    folder.mkdir()
    (folder / "a.css").write_text("body{}")
    (folder / "link.css").symlink_to(folder / "a.css")
    (folder / "sub").mkdir()
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "b.css").write_text("x")
    (folder / "via").symlink_to(tmp_path / "real")
    rule = StaticRule(folder, folder)
    assert publishable(rule, folder / "a.css")
    assert not publishable(rule, folder / "link.css")
    assert not publishable(rule, folder / "sub")
    assert not publishable(rule, folder / "via" / "b.css")  # reached through a link
    assert not publishable(rule, folder / "missing.css")
