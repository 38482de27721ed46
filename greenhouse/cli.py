"""The ``greenhouse`` command line: thin wrappers over one library call each.

Exit status: 0 success, 1 a problem the user can fix (a
:class:`~greenhouse.errors.GreenhouseError`, printed as one message per
problem, never a traceback), 2 bad usage.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
import typer.core

from greenhouse import __version__
from greenhouse.commands import (
    INTERRUPTED,
    build_command,
    err,
    failure_status,
    show_library_warnings,
)

app = typer.Typer(
    name="greenhouse",
    help="Grow a living portfolio garden from your real activity: a static site and JSON API.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: option texts show [sections] literally
)

RootOption = Annotated[
    Path,
    typer.Option(
        "--root", help="The site folder (holds greenhouse.toml and content/).", show_default="."
    ),
]
F = TypeVar("F", bound=Callable[..., Any])


def friendly(func: F) -> F:
    """Turn a GreenhouseError into its message and exit status 1 (Ctrl-C: 130)."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (Exception, KeyboardInterrupt) as exc:
            status = failure_status(exc)
            if status is None:
                raise
            raise typer.Exit(status) from None

    return wrapper  # type: ignore[return-value]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"greenhouse {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Grow a living portfolio garden from your real activity."""
    show_library_warnings()


@app.command()
@friendly
def build(
    root: RootOption = Path("."),
    offline: Annotated[
        bool, typer.Option("--offline", help="Skip syncing; build from the stored data.")
    ] = False,
    output: Annotated[
        Path | None, typer.Option("--output", help="Bundle folder (default: [build] output).")
    ] = None,
    db: Annotated[
        Path | None, typer.Option("--db", help="DuckDB file (default: [build] db).")
    ] = None,
    strict: Annotated[
        bool,
        typer.Option("--strict", help="Fail when a source fails, instead of using stale data."),
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Rebuild even when nothing changed.")
    ] = False,
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url", help="Override [site] base_url (CI passes the GitHub Pages URL)."
        ),
    ] = None,
) -> None:
    """Sync (unless --offline), simulate, render, and publish the bundle atomically."""
    # What ``greenhouse build`` runs when its entry point reads the arguments itself
    # (greenhouse.launch): the same function, so the same lines and status.
    build_command(
        root,
        offline=offline,
        output=output,
        db=db,
        strict=strict,
        force=force,
        base_url=base_url,
    )


class _SyncCommand(typer.core.TyperCommand):
    """``greenhouse sync``: its help ends with the installed sources, read only when shown."""

    def format_epilog(self, ctx: Any, formatter: Any) -> None:
        super().format_epilog(ctx, formatter)
        from greenhouse.sources.registry import registry

        installed = registry()
        rows = [(name, source.summary) for name, source in installed.sources.items()]
        rows += [
            (name, "cannot be loaded (greenhouse check says why)") for name in installed.broken
        ]
        with formatter.section("Installed sources (greenhouse.sources entry points)"):
            formatter.write_dl(rows)


@app.command(cls=_SyncCommand)
@friendly
def sync(
    root: RootOption = Path("."),
    source: Annotated[
        list[str] | None,
        typer.Option(
            "--source",
            metavar="NAME",
            help="Only this source (one of the installed sources listed below); repeatable.",
        ),
    ] = None,
    db: Annotated[
        Path | None, typer.Option("--db", help="DuckDB file (default: [build] db).")
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit 1 when any source fails or stops early.")
    ] = False,
) -> None:
    """Pull every configured source (forges, music, weather, visits) into the DuckDB file."""
    from greenhouse.build import sync as run_sync
    from greenhouse.sources.progress import RichReporter

    report = run_sync(root, source, db=db, strict=strict or None, reporter=RichReporter())
    ran = [r for r in getattr(report, "sources", []) if r.status != "skipped"]
    if not ran:
        typer.echo(
            "No source is configured; see docs/sources.md (the garden still grows from content)."
        )


@app.command()
@friendly
def sidecar(
    root: RootOption = Path("."),
    host: Annotated[
        str | None, typer.Option("--host", help="Address to listen on (default: [live] host).")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            "--port", min=0, max=65535, help="Port to listen on (default: [live] port; 0: any)."
        ),
    ] = None,
) -> None:
    """Run the live presence server (websocket /ws/garden, /healthz, /metrics, /api/events)."""
    from greenhouse.config import load_site
    from greenhouse.sidecar import run

    run(load_site(root), host=host, port=port)


@app.command()
@friendly
def check(root: RootOption = Path(".")) -> None:
    """Validate config and content without building; lists every problem at once."""
    from greenhouse.build import check as run_check
    from greenhouse.build import check_warnings

    site, content = run_check(root)
    for warning in check_warnings(site, content):
        err(f"warning: {warning}")
    typer.echo(
        f"OK: {site.root / 'greenhouse.toml'} and {len(content.projects)} project files, "
        f"{len(content.skills)} skills."
    )


@app.command()
@friendly
def init(
    directory: Annotated[
        Path, typer.Argument(help="Folder of the new site (created if missing).", show_default=".")
    ] = Path("."),
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite files that already exist.")
    ] = False,
    demo: Annotated[
        bool,
        typer.Option("--demo", help="Enable generated demo activity ([demo] enabled = true)."),
    ] = False,
) -> None:
    """Scaffold a new site: commented config, example content, .gitignore, nightly CI workflow."""
    from greenhouse.build import today_utc
    from greenhouse.scaffold import init_site

    result = init_site(directory, today_utc(), force=force, demo=demo)
    for path in result.files:
        typer.echo(f"  wrote {path.relative_to(result.root)}")
    typer.echo(
        f"New site in {result.root}. Next: edit greenhouse.toml, then "
        f"`greenhouse build --offline --root {directory}`."
    )


