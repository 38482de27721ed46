"""``greenhouse serve``: build, serve the bundle locally, rebuild on change, reload the browser.

The bundle is served at its ``base_url`` path on localhost, so links behave as
they will once published. Every HTML page gets one extra ``<script>`` (only
here, never in the bundle on disk) that listens to a server-sent-events stream
at ``/__greenhouse/events``: a rebuild makes the page reload, a change to
stylesheets alone swaps them in place, and a failed build shows an overlay with
the file, line and lines around it while the last good site keeps being served.

A dev server on 127.0.0.1 is still reachable from any web page the developer
opens, through DNS rebinding (a hostile name that resolves to 127.0.0.1), so
it answers only requests whose ``Host`` is a name the developer really uses
(:func:`host_allowed`), and it serves only files that really are inside the
bundle (no link out of ``build/site``). No error in a build, however
unexpected, stops the watcher: the next save rebuilds.

Rebuilds keep a :class:`~greenhouse.build_cache.BuildCache`: a template edit
re-renders pages from the garden already grown, and a content edit renders
only the outputs whose inputs changed (the others are linked from the
published bundle), so a reload follows an edit within a fraction of a second
even with a thousand plants (tests/bench/bench_serve.py).
"""

from __future__ import annotations

import ipaddress
import json
import mimetypes
import os
import shutil
import threading
import time
import traceback
import webbrowser
from collections.abc import Callable, Iterable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from stat import S_ISDIR
from typing import Any
from urllib.parse import unquote

from greenhouse.build_cache import BuildCache
from greenhouse.config import CONFIG_FILE, load_site
from greenhouse.errors import GreenhouseError, TemplateError
from greenhouse.site.output import real
from greenhouse.site.render import THEME as _THEME
from greenhouse.site.render import Links
from greenhouse.site.static import StaticRule, publishable

EVENTS = "/__greenhouse/events"
CLIENT = "/__greenhouse/reload.js"
CLIENT_FILE = Path(__file__).with_name("livereload.js")
THEME = _THEME.resolve()
Say = Callable[[str], None]


