"""Issue 16.2 and 16.3 (serve): Host check, no link out of the bundle, a watcher that never dies.

A real DevServer on port 0 of 127.0.0.1, real requests over sockets, real
file changes picked up by the real watcher.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import pytest

from greenhouse.site.serve import DevServer, host_allowed


@pytest.fixture
def server(small_site: Path) -> Iterator[DevServer]:
    dev = DevServer(small_site, port=0)
    dev.start()
    wait_until_watching(dev, small_site / "greenhouse.toml")
    yield dev
    dev.stop()


def wait_until_watching(dev: DevServer, watched: Path) -> None:
    """Touch a watched file until a rebuild shows the watcher is set up (it starts a moment
    after the server: a change made before that is never seen)."""
    for _ in range(20):
        version = dev.live.version
        watched.write_bytes(watched.read_bytes())
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            if dev.live.version != version and not dev.lock.locked():
                return
            time.sleep(0.05)
    raise AssertionError("the watcher never saw a change")


def get(server: DevServer, path: str, host: str | None = "default") -> tuple[int, bytes]:
    """GET *path* with the given Host header (None: no Host header at all)."""
    address, port = server.httpd.server_address[:2]
    if host is None:  # http.client always sends one; speak HTTP/1.1 by hand
        with socket.create_connection((str(address), port), timeout=5) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        return int(head.split()[1]), body
    connection = http.client.HTTPConnection(str(address), port, timeout=5)
    try:
        connection.putrequest("GET", path, skip_host=True)
        connection.putheader("Host", f"127.0.0.1:{port}" if host == "default" else host)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_only_the_names_a_developer_uses_are_answered(server: DevServer) -> None:
    port = server.httpd.server_address[1]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost", f"[::1]:{port}"):
        assert get(server, "/garden/", host)[0] == 200, host
    for host in (f"evil.example:{port}", "attacker.localhost.evil.example", "127.0.0.1.nip.io"):
        code, body = get(server, "/garden/", host)
        assert code == 403 and b"DNS-rebinding" in body and b"Small garden" not in body, host
        assert get(server, "/__greenhouse/events", host)[0] == 403
    assert get(server, "/garden/", None)[0] == 403


def test_host_allowed_rules() -> None:
    assert host_allowed("LOCALHOST.:8000", "127.0.0.1")
    assert host_allowed("app.localhost", "127.0.0.1")
    assert host_allowed("192.168.1.20:8000", "0.0.0.0")  # an address cannot be rebound
    assert host_allowed("[fe80::1]:8000", "::")
    assert host_allowed("devbox.lan:8000", "devbox.lan")  # the --host the server was given
    assert not host_allowed("devbox.lan:8000", "0.0.0.0")
    assert not host_allowed("evil.example", "127.0.0.1")
    assert not host_allowed("", "127.0.0.1") and not host_allowed(None, "127.0.0.1")
    assert not host_allowed(":8000", "127.0.0.1")


def test_nothing_outside_the_bundle_is_served(server: DevServer, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("private notes")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "index.html").write_text("private page")
    bundle = server.output
    (bundle / "leak.txt").symlink_to(secret)
    (bundle / "leakdir").symlink_to(outside)
    (bundle / "static" / "two words.txt").write_text("spaces are fine")
    assert get(server, "/garden/leak.txt") == (404, get(server, "/garden/nowhere")[1])
    assert get(server, "/garden/leakdir/")[0] == 404
    assert get(server, "/garden/leakdir/index.html")[0] == 404
    assert get(server, "/garden/%2e%2e/%2e%2e/secret.txt")[0] == 404
    assert get(server, "/garden/..%2f..%2fsecret.txt")[0] == 404
    assert get(server, "/garden/index.html%00.txt")[0] == 404
    assert get(server, "/garden/static/two%20words.txt") == (200, b"spaces are fine")
    for path in ("/garden/leak.txt", "/garden/leakdir/index.html"):
        assert b"private" not in get(server, path)[1]


class Events:
    """The server-sent events stream, as the overlay script reads it."""

    def __init__(self, server: DevServer):
        address, port = server.httpd.server_address[:2]
        self.stream = urlopen(f"http://{address}:{port}/__greenhouse/events", timeout=30)

    def next(self, timeout: float = 60) -> dict[str, Any]:
        """The next event; the stream pings every 15 s, so a missing one fails in time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.stream.readline().decode()
            if line.startswith("data: "):
                return json.loads(line[6:])  # type: ignore[no-any-return]
        raise AssertionError(f"no event in {timeout} s: the watcher or the build is stuck")

    def close(self) -> None:
        self.stream.close()


