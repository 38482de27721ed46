"""The real sidecar entry point under a file-descriptor limit of the test's choosing.

    python -m tests.sidecar.fd_limited [--soft N] [--spare N] -- <python -m greenhouse.sidecar flags>

``--soft N`` starts the process with a soft ``RLIMIT_NOFILE`` of N (as a
``ulimit -n N`` would). ``--spare N`` lowers the soft limit, once the sidecar
is listening, to the descriptors it has open plus N: accepts beyond that fail
with EMFILE, as they do when something else has taken the descriptors.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
from typing import Any

import greenhouse.sidecar
from greenhouse.sidecar.__main__ import main as sidecar_main


def starve_after_start(spare: int) -> None:
    real_start = greenhouse.sidecar.start

    async def start(*args: Any, **kwargs: Any) -> greenhouse.sidecar.Sidecar:
        sidecar = await real_start(*args, **kwargs)
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        in_use = len(os.listdir("/proc/self/fd"))
        resource.setrlimit(resource.RLIMIT_NOFILE, (in_use + spare, hard))
        return sidecar

    greenhouse.sidecar.start = start  # type: ignore[assignment]  # serve_until_stopped's


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--soft", type=int)
    parser.add_argument("--spare", type=int)
    args, rest = parser.parse_known_args()
    if args.soft is not None:
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (args.soft, hard))
    if args.spare is not None:
        starve_after_start(args.spare)
    return sidecar_main(rest)


if __name__ == "__main__":
    sys.exit(main())