def error_report(exc: GreenhouseError, context: int = 3) -> dict[str, Any]:
    """A build failure as the overlay shows it: message, file, line and the lines around it."""
    file: str | None = None
    line: int | None = None
    source: str | None = None
    message = str(exc)
    if isinstance(exc, TemplateError):
        file, line, source = exc.file, exc.line, exc.source
        where = f"{file}:{line}: " if file and line else (f"{file}: " if file else "")
        message = message.removeprefix(where)  # the overlay shows the place on its own line
    problems = getattr(exc, "problems", None)
    if problems:
        first = problems[0]
        file, line = str(first.file), first.line
        message = first.message if len(problems) == 1 else message
    if source is None and file and line:
        try:
            source = Path(file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            source = None
    lines: list[tuple[int, str]] = []
    if source is not None and line:
        text = source.splitlines()
        lo, hi = max(1, line - context), min(len(text), line + context)
        lines = [(n, text[n - 1]) for n in range(lo, hi + 1)]
    return {"message": message, "file": file, "line": line, "lines": lines}


def crash_report(exc: BaseException) -> dict[str, Any]:
    """An unexpected failure as the overlay shows it: where in greenhouse it happened."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = frames[-1] if frames else None
    return {
        "message": f"greenhouse failed unexpectedly: {type(exc).__name__}: {exc}"
        " (a bug: the full traceback is in the terminal; please report it)",
        "file": where.filename if where else None,
        "line": where.lineno if where else None,
        "lines": [],
    }


def host_allowed(header: str | None, bound: str) -> bool:
    """Whether a request's ``Host`` names this server as the developer reaches it.

    Allowed: ``localhost`` (and ``*.localhost``, loopback by RFC 6761), any IP
    address literal (a page served from an IP address cannot rebind it), and
    the ``--host`` the server was started with. Any other name may be a
    rebinding attack (the port is not compared: it is the same socket either way).
    """
    if not header:
        return False
    name = header.strip().lower()
    if name.startswith("["):
        name = name[1:].split("]", 1)[0]
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    name = name.rstrip(".")
    if not name:
        return False
    if name == "localhost" or name.endswith(".localhost"):
        return True
    if name == bound.strip("[]").lower().rstrip("."):
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class LiveState:
    """What every browser tab should know: the site version and the current build error."""

    def __init__(self) -> None:
        self.version = 1
        self.kind = "page"
        self.error: dict[str, Any] | None = None
        self.closed = False
        self.changed = threading.Condition()

    def publish(self, kind: str | None = None, error: dict[str, Any] | None = None) -> None:
        """Announce a new site (``kind`` 'page' or 'css') or a failed build (``error``)."""
        with self.changed:
            if error is None:
                self.version += 1
                self.kind = kind or "page"
            self.error = error
            self.changed.notify_all()

    def message(self) -> str:
        """The current state as one JSON event."""
        return json.dumps({"version": self.version, "kind": self.kind, "error": self.error})

    def close(self) -> None:
        """Wake every stream so its thread can end."""
        with self.changed:
            self.closed = True
            self.changed.notify_all()


class DevServer:
    """The bundle on localhost, rebuilt by a watcher thread."""

    def __init__(
        self,
        root: Path | str,
        port: int = 8000,
        host: str = "127.0.0.1",
        *,
        offline: bool = True,
        say: Say | None = None,
    ):
        self.site = load_site(root)
        self.root = self.site.root
        self.offline = offline
        self.say = say or (lambda _: None)
        self.base_path = Links(self.site.config.site.base_url).base_path
        self.output = self.site.path(self.site.config.build.output)
        self.live = LiveState()
        self.cache = BuildCache()
        folders = [
            os.fspath(f) for f in (THEME, self.root / "content", self.root / "site_templates")
        ]
        self._watched = {*folders, os.fspath(self.root / CONFIG_FILE)}
        self._watched_prefixes = tuple(folder + os.sep for folder in folders)
        self.stop_event = threading.Event()
        self.watching = threading.Event()
        self.lock = threading.Lock()
        self.host = host
        self.httpd = ThreadingHTTPServer((host, port), _handler(self))
        self.httpd.daemon_threads = True
        self.threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        """Where the site is served."""
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}{self.base_path}"

    def rebuild(self, first: bool = False) -> bool:
        """Build; publish the result or the error.

        Every build renders (the first one too, so the cache is warm for the
        first edit); outputs that did not change are linked, not rewritten.
        """
        from greenhouse.build import build

        with self.lock:
            started = time.perf_counter()
            reloaded: list[float] = []

            def reload() -> None:  # as soon as the bundle is in place: the rest is cleanup
                reloaded.append(time.perf_counter())
                self.live.publish("page")

            try:
                result = build(
                    self.root,
                    offline=self.offline,
                    force=True,
                    cache=self.cache,
                    on_publish=reload,
                )
            except GreenhouseError as exc:
                self.say(f"build failed: {exc}")
                self.live.publish(error=error_report(exc))
                return False
            except Exception as exc:  # a bug, not the user's input: report it, keep watching
                self.say(f"build crashed (a bug in greenhouse):\n{traceback.format_exc()}")
                self.live.publish(error=crash_report(exc))
                return False
            took = (reloaded[0] if reloaded else time.perf_counter()) - started
            if result.skipped:
                self.say(f"site up to date ({took:.2f}s)")
            else:
                self.say(
                    f"built {result.plants} plants in {took:.2f}s "
                    f"({result.written} of {result.files} files changed"
                    f"{'' if result.grown else ', garden reused'})"
                )
            if not reloaded:
                self.live.publish("page")
            return True

    def changed(self, paths: Iterable[Path]) -> None:
        """React to changed files: copy static assets straight in, otherwise rebuild."""
        # A file written into a folder made a moment before can beat the watcher to it,
        # so a new folder stands for the files already in it; an empty one changes nothing.
        found: list[Path] = []
        for path in paths:
            found.extend(
                sorted(f for f in path.rglob("*") if f.is_file()) if path.is_dir() else [path]
            )
        paths = list(dict.fromkeys(found))
        if not paths:
            return
        statics = [self._static_target(p) for p in paths]
        if self.live.error is None and statics and all(t is not None for t in statics):
            for source, target in zip(paths, statics, strict=True):
                assert target is not None
                _replace_file(source, target)
            css = all(p.suffix == ".css" for p in paths)
            self.say("stylesheet swapped" if css else "static files copied")
            self.live.publish("css" if css else "page")
            return
        self.rebuild()

    def _static_target(self, path: Path) -> Path | None:
        """The bundle path of a theme or site static file to copy as it is, else None.

        Links, FIFOs and the like are never copied here: a full rebuild
        selects them by the bundle's rules (and warns about those it skips).
        """
        for folder in (THEME / "static", self.root / "site_templates" / "static"):
            if path.is_relative_to(folder) and publishable(StaticRule(folder, folder), path):
                override = self.root / "site_templates" / "static" / path.relative_to(folder)
                if folder == THEME / "static" and override.exists():
                    return None  # the site's own file wins; nothing to copy
                return self.output / "static" / path.relative_to(folder)
        return None

    def watched(self, path: Path | str) -> bool:
        """Whether a change to *path* affects the site.

        Asked for every event under the site folder, the bundle's own included
        (thousands per rebuild), on the watcher thread: plain string prefixes.
        """
        name = os.fspath(path)
        return name in self._watched or name.startswith(self._watched_prefixes)

    def watch(self) -> None:
        """Rebuild on every batch of changes until stopped; no error ends the loop.

        Only the inputs are watched: the theme, ``content/`` and
        ``site_templates/``, recursively. Watching the whole site folder
        watched the bundle too, and every rebuild's thousands of links and
        renames there kept the watcher busy, delaying the next edit's rebuild
        by up to half a second at a thousand plants. ``greenhouse.toml`` and
        the input folders' coming and going are seen by their identity,
        checked on every batch and every tick of the watcher (0.1 s).
        """
        import watchfiles

        top = self._top()
        fresh: list[Path] = []
        while not self.stop_event.is_set():
            folders = self._watched_folders()
            try:
                for changes in watchfiles.watch(
                    *folders,
                    watch_filter=lambda _change, name: self.watched(name),
                    debounce=60,
                    step=20,
                    stop_event=self.stop_event,
                    raise_interrupt=False,
                    # An empty batch every tick: the first says the watches are in place.
                    rust_timeout=100,
                    yield_on_timeout=True,
                ):
                    self.watching.set()
                    # A folder made a moment ago may hold files written before its watch
                    # was in place: the first batch of the new watch stands for them.
                    paths = fresh + [Path(name) for _change, name in sorted(changes)]
                    now = self._top()
                    changed = [path for path in now if now[path] != top[path]]
                    top, fresh = now, []
                    config = self.root / CONFIG_FILE
                    # The config saved, or an input folder removed: rebuild now.
                    paths += [p for p in changed if p == config or now[p] is None]
                    if paths:
                        self.react(paths)
                    moved = [p for p in changed if p != config]
                    if moved:  # an input folder made, removed or replaced: watch the new set
                        fresh = [p for p in moved if now[p] is not None]
                        break
            except Exception:  # the watcher itself failed (a folder vanished…): start it again
                self.say(f"watcher restarted after an error:\n{traceback.format_exc()}")
                self.stop_event.wait(0.5)

    def _watched_folders(self) -> list[Path]:
        """The folders watched recursively: the theme, and the site's input folders that exist."""
        inputs = (self.root / "content", self.root / "site_templates")
        return [THEME, *(folder for folder in inputs if folder.is_dir())]

    def _top(self) -> dict[Path, tuple[int, ...] | None]:
        """The identity of the config file and of the input folders (None: not there)."""
        found: dict[Path, tuple[int, ...] | None] = {}
        for path in (self.root / CONFIG_FILE, self.root / "content", self.root / "site_templates"):
            try:
                stat = path.stat()
            except OSError:
                found[path] = None
                continue
            # A folder's own times change with every file made in it: only its inode counts.
            found[path] = (
                (stat.st_ino,)
                if S_ISDIR(stat.st_mode)
                else (stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
            )
        return found

    def react(self, paths: Iterable[Path]) -> None:
        """:meth:`changed`, guarded: an error is reported in the overlay, never raised."""
        try:
            self.changed(paths)
        except Exception as exc:
            self.say(f"update failed (a bug in greenhouse):\n{traceback.format_exc()}")
            self.live.publish(error=crash_report(exc))

    def start(self) -> None:
        """Build once, then serve and watch in background threads.

        Returns once the watcher is in place: with a big bundle in the site
        folder, setting up its watches takes long enough for an edit made
        right after start to go unseen otherwise.
        """
        self.rebuild(first=True)
        for target in (self.httpd.serve_forever, self.watch):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self.threads.append(thread)
        self.watching.wait(timeout=60)

    def stop(self) -> None:
        """Stop serving and watching."""
        self.stop_event.set()
        self.live.close()
        self.httpd.shutdown()
        self.httpd.server_close()
        for thread in self.threads:
            thread.join(timeout=5)


def serve(
    root: Path | str = ".",
    port: int = 8000,
    host: str = "127.0.0.1",
    open_browser: bool = False,
    *,
    offline: bool = True,
    say: Say | None = None,
) -> None:
    """Build and serve the site, rebuilding and reloading on change, until interrupted."""
    server = DevServer(root, port, host, offline=offline, say=say)
    server.start()
    (say or (lambda _: None))(f"Serving {server.url} (Ctrl+C to stop)")
    if open_browser:
        webbrowser.open(server.url)
    try:
        while not server.stop_event.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


def quote_path(path: str) -> str:
    """A decoded URL path made safe to send back in a ``Location`` header."""
    from urllib.parse import quote

    return quote(path, safe="/-._~!$&'()*+,;=:@")


def _replace_file(source: Path, target: Path) -> None:
    """Copy *source* over *target* by renaming a full copy into place.

    A request being served never reads a half-copied file, and the bundle's
    file is never written through (it may be a link shared with a bundle
    being staged).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.copy")
    shutil.copyfile(source, temporary)
    os.replace(temporary, target)


def _handler(server: DevServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: with Nagle's algorithm the body waited for
        # the browser's delayed ACK of the headers, 40 ms per file on every reload.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the terminal shows builds, not every request."""

        def do_GET(self) -> None:
            if not host_allowed(self.headers.get("Host"), server.host):
                return self._refuse_host()
            path = unquote(self.path.split("?", 1)[0].split("#", 1)[0])
            if "\0" in path:
                return self._not_found()
            if path == EVENTS:
                return self._events()
            if path == CLIENT:
                return self._send(200, CLIENT_FILE.read_bytes(), "text/javascript")
            base = server.base_path
            if path + "/" == base:
                return self._redirect(base)
            if not path.startswith(base):
                return self._not_found()
            relative = path[len(base) :]
            if ".." in relative.split("/"):
                return self._not_found()
            file = server.output / relative
            if not real(file).is_relative_to(real(server.output)):
                return self._not_found()  # a link out of the bundle is never followed
            if file.is_dir():
                if not path.endswith("/"):
                    return self._redirect(quote_path(path) + "/")
                file = file / "index.html"
            if not file.is_file() or not real(file).is_relative_to(real(server.output)):
                return self._not_found()
            self._file(200, file)

        def _refuse_host(self) -> None:
            host = self.headers.get("Host") or "(none)"
            message = (
                f"greenhouse serve answers only to localhost, IP addresses and its --host; "
                f"not to the Host {host!r} (DNS-rebinding protection).\n"
            )
            self._send(403, message.encode(), "text/plain; charset=utf-8")

        def _file(self, status: int, file: Path) -> None:
            data = file.read_bytes()
            kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
            if file.suffix == ".html":
                tag = f'<script src="{CLIENT}?v={server.live.version}" defer></script>\n</body>'
                data = data.replace(b"</body>", tag.encode(), 1)
                kind = "text/html; charset=utf-8"
            elif kind.startswith("text/") or kind in {"application/json", "application/xml"}:
                kind += "; charset=utf-8"
            self._send(status, data, kind)

        def _not_found(self) -> None:
            page = server.output / "404.html"
            if page.is_file():
                return self._file(404, page)
            self._send(404, b"not found", "text/plain")

        def _redirect(self, location: str) -> None:
            self.send_response(HTTPStatus.FOUND)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _send(self, status: int, data: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def _events(self) -> None:
            live = server.live
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            seen = None
            try:
                while not live.closed:
                    with live.changed:
                        current = live.message()
                        if current == seen:
                            live.changed.wait(timeout=15)
                            current = live.message()
                    if live.closed:
                        break
                    if current == seen:
                        self.wfile.write(b": ping\n\n")
                    else:
                        self.wfile.write(b"retry: 500\ndata: " + current.encode() + b"\n\n")
                        seen = current
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass

    return Handler
