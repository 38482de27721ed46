"""Redraw the screenshots of docs/sharing.md: a link preview and the README card.

    python tests/browser/sharing_screenshots.py

Builds an 80-project demo garden (fixed clock), then shows, in headless
Chromium, a chat-style preview of a project link made from that page's own
``og:`` tags and image, and the garden card as an ``<img>`` on a light and a
dark README page, the way GitHub shows it.
"""

from __future__ import annotations

import base64
import html
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

CHROMIUM = "/usr/bin/chromium"


def data_url(path: Path, kind: str) -> str:
    return f"data:{kind};base64," + base64.b64encode(path.read_bytes()).decode()


def meta(page: str, key: str) -> str:
    import re

    found = re.search(rf'<meta (?:property|name)="{re.escape(key)}" content="([^"]*)"', page)
    assert found, key
    return html.unescape(found.group(1))


def main() -> None:
    from playwright.sync_api import sync_playwright

    from greenhouse.build import build

    os.environ["SOURCE_DATE_EPOCH"] = "1767225600"
    with tempfile.TemporaryDirectory() as folder:
        site = Path(folder) / "site"
        site.mkdir()
        (site / "greenhouse.toml").write_text(
            '[site]\ntitle = "Ada\'s garden"\ndescription = "Projects of Ada, grown from real work."\n'
            'base_url = "https://ada.github.io/garden/"\n'
            "[demo]\nenabled = true\nprojects = 80\ndays = 1095\n"
        )
        bundle = build(site, offline=True).output
        plant = "project-0007"
        page = (bundle / f"projects/{plant}/index.html").read_text()
        preview = f"""<body style="margin:0;padding:24px;background:#f2f3f5;font:15px system-ui,sans-serif">
<div style="max-width:520px">
  <div style="color:#1d1c1d"><b>Ada</b> <span style="color:#616061;font-size:12px">10:24</span></div>
  <div style="margin:4px 0 8px">have a look: <a href="#" style="color:#1264a3">{html.escape(meta(page, "og:url"))}</a></div>
  <div style="border-left:4px solid #dddddd;padding:2px 0 2px 12px">
    <div style="font-weight:700;color:#1d1c1d">{html.escape(meta(page, "og:site_name"))}</div>
    <div style="font-weight:700;color:#1264a3;margin:2px 0">{html.escape(meta(page, "og:title"))}</div>
    <div style="color:#1d1c1d;margin-bottom:8px">{html.escape(meta(page, "og:description"))}</div>
    <img alt="{html.escape(meta(page, "og:image:alt"))}" style="width:480px;border-radius:8px"
         src="{data_url(bundle / f"static/og/projects/{plant}.png", "image/png")}">
  </div>
</div></body>"""
        card = data_url(bundle / "garden.svg", "image/svg+xml")
        readme = """<body style="margin:0;display:flex">""" + "".join(
            f"""<div style="padding:24px;background:{bg};color:{ink};font:14px system-ui,sans-serif;width:848px">
  <div style="font-size:20px;font-weight:600;margin-bottom:12px">Hi, I'm Ada</div>
  <img src="{card}" width="800" height="400" style="border-radius:6px">
</div>"""
            for bg, ink in (("#ffffff", "#1f2328"), ("#0d1117", "#e6edf3"))
        )
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            for scheme, body, out, size in (
                ("light", preview, "sharing-preview.png", (568, 520)),
                ("light", readme, "readme-card.png", (1696, 500)),
            ):
                context = browser.new_context(
                    viewport={"width": size[0], "height": size[1]}, color_scheme=scheme
                )
                shot = context.new_page()
                shot.set_content(body)
                shot.wait_for_timeout(400)
                if out == "readme-card.png":  # the dark half: the card follows the dark scheme
                    dark = browser.new_context(
                        viewport={"width": size[0], "height": size[1]}, color_scheme="dark"
                    ).new_page()
                    dark.set_content(body)
                    dark.wait_for_timeout(400)
                    left = shot.screenshot(clip={"x": 0, "y": 0, "width": 848, "height": 500})
                    right = dark.screenshot(clip={"x": 848, "y": 0, "width": 848, "height": 500})
                    join(left, right, REPO / "docs" / out)
                else:
                    shot.screenshot(path=str(REPO / "docs" / out), full_page=True)
                context.close()
            browser.close()
    print("wrote docs/sharing-preview.png and docs/readme-card.png")


def join(left: bytes, right: bytes, out: Path) -> None:
    """Two screenshots side by side."""
    import io

    from PIL import Image

    a, b = Image.open(io.BytesIO(left)), Image.open(io.BytesIO(right))
    both = Image.new("RGB", (a.width + b.width, max(a.height, b.height)))
    both.paste(a, (0, 0))
    both.paste(b, (a.width, 0))
    both.save(out, optimize=True)


if __name__ == "__main__":
    main()