@pytest.mark.parametrize(
    ("broken", "line", "says"),
    [
        ("<p>{{ 1 // 0 }}</p>", 3, "division or modulo by zero (ZeroDivisionError)"),
        ("<p>{{ plant_count }}</p>", 3, "'plant_count' is undefined"),
        ("{% include 'partials/missing.html' %}", 3, "template not found: partials/missing.html"),
    ],
)
def test_serve_keeps_rebuilding_after_a_template_runtime_error(
    server: DevServer, small_site: Path, broken: str, line: int, says: str
) -> None:
    events = Events(server)
    try:
        first = events.next()
        assert first["error"] is None
        template = small_site / "site_templates" / "index.html"
        template.parent.mkdir()
        template.write_text(
            "{% extends 'base.html' %}\n{% block main %}\n" + broken + "\n{% endblock %}\n"
        )
        error = events.next()["error"]
        assert error is not None, "no overlay"
        assert error["file"] == str(template) and error["line"] == line
        assert says in error["message"]
        assert [line, broken] in error["lines"]
        time.sleep(0.1)
        template.write_text(
            "{% extends 'base.html' %}\n{% block main %}\n<p>mended</p>\n{% endblock %}\n"
        )
        fixed = events.next()
        assert fixed["error"] is None and fixed["version"] > first["version"]
        assert b"<p>mended</p>" in (server.output / "index.html").read_bytes()
        assert all(thread.is_alive() for thread in server.threads)
    finally:
        events.close()


def test_an_unexpected_failure_is_shown_and_the_next_save_rebuilds(
    server: DevServer, small_site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import greenhouse.build

    real_build = greenhouse.build.build
    calls = {"n": 0}

    def build_with_a_bug(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("a bug in the renderer")
        return real_build(*args, **kwargs)

    monkeypatch.setattr(greenhouse.build, "build", build_with_a_bug)
    events = Events(server)
    try:
        first = events.next()
        fern = small_site / "content" / "projects" / "fern.md"
        fern.write_text(fern.read_text().replace("A *small* project.", "Edited once."))
        error = events.next()["error"]
        assert error is not None and "RuntimeError: a bug in the renderer" in error["message"]
        assert error["file"].endswith("test_serve_safety.py")
        time.sleep(0.1)
        fern.write_text(fern.read_text().replace("Edited once.", "Edited twice."))
        fixed = events.next()
        assert fixed["error"] is None and fixed["version"] > first["version"]
        page = (server.output / "projects" / "fern" / "index.html").read_text()
        assert "Edited twice." in page
        assert all(thread.is_alive() for thread in server.threads)
    finally:
        events.close()


def test_a_new_link_in_static_is_not_copied_by_the_quick_path(
    server: DevServer, small_site: Path
) -> None:
    static = small_site / "site_templates" / "static"
    static.mkdir(parents=True)
    (static / "env.txt").symlink_to("/proc/self/environ")
    (static / "plain.css").write_text("p{}")
    server.changed([static / "env.txt", static / "plain.css"])
    published = server.output / "static"
    assert not (published / "env.txt").exists()
    assert (published / "plain.css").read_text() == "p{}"  # the rebuild still publishes it
