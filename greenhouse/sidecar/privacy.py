"""Who a visitor is, without knowing who they are.

A visitor is an HMAC-SHA256 of their IP address and user agent under a salt
that is random, lives only in this process's memory, and is replaced at UTC
midnight: the same visitor gets the same key all day and an unrelated key the
next day, and nobody (the owner included) can recompute a key from an IP
address once the day's salt is gone. The salt is never written to disk, so a
restart also starts new keys for the rest of the day: a returning visitor is
then counted twice, which we accept rather than persisting a secret that would
make the day's keys linkable to IP addresses.

Several instances share the day's salt through an injected :class:`SaltSource`
(Redis, see :mod:`.redis_salt`), so a visitor has one key whichever instance
serves them. The source answers from memory; while it has no salt for the day
(Redis unreachable) a local random salt is used, and the shared one replaces it
as soon as the source has it.

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
from typing import Protocol

Clock = Callable[[], datetime]

# Matched against the lowercased user agent: re.IGNORECASE made each search 20x slower,
# and a reconnect storm runs them once per connection.
_BOT = re.compile(
    r"bot\b|bot/|crawl|spider|slurp|headless|phantomjs|puppeteer|playwright|selenium|webdriver|"
    r"lighthouse|pingdom|uptime|monitor|preview|facebookexternalhit|python|curl/|wget/|"
    r"go-http-client|okhttp|java/|libwww|httpclient|scrapy|node-fetch|axios/"
)
_TABLET = re.compile(r"ipad|tablet|kindle|silk/|playbook|(android(?!.*mobile))")
_MOBILE = re.compile(r"mobi|iphone|ipod|android|windows phone|blackberry|opera mini")


class SaltSource(Protocol):
    """Where a day's shared salt comes from (no I/O here: answers from memory)."""

    def salt(self, day: date) -> bytes | None:
        """The shared salt of UTC *day*, or None when it is not available (yet)."""
        ...


def utc_day(moment: datetime) -> date:
    """The UTC day of *moment*."""
    return moment.astimezone(UTC).date()


class DailySalt:
    """Keys visitors under a salt that rotates at UTC midnight (clock injected).

    With a *source*, the day's salt is the shared one whenever the source has
    it, and a local random one otherwise (replaced once the shared one comes).
    """

    def __init__(
        self,
        clock: Clock,
        random_bytes: Callable[[int], bytes] = secrets.token_bytes,
        source: SaltSource | None = None,
    ):
        self._clock = clock
        self._random = random_bytes
        self._source = source
        self._day: date | None = None
        self._shared = False
        self._salt = bytearray()

    @property
    def shared(self) -> bool:
        """Whether the current salt is the shared one (False: local to this process)."""
        return self._shared

    def today(self) -> date:
        """The UTC day of the injected clock."""
        return utc_day(self._clock())

    def _current(self) -> bytearray:
        today = self.today()
        shared = self._source.salt(today) if self._source is not None else None
        if today != self._day or (shared is not None and shared != self._salt):
            self._wipe()
            self._salt = bytearray(shared) if shared is not None else bytearray(self._random(32))
            self._shared = shared is not None
            self._day = today
        return self._salt

    def _wipe(self) -> None:
        # Overwrite before dropping: the old salt must not survive the day.
        for i in range(len(self._salt)):
            self._salt[i] = 0

    def visitor(self, ip: str, user_agent: str) -> str:
        """The day's key of a visitor: 32 hex digits, meaningless tomorrow."""
        message = ip.encode() + b"\x00" + user_agent.encode("utf-8", "replace")
        return hmac.new(bytes(self._current()), message, hashlib.sha256).hexdigest()[:32]


class TrustedProxies:
    """The peers whose ``X-Forwarded-For`` is believed (addresses or CIDRs, parsed once)."""

    def __init__(self, trusted: Iterable[str]):
        self.networks = [n for n in (_network(p) for p in trusted) if n is not None]
        # The proxies' own addresses, once seen: every connection comes from one
        # of them, and parsing an address costs more than the rest of the check.
        self._proxies: set[str] = set()

    def __bool__(self) -> bool:
        return bool(self.networks)

    def trusts(self, address: str) -> bool:
        """Whether *address* is one of the trusted proxies."""
        if not self.networks:
            return False
        if address in self._proxies:
            return True
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        if any(ip in n for n in self.networks):
            if len(self._proxies) < 256:
                self._proxies.add(address)
            return True
        return False

    def client_ip(self, peer: str, forwarded_for: str | None) -> str:
        """The visitor's address: X-Forwarded-For is believed only from a trusted proxy.

        Walks the header from the right, skipping trusted proxies, so a client
        cannot smuggle an address in by sending its own X-Forwarded-For.
        """
        if not forwarded_for or not self.trusts(peer):
            return peer
        hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
        for hop in reversed(hops):
            if hop in self._proxies:
                continue
            try:
                ip = ipaddress.ip_address(hop)
            except ValueError:
                return peer
            if not any(ip in n for n in self.networks):
                return str(ip)
        return hops[0] if hops else peer


def client_ip(peer: str, forwarded_for: str | None, trusted_proxies: Iterable[str]) -> str:
    """The visitor's address (see :meth:`TrustedProxies.client_ip`)."""
    return TrustedProxies(trusted_proxies).client_ip(peer, forwarded_for)


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
    return not user_agent.strip() or bool(_BOT.search(user_agent.lower()))


def device(user_agent: str) -> str:
    """A coarse device class; the user agent itself is never kept."""
    user_agent = user_agent.lower()
    if _TABLET.search(user_agent):
        return "tablet"
    if _MOBILE.search(user_agent):
        return "mobile"
    return "desktop"
