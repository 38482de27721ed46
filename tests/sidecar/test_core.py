"""The I/O-free core: protocol validation, presence, token bucket, privacy."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from greenhouse.sidecar import protocol
from greenhouse.sidecar.limits import TokenBucket
from greenhouse.sidecar.presence import Presence, RecentVisitors, Snapshot, merge
from greenhouse.sidecar.privacy import DailySalt, client_ip, device, is_bot, opted_out

PROJECTS = frozenset({"fern", "moss"})


def test_view_and_interact_parse():
    assert protocol.parse_message('{"type":"view","project":null}', PROJECTS) == protocol.View(None)
    assert protocol.parse_message('{"type":"view","project":"fern"}', PROJECTS) == protocol.View(
        "fern"
    )
    got = protocol.parse_message('{"type":"interact","project":"moss","action":"water"}', PROJECTS)
    assert got == protocol.Interact("moss", "water")


def test_view_keeps_only_the_referrer_host():
    text = json.dumps(
        {"type": "view", "project": None, "referrer": "https://News.Example.com/a/b?q=secret#x"}
    )
    assert protocol.parse_message(text, PROJECTS) == protocol.View(None, "news.example.com")


@pytest.mark.parametrize(
    ("referrer", "expected"),
    [
        ("https://user:pw@host.example:8080/path", "host.example"),
        ("example.org/page", "example.org"),
        ("not a url at all", None),
        ("javascript:alert(1)", None),
        ("http://192.0.2.7/admin", None),
        ("http://[2001:db8::1]/", None),
        (42, None),
        ("", None),
        ("https://" + "a" * 300 + ".com/", None),
    ],
)
def test_referrer_domain(referrer, expected):
    assert protocol.referrer_domain(referrer) == expected


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("{not json", "bad_json"),
        ("[1, 2]", "bad_message"),
        ('"view"', "bad_message"),
        ('{"type": 5}', "bad_message"),
        ('{"project": "fern"}', "bad_message"),
        ('{"type": "dance"}', "unknown_type"),
        ('{"type": "view", "project": 5}', "bad_message"),
        ('{"type": "view", "project": ["fern"]}', "bad_message"),
        ('{"type": "view", "project": "rose"}', "unknown_project"),
        ('{"type": "view", "project": "../etc"}', "unknown_project"),
        ('{"type": "interact", "project": null, "action": "like"}', "bad_message"),
        ('{"type": "interact", "project": "fern", "action": "burn"}', "bad_action"),
        ('{"type": "interact", "project": "fern", "action": {"x": 1}}', "bad_message"),
        ('{"type": "view", "project": ' + "[" * 5000 + "]" * 5000 + "}", "too_deep"),
    ],
)
def test_bad_messages_are_refused_with_a_code(text, code):
    with pytest.raises(protocol.ProtocolError) as caught:
        protocol.parse_message(text, PROJECTS)
    assert caught.value.code == code


@given(st.text(max_size=300))
def test_any_text_parses_or_is_refused(text):
    try:
        result = protocol.parse_message(text, PROJECTS)
    except protocol.ProtocolError as exc:
        assert exc.code in {
            "bad_json",
            "bad_message",
            "unknown_type",
            "unknown_project",
            "bad_action",
            "too_deep",
        }
    else:
        assert isinstance(result, protocol.View | protocol.Interact)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=10),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
        ),
    )
)
def test_any_json_value_parses_or_is_refused(value):
    for message in (
        value,
        {"type": "view", "project": value},
        {"type": "interact", "project": "fern", "action": value},
    ):
        with contextlib.suppress(protocol.ProtocolError):
            protocol.parse_message(json.dumps(message), PROJECTS)


def test_frames_are_compact_json():
    assert json.loads(protocol.presence_frame(3, {"moss": 1, "fern": 2})) == {
        "type": "presence",
        "visitors": 3,
        "projects": {"fern": 2, "moss": 1},
    }
    assert json.loads(protocol.error_frame("bad_json", "no")) == {
        "type": "error",
        "code": "bad_json",
        "message": "no",
    }


def test_token_bucket_refills_at_its_rate():
    bucket = TokenBucket(rate=2.0, burst=3, now=0.0)
    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.take(0.49) is False
    assert bucket.take(0.5) is True
    assert bucket.take(100.0) and bucket.take(100.0) and bucket.take(100.0)
    assert bucket.take(100.0) is False  # never more than the burst saved up


def test_presence_counts_distinct_visitors_per_project():
    presence = Presence()
    presence.join("alice")  # tab 1
    presence.join("alice")  # tab 2
    presence.join("bob")
    assert presence.snapshot() == Snapshot(2, {})
    presence.move("alice", None, "fern")
    presence.move("alice", None, "fern")
    presence.move("bob", None, "fern")
    assert presence.snapshot() == Snapshot(2, {"fern": 2})
    assert presence.connections_of("alice") == 2
    presence.move("alice", "fern", "moss")  # tab 2
    assert presence.snapshot() == Snapshot(2, {"fern": 2, "moss": 1})
    presence.move("alice", "moss", "moss")  # the same plant again: nothing changes
    assert presence.snapshot() == Snapshot(2, {"fern": 2, "moss": 1})
    presence.leave("alice", "fern")  # tab 1
    presence.leave("bob", "fern")
    assert presence.snapshot() == Snapshot(1, {"moss": 1})
    presence.leave("alice", "moss")
    assert presence.snapshot() == Snapshot(0, {})
    assert presence.connections_of("alice") == 0
    assert not presence._viewers and not presence._connections, "nothing left behind"


def test_merge_adds_live_remotes_and_drops_silent_ones():
    local = Snapshot(1, {"fern": 1})
    remotes = {
        "b": (Snapshot(2, {"fern": 1, "moss": 1}), 100.0),
        "c": (Snapshot(5, {"ivy": 5}), 60.0),
    }
    assert merge(local, remotes, now=110.0, expiry=30.0) == Snapshot(3, {"fern": 2, "moss": 1})


def test_merge_sums_the_realtime_counts_of_live_instances():
    local = Snapshot(1, {}, recent=3)
    remotes = {"b": (Snapshot(0, {}, recent=2), 100.0), "c": (Snapshot(0, {}, recent=7), 60.0)}
    assert merge(local, remotes, now=110.0, expiry=30.0).recent == 5


def test_recent_visitors_counts_distinct_keys_in_the_window():
    recent = RecentVisitors(window=300.0)
    recent.seen("a", 0.0)
    recent.seen("b", 100.0)
    recent.seen("a", 200.0)  # seen again: counts once, and later
    assert recent.count(250.0) == 2
    assert recent.count(450.0) == 1  # b's 100 s is more than 300 s ago
    assert recent.count(501.0) == 0
    assert not recent._seen, "pruned, not just ignored"


def test_recent_visitors_memory_is_bounded():
    recent = RecentVisitors(window=300.0, limit=3)
    for i in range(10):
        recent.seen(f"v{i}", float(i))
    assert recent.count(10.0) == 3 and list(recent._seen) == ["v7", "v8", "v9"]


def test_recent_visitors_count_the_connected_as_seen_now_and_the_gone_from_their_close():
    recent = RecentVisitors(window=300.0, limit=2)
    recent.seen("a", 0.0)
    recent.opened("a")  # seen before, and now connected: counts once
    recent.opened("a")  # a second tab
    recent.opened("b")
    recent.seen("b", 10.0)  # an event of a connected visitor changes nothing
    assert recent.count(10.0) == 2
    for i in range(5):  # others come and go: the limit never evicts the connected
        recent.seen(f"v{i}", 20.0 + i)
    assert recent.count(1000.0) == 2  # connected for a long while, silent: still counted
    recent.closed("a", 1000.0)
    assert recent.count(1000.0) == 2  # one tab of a still open
    recent.closed("a", 1100.0)
    recent.closed("b", 1200.0)
    assert recent.count(1200.0) == 2  # both gone, seen at their close
    assert recent.count(1450.0) == 1  # a closed 350 s ago, b 250 s ago
    assert recent.count(1501.0) == 0
    assert not recent._seen and not recent._open


def test_snapshot_json_round_trip_and_garbage():
    snap = Snapshot(2, {"fern": 1}, recent=4)
    back = Snapshot.from_json(json.loads(json.dumps(snap.to_json())))
    assert back == snap and back is not None and back.recent == 4
    assert Snapshot(2, {}, recent=1) == Snapshot(2, {}, recent=9), "recent is not presence"
    assert Snapshot.from_json({"visitors": 1, "projects": {}}) == Snapshot(1, {})  # older beats
    for garbage in (
        None,
        [],
        {"visitors": "2", "projects": {}},
        {"visitors": 1, "projects": {"x": -1}},
    ):
        assert Snapshot.from_json(garbage) is None


class FakeClock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_salt_keys_are_stable_within_a_day_and_rotate_at_utc_midnight():
    clock = FakeClock(datetime(2026, 3, 1, 23, 59, 58, tzinfo=UTC))
    salt = DailySalt(clock)
    before = salt.visitor("192.0.2.1", "UA")
    assert salt.visitor("192.0.2.1", "UA") == before
    assert salt.visitor("192.0.2.2", "UA") != before
    assert salt.visitor("192.0.2.1", "UA2") != before
    old = salt._salt
    clock.now += timedelta(seconds=3)
    after = salt.visitor("192.0.2.1", "UA")
    assert after != before
    assert bytes(old) == bytes(32), "the old salt is overwritten, not just dropped"
    assert len(after) == 32 and int(after, 16) >= 0


def test_two_processes_key_the_same_visitor_differently():
    clock = FakeClock(datetime(2026, 3, 1, 12, tzinfo=UTC))
    assert DailySalt(clock).visitor("192.0.2.1", "UA") != DailySalt(clock).visitor(
        "192.0.2.1", "UA"
    )


class FakeSource:
    """A salt source holding per-day salts in a dict (None: unavailable)."""

    def __init__(self) -> None:
        self.salts: dict[date, bytes] = {}
        self.asked: list[date] = []

    def salt(self, day: date) -> bytes | None:
        self.asked.append(day)
        return self.salts.get(day)


def test_instances_sharing_a_salt_source_key_a_visitor_alike():
    clock = FakeClock(datetime(2026, 3, 1, 23, 59, 59, tzinfo=UTC))
    source = FakeSource()
    source.salts[date(2026, 3, 1)] = b"a" * 32
    one, two = DailySalt(clock, source=source), DailySalt(clock, source=source)
    assert one.visitor("192.0.2.1", "UA") == two.visitor("192.0.2.1", "UA")
    assert one.shared and two.shared
    assert source.asked[-1] == date(2026, 3, 1)
    clock.now += timedelta(seconds=2)  # a new UTC day, not in the source yet: local salts
    assert one.visitor("192.0.2.1", "UA") != two.visitor("192.0.2.1", "UA")
    assert not one.shared
    source.salts[date(2026, 3, 2)] = b"b" * 32  # the shared salt arrives and takes over
    assert one.visitor("192.0.2.1", "UA") == two.visitor("192.0.2.1", "UA")
    assert one.shared


def test_a_local_salt_is_overwritten_when_the_shared_one_arrives():
    clock = FakeClock(datetime(2026, 3, 1, 12, tzinfo=UTC))
    source = FakeSource()
    salt = DailySalt(clock, source=source)
    local = salt.visitor("192.0.2.1", "UA")
    old = salt._salt
    source.salts[date(2026, 3, 1)] = b"c" * 32
    assert salt.visitor("192.0.2.1", "UA") != local
    assert bytes(old) == bytes(32)


def test_forwarded_for_is_believed_only_from_trusted_proxies():
    assert client_ip("203.0.113.9", "198.51.100.1", []) == "203.0.113.9"
    assert client_ip("203.0.113.9", "198.51.100.1", ["10.0.0.0/8"]) == "203.0.113.9"
    assert client_ip("10.0.0.5", "198.51.100.1", ["10.0.0.0/8"]) == "198.51.100.1"
    # A client-supplied value at the left cannot win over the hop the proxy saw.
    assert client_ip("10.0.0.5", "1.2.3.4, 198.51.100.1", ["10.0.0.0/8"]) == "198.51.100.1"
    assert client_ip("10.0.0.5", "198.51.100.1, 10.0.0.7", ["10.0.0.0/8"]) == "198.51.100.1"
    assert client_ip("10.0.0.5", "garbage", ["10.0.0.5"]) == "10.0.0.5"
    assert client_ip("::1", "2001:db8::1", ["::1"]) == "2001:db8::1"


def test_opt_out_headers():
    assert opted_out({"DNT": "1"})
    assert opted_out({"Sec-GPC": "1"})
    assert not opted_out({"DNT": "0"})
    assert not opted_out({})


@pytest.mark.parametrize(
    "ua",
    [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/120.0 Safari/537.36",
        "Mozilla/5.0 (compatible; bingbot/2.0)",
        "Baiduspider",
        "python-requests/2.31",
        "Python/3.11 websockets/17.4",
        "curl/8.0",
        "",
    ],
)
def test_bots(ua):
    assert is_bot(ua)


def test_browsers_are_not_bots_and_get_a_device_class():
    iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148 Safari/604.1"
    ipad = "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
    android_tablet = (
        "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 Chrome/120 Safari/537.36"
    )
    android_phone = "Mozilla/5.0 (Linux; Android 13; Pixel 7) Chrome/120 Mobile Safari/537.36"
    desktop = (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120 Safari/537.36"
    )
    for ua in (iphone, ipad, android_tablet, android_phone, desktop):
        assert not is_bot(ua)
    assert [device(u) for u in (iphone, ipad, android_tablet, android_phone, desktop)] == [
        "mobile",
        "tablet",
        "tablet",
        "mobile",
        "desktop",
    ]


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["join", "move", "leave"]),
            st.integers(0, 5),
            st.sampled_from(["alice", "bob", "carol"]),
            st.sampled_from([None, "fern", "moss"]),
        ),
        max_size=60,
    )
)
def test_presence_matches_a_naive_count(steps):
    presence = Presence()
    where: dict[int, tuple[str, str | None]] = {}
    for op, conn, visitor, project in steps:
        # The caller (a visit) keeps each connection's visitor and plant.
        if op == "join" and conn not in where:
            presence.join(visitor)
            where[conn] = (visitor, None)
        elif op == "move" and conn in where:
            presence.move(where[conn][0], where[conn][1], project)
            where[conn] = (where[conn][0], project)
        elif op == "leave" and conn in where:
            presence.leave(*where.pop(conn))
    visitors = {v for v, _ in where.values()}
    projects: dict[str, int] = {}
    for plant in ("fern", "moss"):
        viewers = {v for v, p in where.values() if p == plant}
        if viewers:
            projects[plant] = len(viewers)
    assert presence.snapshot() == Snapshot(len(visitors), projects)
    for visitor, project in where.values():
        presence.leave(visitor, project)
    assert presence.snapshot() == Snapshot(0, {}) and not presence._connections


def test_a_host_is_an_ipv4_address_or_an_ipv6_slash_64():
    from greenhouse.sidecar.limits import host_of

    assert host_of("203.0.113.9") == "203.0.113.9"
    assert host_of("2001:db8:1:2:aaaa::1") == host_of("2001:db8:1:2:ffff:ffff:ffff:ffff")
    assert host_of("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert host_of("2001:db8:1:3::1") != host_of("2001:db8:1:2::1")
    assert host_of("::ffff:198.51.100.7") == "198.51.100.7"
    assert host_of("not an address") == "not an address"


def test_host_counter_caps_each_host():
    from greenhouse.sidecar.limits import HostCounter

    hosts = HostCounter(2)
    assert hosts.take("a") and hosts.take("a") and not hosts.take("a")
    assert hosts.take("b") and hosts.count("a") == 2 and len(hosts) == 2
    hosts.release("a")
    assert hosts.take("a")
    for _ in range(2):
        hosts.release("a")
    hosts.release("b")
    assert len(hosts) == 0


def test_the_socket_budget_keeps_room_below_the_open_files_limit():
    from greenhouse.sidecar.limits import SocketBudget

    budget = SocketBudget.from_limit(1024)
    assert budget.sockets == 992 and budget.websockets == 960  # room for /healthz between
    assert SocketBudget.from_limit(1024, max_connections=100).websockets == 100
    assert SocketBudget.from_limit(1024, max_connections=5000).websockets == 960
    tiny = SocketBudget.from_limit(40)
    assert tiny.sockets >= 2 and tiny.websockets >= 1


def test_the_throttle_logs_once_per_interval_and_counts_the_rest():
    import logging

    from greenhouse.sidecar.logs import Throttle

    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    logger = logging.getLogger("test.throttle")
    logger.addHandler(Keep())
    logger.setLevel(logging.INFO)
    now = [100.0]
    throttle = Throttle(logger, every=10.0, clock=lambda: now[0])
    assert throttle.log(logging.INFO, "ip_cap", "refused %d", 1)
    for n in range(50):
        assert not throttle.log(logging.INFO, "ip_cap", "refused %d", n)
    assert throttle.log(logging.INFO, "origin", "other reason")
    now[0] += 10.0
    assert throttle.log(logging.INFO, "ip_cap", "refused %d", 99)
    throttle.log(logging.INFO, "ip_cap", "refused")
    throttle.flush()
    assert lines == [
        "refused 1",
        "other reason",
        "refused 99 (and 50 more like it since the last report)",
        "1 more ip_cap events since the last report",
    ]
