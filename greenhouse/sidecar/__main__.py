"""``python -m greenhouse.sidecar --root DIR [--host H] [--port N]``.

For subprocess tests and bare deployments; ``greenhouse sidecar`` is the CLI
way. Prints ``listening on http://HOST:PORT`` once bound.
"""

from __future__ import annotations

import argparse
import sys

from greenhouse.config import load_site
from greenhouse.errors import GreenhouseError
from greenhouse.sidecar import run


def main(argv: list[str] | None = None) -> int:
    """Parse the flags and run the sidecar; 1 on a user error."""
    parser = argparse.ArgumentParser(prog="python -m greenhouse.sidecar", description=__doc__)
    parser.add_argument("--root", default=".", help="site folder (default: current directory)")
    parser.add_argument("--host", default=None, help="address to listen on (default: [live] host)")
    parser.add_argument(
        "--port", type=int, default=None, help="port (0: any free port; default: [live] port)"
    )
    args = parser.parse_args(argv)
    try:
        run(load_site(args.root), args.host, args.port)
    except GreenhouseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
