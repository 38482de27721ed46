"""Who a visitor is, without knowing who they are.

A visitor is an HMAC-SHA256 of their IP address and user agent under a salt
that is random, lives only in this process's memory, and is replaced at UTC
midnight: the same visitor gets the same key all day and an unrelated key the
next day, and nobody (the owner included) can recompute a key from an IP
address once the day's salt is gone. The salt is never written to disk, so a
restart also starts new keys for the rest of the day: a returning visitor is
then counted twice, which we accept rather than persisting a secret that would
make the day's keys linkable to IP addresses.

Neither the IP address nor the user agent leaves this module: callers store
the key, a coarse device class, and nothing else.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime

Clock = Callable[[], datetime]

_BOT = re.compile(
    r"bot\b|bot/|crawl|spider|slurp|headless|phantomjs|puppeteer|playwright|selenium|webdriver|"
    r"lighthouse|pingdom|uptime|monitor|preview|facebookexternalhit|python|curl/|wget/|"
    r"go-http-client|okhttp|java/|libwww|httpclient|scrapy|node-fetch|axios/",
    re.IGNORECASE,
)
_TABLET = re.compile(r"ipad|tablet|kindle|silk/|playbook|(android(?!.*mobile))", re.IGNORECASE)
_MOBILE = re.compile(r"mobi|iphone|ipod|android|windows phone|blackberry|opera mini", re.IGNORECASE)


class DailySalt:
    """Keys visitors under a salt that rotates at UTC midnight (clock injected)."""

    def __init__(self, clock: Clock, random_bytes: Callable[[int], bytes] = secrets.token_bytes):
        self._clock = clock
        self._random = random_bytes
        self._day: date | None = None
        self._salt = bytearray()

    def _current(self) -> bytearray:
        today = self._clock().astimezone(UTC).date()
        if today != self._day:
            # Overwrite before dropping: the old salt must not survive the day.
            for i in range(len(self._salt)):
                self._salt[i] = 0
            self._salt = bytearray(self._random(32))
            self._day = today
        return self._salt

    def visitor(self, ip: str, user_agent: str) -> str:
        """The day's key of a visitor: 32 hex digits, meaningless tomorrow."""
        message = ip.encode() + b"\x00" + user_agent.encode("utf-8", "replace")
        return hmac.new(bytes(self._current()), message, hashlib.sha256).hexdigest()[:32]


def client_ip(peer: str, forwarded_for: str | None, trusted_proxies: Iterable[str]) -> str:
    """The visitor's address: X-Forwarded-For is believed only from a trusted proxy.

    Walks the header from the right, skipping trusted proxies, so a client
    cannot smuggle an address in by sending its own X-Forwarded-For.
    """
    networks = [n for n in (_network(p) for p in trusted_proxies) if n is not None]

    def trusted(address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in n for n in networks)

    if not forwarded_for or not trusted(peer):
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        if not trusted(hop):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer
    return hops[0] if hops else peer


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def opted_out(headers: Mapping[str, str]) -> bool:
    """Do-Not-Track or Global Privacy Control: shown in presence, never recorded."""
    return headers.get("DNT", "").strip() == "1" or headers.get("Sec-GPC", "").strip() == "1"


def is_bot(user_agent: str) -> bool:
    """Crawlers, monitors, scripts and headless browsers are not visitors."""
    return not user_agent.strip() or bool(_BOT.search(user_agent))


def device(user_agent: str) -> str:
    """A coarse device class; the user agent itself is never kept."""
    if _TABLET.search(user_agent):
        return "tablet"
    if _MOBILE.search(user_agent):
        return "mobile"
    return "desktop"
