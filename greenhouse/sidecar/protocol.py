"""The garden's websocket protocol, with no I/O: validating what visitors
send and building what the sidecar sends back.

Client → server (JSON text frames)::

    {"type": "view", "project": "<id>" | null, "referrer": "<url>"?}
    {"type": "interact", "project": "<id>", "action": "like" | "water" | "share" | "open_repo"}

Server → client: ``welcome``, ``presence``, ``interaction``,
``garden_updated``, ``error`` (see docs/sidecar.md).

Unknown keys in a client message are ignored (room for later clients); a
wrong type, an unknown ``type`` or ``action``, an unknown project or a
nested payload are refused with a :class:`ProtocolError` whose ``code`` goes
into the error frame and the reject metrics.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Container, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

ACTIONS = frozenset({"like", "water", "share", "open_repo"})
PROJECT_ID = re.compile(r"^[a-z0-9-]{1,200}$")
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)


class ProtocolError(Exception):
    """A client message the sidecar refuses; ``code`` names the reason."""

    def __init__(self, code: str, message: str):
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


@dataclass(frozen=True)
class View:
    """The visitor now looks at *project* (``None``: the garden overview)."""

    project: str | None
    referrer: str | None = None


@dataclass(frozen=True)
class Interact:
    """The visitor liked, watered, shared or opened the repository of a plant."""

    project: str
    action: str


ClientMessage = View | Interact


def parse_message(text: str, projects: Container[str]) -> ClientMessage:
    """Validate one client text frame against the published *projects*.

    Raises :class:`ProtocolError` for anything but a well-formed message.
    """
    try:
        message = json.loads(text)
    except RecursionError:
        raise ProtocolError("too_deep", "message is nested too deeply") from None
    except ValueError:
        raise ProtocolError("bad_json", "message is not valid JSON") from None
    if not isinstance(message, dict):
        raise ProtocolError("bad_message", "message must be a JSON object")
    kind = message.get("type")
    if kind == "view":
        return View(
            _project(message, projects, nullable=True), referrer_domain(message.get("referrer"))
        )
    if kind == "interact":
        project = _project(message, projects, nullable=False)
        action = message.get("action")
        if not isinstance(action, str):
            raise ProtocolError("bad_message", "'action' must be a string")
        if action not in ACTIONS:
            raise ProtocolError(
                "bad_action", "'action' must be one of " + ", ".join(sorted(ACTIONS))
            )
        assert project is not None
        return Interact(project, action)
    if not isinstance(kind, str):
        raise ProtocolError("bad_message", "'type' must be a string")
    raise ProtocolError("unknown_type", "'type' must be 'view' or 'interact'")


def _project(message: Mapping[str, Any], projects: Container[str], nullable: bool) -> str | None:
    project = message.get("project")
    if project is None and nullable:
        return None
    if not isinstance(project, str):
        raise ProtocolError(
            "bad_message", "'project' must be a string" + (" or null" if nullable else "")
        )
    if not PROJECT_ID.match(project) or project not in projects:
        raise ProtocolError("unknown_project", "no such project in the published garden")
    return project


def referrer_domain(referrer: object) -> str | None:
    """Only the host of a referrer URL is kept (lowercase), never its path or query."""
    if not isinstance(referrer, str) or not referrer or len(referrer) > 2048:
        return None
    try:
        parts = urlsplit(referrer)
        if parts.scheme and parts.scheme.lower() not in ("http", "https"):
            return None
        host = (parts if parts.netloc else urlsplit("//" + referrer)).hostname
    except ValueError:
        return None
    if not host:
        return None
    host = host.rstrip(".").lower()
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host if _HOSTNAME.match(host) else None
    return None  # an address is no site name, and may be someone's own


def _frame(kind: str, **fields: Any) -> str:
    return json.dumps({"type": kind, **fields}, separators=(",", ":"), sort_keys=True)


def presence_frame(visitors: int, projects: Mapping[str, int]) -> str:
    """Who is in the garden now: a total and a count per project."""
    return _frame("presence", visitors=visitors, projects=dict(sorted(projects.items())))


def welcome_frame(visitors: int, projects: Mapping[str, int]) -> str:
    """The first frame of every connection, with the current presence."""
    return _frame("welcome", visitors=visitors, projects=dict(sorted(projects.items())))


def interaction_frame(project: str, action: str) -> str:
    """Someone liked, watered, shared or opened a plant (nobody is named)."""
    return _frame("interaction", project=project, action=action)


def garden_updated_frame(generated_at: str | None) -> str:
    """A new bundle was published; clients may refetch the garden."""
    return _frame("garden_updated", generated_at=generated_at)


def error_frame(code: str, message: str) -> str:
    """A refused message; the connection stays open unless a close follows."""
    return _frame("error", code=code, message=message)
