"""Parsing TOML text (greenhouse.toml, front matter, skills.toml) with located errors.

``tomllib`` parses arrays and inline tables recursively, so a few hundred
nested ``[`` end in a ``RecursionError`` (a traceback, and in a deep call
stack far fewer levels are needed). No greenhouse file nests more than three
levels, so text nested deeper than :data:`MAX_DEPTH` is refused before
parsing, naming the line where it gets too deep.
"""

from __future__ import annotations

import re
import tomllib
from typing import Any

#: Deepest nesting of arrays and inline tables accepted.
MAX_DEPTH = 32


class TomlSyntaxError(ValueError):
    """TOML text that cannot be read: a message and, where known, its 1-based line."""

    def __init__(self, message: str, line: int | None):
        self.message = message
        self.line = line
        super().__init__(f"line {line}: {message}" if line else message)


def parse_toml(text: str) -> dict[str, Any]:
    """Parse *text*; any problem is a :class:`TomlSyntaxError`, never a traceback."""
    deep = too_deep_at(text)
    if deep is not None:
        raise TomlSyntaxError(
            f"arrays or inline tables nested more than {MAX_DEPTH} levels deep", deep
        )
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TomlSyntaxError(_message(exc), _line(exc)) from None
    except RecursionError:  # the scan above should make this unreachable
        raise TomlSyntaxError("nested too deeply", None) from None


def too_deep_at(text: str, limit: int = MAX_DEPTH) -> int | None:
    """The line where ``[``/``{`` nesting outside strings and comments passes *limit*, or None."""
    depth = 0
    line = 1
    index = 0
    length = len(text)
    while index < length:
        char = text[index]
        if char == "\n":
            line += 1
        elif char == "#":
            end = text.find("\n", index)
            index = length if end < 0 else end
            continue
        elif char in "\"'":
            end = _string_end(text, index)
            line += text.count("\n", index, end)
            index = end
            continue
        elif char in "[{":
            depth += 1
            if depth > limit:
                return line
        elif char in "]}":
            depth = max(0, depth - 1)
        index += 1
    return None


def _string_end(text: str, start: int) -> int:
    """The index just past the string opening at *start* (or the end of the text)."""
    quote = text[start]
    if text.startswith(quote * 3, start):
        pattern = r'(?:\\.|[^\\])*?"""' if quote == '"' else r".*?'''"
        found = re.compile(pattern, re.DOTALL).match(text, start + 3)
    else:
        pattern = r'(?:\\.|[^\\"\n])*"' if quote == '"' else r"[^'\n]*'"
        found = re.compile(pattern).match(text, start + 1)
    return found.end() if found else len(text)


def _line(exc: tomllib.TOMLDecodeError) -> int | None:
    """The line of a TOML error (``lineno`` arrived in Python 3.14; older ones say it in text)."""
    line: int | None = getattr(exc, "lineno", None)
    if line is None:
        found = re.search(r"at line (\d+)", str(exc))
        line = int(found.group(1)) if found else None
    return line


def _message(exc: tomllib.TOMLDecodeError) -> str:
    message = getattr(exc, "msg", None) or str(exc)
    return re.sub(r"\s*\(at line \d+, column \d+\)", "", message)