@app.command()
@friendly
def plant(
    name: Annotated[
        str, typer.Argument(help="The project's name (its title; the slug is made from it).")
    ],
    repo: Annotated[
        str | None,
        typer.Option(
            "--repo",
            help="Attach the repository OWNER/NAME (GitHub) or FORGE:PATH (gitlab:group/project).",
        ),
    ] = None,
    root: RootOption = Path("."),
) -> None:
    """Plant a new project seed: write content/projects/<slug>.md."""
    from greenhouse.build import today_utc
    from greenhouse.scaffold import plant_seed

    path = plant_seed(root, name, today_utc(), repo=repo)
    typer.echo(f"Planted {path}")


@app.command()
@friendly
def stats(
    root: RootOption = Path("."),
    days: Annotated[
        int, typer.Option("--days", min=1, max=3650, help="Days of visits to report.")
    ] = 30,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    db: Annotated[
        Path | None, typer.Option("--db", help="DuckDB file (default: [build] db).")
    ] = None,
    wait: Annotated[
        float,
        typer.Option(
            "--wait",
            min=0,
            help="Seconds to wait for a running build or sync to release the store (0: don't).",
        ),
    ] = 120.0,
) -> None:
    """Visitor analytics and garden health in the terminal (read-only)."""
    import json

    from greenhouse.analytics import print_report
    from greenhouse.build import stats as run_stats

    def waiting(path: Path) -> None:
        err(f"waiting for the build or sync that is using {path} (up to {wait:g}s)…")

    report = run_stats(root, days=days, db=db, wait=wait, on_wait=waiting)
    if as_json:
        typer.echo(json.dumps(report, indent=2, sort_keys=True))
        return
    from rich.console import Console

    print_report(report, Console())


auth_app = typer.Typer(name="auth", help="Sign in to upstream services.", no_args_is_help=True)
app.add_typer(auth_app)


@auth_app.command("spotify")
@friendly
def auth_spotify(
    port: Annotated[
        int,
        typer.Option(
            "--port",
            min=0,
            max=65535,
            help="Loopback port of the redirect URI (0: any free port).",
        ),
    ] = 0,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Print the sign-in URL instead of opening it.")
    ] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", min=1, help="Seconds to wait for the sign-in.")
    ] = 300.0,
    root: RootOption = Path("."),
) -> None:
    """Obtain a Spotify refresh token through a browser sign-in on localhost."""
    import webbrowser

    from greenhouse.config import Secrets, load_site
    from greenhouse.sources.spotify_auth import sign_in

    site = load_site(root)
    env = Secrets.from_env()

    def show(url: str) -> None:
        typer.echo("Sign in to Spotify at:")
        typer.echo(f"  {url}")
        sys.stdout.flush()
        if not no_browser:
            webbrowser.open(url)

    grant = sign_in(
        site.config.spotify.accounts_url,
        env.spotify_client_id,
        env.spotify_client_secret,
        show,
        port=port,
        timeout=timeout,
    )
    typer.echo("")
    typer.echo("Your Spotify refresh token (shown once; store it now):")
    typer.echo(f"  {grant.refresh_token}")
    typer.echo("")
    typer.echo("For the nightly workflow, store it as a repository secret:")
    typer.echo("  gh secret set SPOTIFY_REFRESH_TOKEN")
    typer.echo("(paste the token when asked), and locally: export SPOTIFY_REFRESH_TOKEN=…")
    typer.echo(
        "Spotify refresh tokens expire six months after this sign-in: "
        "run `greenhouse auth spotify` again then."
    )


@app.command()
@friendly
def serve(
    root: RootOption = Path("."),
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port to listen on (0: any free one).")
    ] = 8000,
    host: Annotated[
        str,
        typer.Option(
            "--host",
            help="Interface to listen on (keep 127.0.0.1 unless you mean to share the site).",
        ),
    ] = "127.0.0.1",
    sync: Annotated[
        bool, typer.Option("--sync", help="Sync the sources before each build (default: offline).")
    ] = False,
    open_browser: Annotated[
        bool, typer.Option("--open", help="Open the site in the default browser.")
    ] = False,
) -> None:
    """Build, serve locally, rebuild on change and reload the browser."""
    from greenhouse.site.serve import serve as run_serve

    try:
        run_serve(root, port, host, open_browser, offline=not sync, say=typer.echo)
    except OSError as exc:
        err(f"error: cannot listen on {host}:{port}: {exc.strerror}")
        raise typer.Exit(1) from None


def main() -> None:
    """Console-script entry point."""
    import signal

    try:
        app()
    except KeyboardInterrupt:
        # Ctrl-C outside a command's own handling (while typer starts or finishes).
        err(INTERRUPTED)
        raise SystemExit(130) from None
    finally:
        # The command is over and its status decided: a Ctrl-C while Python shuts
        # down (joining threads, closing DuckDB) must not turn it into a traceback.
        signal.signal(signal.SIGINT, signal.SIG_IGN)


if __name__ == "__main__":
    main()
