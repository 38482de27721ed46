"""What an SVG must be to survive as a README image behind GitHub's image proxy.

Stricter than the proxy on purpose: an allow-list of elements and attributes
(in the spirit of DOMPurify's SVG profile), no script in any form, no event
handler, no reference outside the file, CSS animation only (no SMIL), no
font or image fetched from anywhere, and every internal reference resolvable.
:func:`problems` lists every breach; an empty list means the card is safe.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

SVG = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}"

ELEMENTS = {
    "svg", "g", "defs", "title", "desc", "style", "symbol", "use",
    "rect", "circle", "ellipse", "line", "polyline", "polygon", "path",
    "text", "tspan", "linearGradient", "radialGradient", "stop", "clipPath",
}  # fmt: skip
ATTRIBUTES = {
    "xmlns", "id", "class", "width", "height", "viewBox", "role", "aria-labelledby",
    "aria-label", "aria-hidden", "x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r",
    "rx", "ry", "d", "points", "transform", "fill", "fill-opacity", "opacity", "stroke",
    "stroke-width", "stroke-linecap", "stroke-linejoin", "stroke-opacity", "offset",
    "stop-color", "stop-opacity", "font-size", "font-weight", "font-family",
    "text-anchor", "dominant-baseline", "href", "clip-path", "preserveAspectRatio",
}  # fmt: skip
URL = re.compile(r"url\(\s*['\"]?([^)'\"]*)", re.I)


def problems(text: str) -> list[str]:
    """Every rule *text* breaks, as readable sentences."""
    found: list[str] = []
    if re.search(r"<!DOCTYPE|<!ENTITY|<\?xml-stylesheet", text, re.I):
        found.append("a DOCTYPE, entity or stylesheet processing instruction")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        return [f"not well-formed XML: {exc}"]
    if root.tag != f"{SVG}svg":
        found.append(f"root element is {root.tag}, not svg")
    ids = {el.get("id") for el in root.iter() if el.get("id")}
    for el in root.iter():
        if not el.tag.startswith(SVG):
            found.append(f"element outside the SVG namespace: {el.tag}")
            continue
        tag = el.tag.removeprefix(SVG)
        if tag not in ELEMENTS:
            found.append(f"element <{tag}> is not allowed")
        for name, value in el.attrib.items():
            local = name.removeprefix(XLINK)
            if local.lower().startswith("on"):
                found.append(f"event handler {local} on <{tag}>")
            elif name.startswith("{") and not name.startswith(XLINK):
                found.append(f"attribute in a foreign namespace: {name}")
            elif local not in ATTRIBUTES:
                found.append(f"attribute {local} on <{tag}> is not allowed")
            if local == "href" and not (value.startswith("#") and value[1:] in ids):
                found.append(f"<{tag}> refers to {value!r}, not to an element of the card")
            if re.search(r"javascript:|data:|https?:|//", value, re.I) and local != "xmlns":
                found.append(f"{local} on <{tag}> points outside the card: {value!r}")
            for target in URL.findall(value):
                if not (target.startswith("#") and target[1:] in ids):
                    found.append(f"{local} on <{tag}> uses url({target})")
        if tag == "style":
            css = el.text or ""
            for rule in ("@import", "@font-face", "expression(", "behavior:", "-moz-binding"):
                if rule in css.lower():
                    found.append(f"stylesheet uses {rule}")
            for target in URL.findall(css):
                if not (target.startswith("#") and target[1:] in ids):
                    found.append(f"stylesheet uses url({target})")
            if re.search(r"javascript:|https?:|//", css, re.I):
                found.append("stylesheet points outside the card")
    return found
