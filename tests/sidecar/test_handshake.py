"""Requests the sidecar must refuse cleanly: duplicate headers get 400 and one log line."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from tests.sidecar.helpers import (
    ORIGIN,
    TOKEN,
    UA,
    WS_HEADERS,
    LogLines,
    aio,
    client,
    make_site,
    raw_request,
    recv,
    running,
)

GOOD = {
    "Origin": ORIGIN,
    "Authorization": f"Bearer {TOKEN}",
    "User-Agent": UA,
    "DNT": "1",
    "Sec-GPC": "1",
    "X-Forwarded-For": "198.51.100.4",
}


def header_lines(doubled: str) -> list[str]:
    lines = [f"{name}: {value}" for name, value in GOOD.items()]
    return [*lines, f"{doubled}: {GOOD[doubled]}"]


@pytest.mark.parametrize("doubled", sorted(GOOD))
@aio
async def test_a_duplicate_header_gets_400_and_one_log_line(tmp_path, doubled):
    site = make_site(tmp_path, trusted_proxies=["127.0.0.1"])
    with LogLines() as log:
        async with running(site) as sidecar:
            status, body = await raw_request(sidecar.port, [*WS_HEADERS, *header_lines(doubled)])
            assert status == 400
            assert json.loads(body) == {"error": f"duplicate {doubled} header"}
            assert sidecar.metrics.rejects["duplicate_header"] == 1
            assert sidecar.metrics.connections == 0
            # The export reads Authorization: the same answer there.
            status, _ = await raw_request(
                sidecar.port, header_lines(doubled), path="/api/events?limit=1"
            )
            assert status == 400
            async with client(sidecar) as ws:  # and the next visitor is served
                assert (await recv(ws))["type"] == "welcome"
    # Two bad requests: one line, and at shutdown a count of the lines held back.
    lines = [r for r in log.records if "duplicate" in r.getMessage()]
    assert [r.getMessage() for r in lines] == [
        f"request refused: duplicate {doubled} header",
        "1 more duplicate_header events since the last report",
    ], log.text()
    assert lines[0].levelno == logging.INFO
    assert not any(r.levelno >= logging.ERROR or r.exc_info for r in log.records), log.text()


@aio
async def test_many_bad_requests_make_a_bounded_log(tmp_path):
    site = make_site(tmp_path)
    with LogLines() as log:
        async with running(site, log_every=60.0) as sidecar:
            answers = await asyncio.gather(
                *(
                    raw_request(
                        sidecar.port,
                        [*WS_HEADERS, *header_lines("Origin")],
                        local=f"127.0.2.{n % 50 + 1}",  # under the per-address cap
                    )
                    for n in range(100)
                )
            )
            assert {status for status, _ in answers} == {400}
            assert sidecar.metrics.rejects["duplicate_header"] == 100
    lines = [r for r in log.records if "duplicate" in r.getMessage()]
    assert len(lines) <= 2, log.text()  # the first, and at shutdown how many more
    assert "99 more duplicate_header" in log.text()
