"""The one exception tree of greenhouse.

Every problem a user can fix is a :class:`GreenhouseError`; the CLI turns it
into a message and exit status 1, never a traceback::

    GreenhouseError
    ├── ConfigError        greenhouse.toml is unreadable or invalid
    ├── ContentError       a content file is invalid (file, line, field)
    ├── StoreError         the DuckDB file cannot be opened or migrated
    │   ├── StoreBusyError     another greenhouse process has the DuckDB file open
    │   └── StoreOutdatedError the file's schema needs a migration (a write)
    ├── SourceError        an upstream (GitHub, Spotify, …) failed for good
    │   └── AuthError      a token is missing, wrong or expired
    ├── BuildError         rendering or publishing failed
    │   └── TemplateError  a template is missing, broken or failed (file, line)
    └── BusyError          another build holds the site's lock

:class:`Problem` is one located complaint; ``ConfigError`` and ``ContentError``
carry a list of them so every problem is reported at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Problem:
    """One located complaint about an input file."""

    file: Path | str
    message: str
    line: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = str(self.file)
        if self.line is not None:
            where += f":{self.line}"
        field = f" [{self.field}]" if self.field else ""
        return f"{where}:{field} {self.message}"


class GreenhouseError(Exception):
    """Root of every error a user can act on."""


class _ProblemsError(GreenhouseError):
    def __init__(self, problems: list[Problem] | Problem | str, file: Path | str | None = None):
        if isinstance(problems, str):
            problems = [Problem(file or "?", problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class ConfigError(_ProblemsError):
    """greenhouse.toml is unreadable or invalid."""


class ContentError(_ProblemsError):
    """One or more content files are invalid."""


class StoreError(GreenhouseError):
    """The DuckDB file cannot be opened, is not ours, or is too new."""


class StoreBusyError(StoreError):
    """Another greenhouse process (a build or a sync) has the DuckDB file open for writing."""


class StoreOutdatedError(StoreError):
    """The file's schema is older than this greenhouse's and was opened without migrating."""


class SourceError(GreenhouseError):
    """An upstream failed in a way retrying will not fix."""

    def __init__(self, source: str, message: str):
        self.source = source
        super().__init__(f"{source}: {message}")


class AuthError(SourceError):
    """A token is missing, wrong or expired."""


class BuildError(GreenhouseError):
    """Rendering or publishing the bundle failed."""


class TemplateError(BuildError):
    """A template is missing, has a syntax error or failed while rendering (file, line)."""

    def __init__(
        self,
        message: str,
        file: str | None = None,
        line: int | None = None,
        source: str | None = None,
    ):
        self.message = message
        self.file = file
        self.line = line
        self.source = source
        where = f"{file}:{line}: " if file and line else (f"{file}: " if file else "")
        super().__init__(f"{where}{message}")

    def __reduce__(
        self,
    ) -> tuple[type[TemplateError], tuple[str, str | None, int | None, str | None]]:
        # Keep file and line when the error crosses a process boundary (parallel rendering).
        return (type(self), (self.message, self.file, self.line, self.source))


class BusyError(GreenhouseError):
    """Another build or sync holds the site's lock."""
