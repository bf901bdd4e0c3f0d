"""Live feeds against real servers and sockets on 127.0.0.1 only.

HTTP tests run a real `http.server.ThreadingHTTPServer` in a thread (port 0):
requests is never mocked, so timeouts, retries, conditional requests and
redirects are the real thing. SSRF refusals are judged before any traffic;
names are resolved by an injected resolver, so no test touches DNS. CoT tests
send real UDP datagrams and a real TCP stream to a listener on 127.0.0.1.
Every wait is a bounded loop; every server and listener is shut down.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from ingest.errors import ConfigError
from ingest.feeds import FeedRefusedError, feed_health, load_config, parse_config
from ingest.feeds.cot_listener import HOSTILE_INPUT, CotListener
from ingest.feeds.http_poller import HttpPoller, backoff_delay
from ingest.feeds.netguard import AllowList, check_url
from ingest.feeds.runner import RunReport, feeds_command, run
from ingest.store.delta import DeltaStore

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data" / "feeds"
PAYLOAD = (DATA / "track_points.geojson").read_bytes()
T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)

pytestmark = pytest.mark.timeout(60)


# --- a real HTTP server ---------------------------------------------------------------
Reply = tuple[int, dict[str, str], bytes]


class FeedServer:
    """ThreadingHTTPServer on 127.0.0.1:0. `routes` maps a path to a function of the
    request handler returning (status, headers, body); every request is recorded."""

    def __init__(self, *, tls: ssl.SSLContext | None = None) -> None:
        self.routes: dict[str, Callable[[BaseHTTPRequestHandler], Reply]] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # http.server calls do_<METHOD>
                with outer.lock:
                    outer.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                route = outer.routes.get(self.path.split("?")[0])
                status, headers, body = route(self) if route else (404, {}, b"no such route")
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.scheme = "https" if tls else "http"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def url(self, path: str = "/feed", host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    def hits(self, path: str = "/feed") -> list[dict[str, str]]:
        with self.lock:
            return [h for p, h in self.requests if p.split("?")[0] == path]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def server() -> Iterator[FeedServer]:
    s = FeedServer()
    yield s
    s.close()


def static(body: bytes, *, etag: str | None = None, last_modified: str | None = None
           ) -> Callable[[BaseHTTPRequestHandler], Reply]:
    """A resource that honours If-None-Match / If-Modified-Since like a real server."""

    def reply(h: BaseHTTPRequestHandler) -> Reply:
        headers = {"Content-Type": "application/geo+json"}
        if etag:
            headers["ETag"] = etag
        if last_modified:
            headers["Last-Modified"] = last_modified
        if etag and h.headers.get("If-None-Match") == etag:
            return 304, headers, b""
        if last_modified and not etag and h.headers.get("If-Modified-Since") == last_modified:
            return 304, headers, b""
        return 200, headers, body

    return reply


def status(code: int, body: bytes = b"server error") -> Callable[[BaseHTTPRequestHandler], Reply]:
    return lambda h: (code, {"Content-Type": "text/plain"}, body)


def redirect(location: str, code: int = 302) -> Callable[[BaseHTTPRequestHandler], Reply]:
    return lambda h: (code, {"Location": location}, b"")


def feed_cfg(url: str, **settings: Any):
    """One http-json feed through the real config parser (so tests also exercise it)."""
    table = {"name": "partner-uav", "kind": "http-json", "url": url, "format": "geojson-track-points",
             "source": "partner-uav", "interval_s": 10, "timeout_s": 2, "max_retries": 0,
             "retry_backoff_s": 0.0, "backoff_cap_s": 40, "allow_hosts": ["127.0.0.1"]}
    table.update(settings)
    return parse_config({"feed": [table]}).feeds[0]


@pytest.fixture
def store(tmp_path) -> DeltaStore:
    return DeltaStore(tmp_path / "store")


def poller(feed, store, tmp_path, **kw) -> HttpPoller:
    return HttpPoller(feed, store, staging_dir=tmp_path / "staging", state_dir=tmp_path / "state", **kw)


def status_row(store: DeltaStore, name: str = "partner-uav") -> dict[str, Any]:
    table = store.feed_status()
    rows = table[table["feed"] == name]
    assert len(rows) == 1, table
    return rows.iloc[0].to_dict()


def count(store: DeltaStore, layer: str = "track_points") -> int:
    return len(store.read(layer))


def features(n: int) -> bytes:
    """A payload of the fixture's features plus n - 3 generated ones (n >= 3)."""
    doc = json.loads(PAYLOAD)
    for i in range(n - 3):
        t = f"2026-11-21T10:01:{i:02d}Z"
        doc["features"].append({"type": "Feature", "id": f"uav-7@{t}",
                                "geometry": {"type": "Point", "coordinates": [21.17 + i / 1000, 42.664]},
                                "properties": {"track_id": "UAV-7", "time": t}})
    return json.dumps(doc).encode()


# --- polling ----------------------------------------------------------------------------
def test_a_poll_ingests_the_records_and_records_an_ok_status(server, store, tmp_path):
    server.routes["/feed"] = static(PAYLOAD)
    result = poller(feed_cfg(server.url()), store, tmp_path).poll()
    assert result.outcome == "ingested", result.error
    assert result.summary.stored == 3 and result.summary.quarantined == 0
    stored = store.read("track_points")
    assert sorted(stored["track_id"]) == ["UAV-7", "UAV-7", "UAV-9"]
    assert set(stored["source"]) == {"partner-uav"}
    assert set(stored["marking"]) == {"UNCLASSIFIED//REL TO USA, GBR, FRA"}  # the collection's marking
    assert count(store, "tracks") == 2
    row = status_row(store)
    assert row["state"] == "ok" and row["records_last"] == 3 and row["consecutive_failures"] == 0
    assert row["kind"] == "http-json" and row["interval_s"] == 10
    assert list((tmp_path / "staging").iterdir()) == []  # staging file removed after reading
    assert server.hits()[0]["host"] == f"127.0.0.1:{server.port}"


def test_etag_makes_the_next_poll_conditional_and_304_ingests_nothing(server, store, tmp_path):
    server.routes["/feed"] = static(PAYLOAD, etag='"v1"')
    p = poller(feed_cfg(server.url()), store, tmp_path)
    assert p.poll().outcome == "ingested"
    version = store.version("track_points")
    second = p.poll()
    assert second.outcome == "not-modified" and second.http_status == 304
    hits = server.hits()
    assert "if-none-match" not in hits[0]
    assert hits[1]["if-none-match"] == '"v1"'  # the server saw the conditional header
    assert store.version("track_points") == version  # nothing written
    assert count(store) == 3
    row = status_row(store)
    assert row["state"] == "ok" and row["records_last"] == 0


def test_last_modified_makes_the_next_poll_conditional(server, store, tmp_path):
    stamp = formatdate(time.time() - 3600, usegmt=True)
    server.routes["/feed"] = static(PAYLOAD, last_modified=stamp)
    p = poller(feed_cfg(server.url()), store, tmp_path)
    assert p.poll().outcome == "ingested"
    assert p.poll().outcome == "not-modified"
    hits = server.hits()
    assert "if-modified-since" not in hits[0] and hits[1]["if-modified-since"] == stamp


def test_validators_survive_a_restart_but_not_a_fresh_store(server, store, tmp_path):
    """A cron `--once` run is a new process: the ETag comes from the state folder; a new,
    empty store must get the full payload, so the ETag is not trusted for it."""
    server.routes["/feed"] = static(PAYLOAD, etag='"v1"')
    feed = feed_cfg(server.url())
    assert poller(feed, store, tmp_path).poll().outcome == "ingested"
    assert poller(feed, store, tmp_path).poll().outcome == "not-modified"
    assert server.hits()[1]["if-none-match"] == '"v1"'
    fresh = DeltaStore(tmp_path / "other-store")
    assert poller(feed, fresh, tmp_path).poll().outcome == "ingested"
    assert "if-none-match" not in server.hits()[2]
    assert count(fresh) == 3


def test_a_server_slower_than_the_timeout_fails_the_poll_quickly(server, store, tmp_path):
    release = threading.Event()

    def never(h):
        release.wait(120)  # holds every request until the test has its answer: the client must give up
        return 200, {}, PAYLOAD

    server.routes["/feed"] = never
    p = poller(feed_cfg(server.url(), timeout_s=0.3, max_retries=1), store, tmp_path)
    try:
        result = p.poll()
    finally:
        release.set()
    assert result.outcome == "failed"
    assert "no response within the 0.3 s timeout (2 attempts)" in result.error
    assert len(server.hits()) == 2  # the read timeout was retried once
    row = status_row(store)
    assert row["state"] == "failing" and row["consecutive_failures"] == 1
    assert "timeout" in row["last_error"]


def test_500s_are_retried_with_backoff_then_the_feed_is_failing(server, store, tmp_path):
    server.routes["/feed"] = status(500)
    p = poller(feed_cfg(server.url(), max_retries=2, retry_backoff_s=0.01), store, tmp_path)
    result = p.poll()
    assert len(server.hits()) == 3  # 1 + 2 retries
    assert result.outcome == "failed" and result.http_status == 500
    assert "HTTP 500" in result.error and "after 2 retries" in result.error
    row = status_row(store)
    assert row["state"] == "failing" and "HTTP 500" in row["last_error"]
    # Between polls: the interval (10 s), doubled per failure, capped at backoff_cap_s (40 s).
    delays = [result.delay_s] + [p.poll().delay_s for _ in range(3)]
    assert delays == [10, 20, 40, 40]
    assert status_row(store)["consecutive_failures"] == 4
    assert backoff_delay(10, 40, 0) == 10 and backoff_delay(10, 40, 10_000) == 40


def test_a_server_that_is_down_is_a_failure_that_says_so(store, tmp_path):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    feed = feed_cfg(f"http://127.0.0.1:{port}/feed?api_key=SECRET", max_retries=1, retry_backoff_s=0.01)
    result = poller(feed, store, tmp_path).poll()
    assert result.outcome == "failed"
    assert "connection failed (2 attempts)" in result.error and "refused" in result.error.lower()
    assert "SECRET" not in result.error  # queries (API keys) are not logged or stored


def test_a_404_is_not_retried(server, store, tmp_path):
    result = poller(feed_cfg(server.url("/missing"), max_retries=3), store, tmp_path).poll()
    assert result.outcome == "failed" and "HTTP 404" in result.error
    assert len(server.hits("/missing")) == 1


def test_malformed_json_is_a_recorded_failure_not_a_crash(server, store, tmp_path):
    server.routes["/feed"] = static(b'{"type": "FeatureCollection", "features": [')
    result = poller(feed_cfg(server.url()), store, tmp_path).poll()
    assert result.outcome == "failed"
    assert "not readable as geojson-track-points" in result.error and "JSON" in result.error
    assert count(store) == 0
    row = status_row(store)
    assert row["state"] == "failing" and "not valid JSON" in row["last_error"]
    assert list((tmp_path / "staging").iterdir()) == []


def test_a_response_over_max_bytes_is_refused(server, store, tmp_path):
    server.routes["/feed"] = static(PAYLOAD)
    result = poller(feed_cfg(server.url(), max_bytes=100), store, tmp_path).poll()
    assert result.outcome == "failed" and "max_bytes" in result.error
    assert count(store) == 0


def test_recovery_after_an_outage_stores_nothing_twice(server, store, tmp_path):
    p = poller(feed_cfg(server.url(), max_retries=1), store, tmp_path)
    server.routes["/feed"] = static(PAYLOAD, etag='"a"')
    assert p.poll().outcome == "ingested"
    for outage in (status(503), static(b"<html>proxy error</html>"), status(500)):
        server.routes["/feed"] = outage
        assert p.poll().outcome == "failed"
    assert status_row(store)["consecutive_failures"] == 3
    # Back, serving the same records under a new ETag: re-delivered, not re-stored.
    server.routes["/feed"] = static(PAYLOAD, etag='"b"')
    again = p.poll()
    assert again.outcome == "ingested"
    assert again.summary.inserted == 0 and again.summary.unchanged == 3
    assert count(store) == 3 and count(store, "tracks") == 2
    # And new records after recovery arrive once each.
    server.routes["/feed"] = static(features(5), etag='"c"')
    assert p.poll().summary.inserted == 2
    assert p.poll().outcome == "not-modified"
    assert count(store) == 5
    row = status_row(store)
    assert row["state"] == "ok" and row["consecutive_failures"] == 0 and pd.isna(row["last_error"])


def test_an_unexpected_error_in_a_poll_is_recorded_and_polling_continues(server, store, tmp_path):
    class FlakyStore(DeltaStore):
        fail = True

        def write(self, layer, frame):
            if self.fail:
                self.fail = False
                raise RuntimeError("disk on fire")
            return super().write(layer, frame)

    flaky = FlakyStore(tmp_path / "flaky")
    server.routes["/feed"] = static(PAYLOAD, etag='"x"')
    p = poller(feed_cfg(server.url()), flaky, tmp_path)
    first = p.poll()
    assert first.outcome == "failed" and "RuntimeError: disk on fire" in first.error
    second = p.poll()  # the ETag was not saved, so the payload comes again in full
    assert second.outcome == "ingested" and count(flaky) == 3
    assert "if-none-match" not in server.hits()[1]


# --- staleness ---------------------------------------------------------------------------
def test_stale_is_shown_within_two_intervals_without_success(server, store, tmp_path):
    server.routes["/feed"] = static(PAYLOAD)
    feed = feed_cfg(server.url(), interval_s=10)
    p = poller(feed, store, tmp_path)
    assert p.poll(now=T0).outcome == "ingested"

    def health(now):
        h = feed_health(store, now)
        return h.set_index("feed").loc["partner-uav"]

    assert health(T0 + timedelta(seconds=5))["state"] == "ok"
    server.routes["/feed"] = status(500)
    assert p.poll(now=T0 + timedelta(seconds=10)).outcome == "failed"
    h = health(T0 + timedelta(seconds=10))
    assert h["state"] == "failing" and h["age_s"] == 10 and "HTTP 500" in h["last_error"]
    assert health(T0 + timedelta(seconds=19))["state"] == "failing"
    # Two intervals after the last success: stale, whether or not another poll ran.
    assert health(T0 + timedelta(seconds=21))["state"] == "stale"
    p.poll(now=T0 + timedelta(seconds=21))
    assert status_row(store)["state"] == "stale"
    # A feed whose runner died while "ok" turns stale too: the state is recomputed.
    server.routes["/feed"] = static(PAYLOAD)
    assert p.poll(now=T0 + timedelta(seconds=30)).outcome == "ingested"
    assert status_row(store)["state"] == "ok"
    assert health(T0 + timedelta(seconds=51))["state"] == "stale"


def test_feed_health_uses_stale_after_s_from_the_config_and_lists_feeds_never_run(server, store, tmp_path):
    server.routes["/feed"] = static(PAYLOAD)
    doc = {"feed": [
        {"name": "partner-uav", "kind": "http-json", "url": server.url(), "format": "geojson-track-points",
         "interval_s": 10, "stale_after_s": 15, "allow_hosts": ["127.0.0.1"]},
        {"name": "never-run", "kind": "cot-udp"},
    ]}
    config = parse_config(doc)
    poller(config.feeds[0], store, tmp_path).poll(now=T0)
    h = feed_health(store, T0 + timedelta(seconds=16), config=config).set_index("feed")
    assert h.loc["partner-uav", "state"] == "stale"  # 15 s from the config, not 2 x 10 s
    assert h.loc["never-run", "state"] == "stale" and "not run" in h.loc["never-run", "last_error"]
    assert feed_health(store, T0 + timedelta(seconds=16)).set_index("feed").loc["partner-uav", "state"] == "ok"


# --- SSRF ---------------------------------------------------------------------------------
def test_loopback_is_refused_unless_allowed_and_no_request_is_made(server, store, tmp_path):
    server.routes["/feed"] = static(PAYLOAD)
    result = poller(feed_cfg(server.url(), allow_hosts=[]), store, tmp_path).poll()
    assert result.outcome == "failed"
    assert "refused" in result.error and "loopback" in result.error and "allow_hosts" in result.error
    assert server.hits() == []
    row = status_row(store)
    assert row["state"] == "failing" and "loopback" in row["last_error"]
    allowed = poller(feed_cfg(server.url(), allow_hosts=["127.0.0.0/8"]), store, tmp_path).poll()
    assert allowed.outcome == "ingested" and len(server.hits()) == 1


@pytest.mark.parametrize(("url", "why"), [
    ("http://127.0.0.1:9/feed", "loopback"),
    ("HTTP://127.0.0.1:9/feed", "loopback"),
    ("hTTpS://127.0.0.1:9/feed", "loopback"),
    ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
    ("http://[::1]:9/feed", "loopback"),
    ("http://[fe80::1]/", "link-local"),
    ("http://[::ffff:10.0.0.5]/", "private"),
    ("http://[fd00::5]/", "unique local"),
    ("http://192.168.1.1/", "private"),
    ("http://172.16.0.1/", "private"),
    ("http://0.0.0.0:9/", "unspecified"),
    ("http://239.2.3.1/", "multicast"),
    ("http://240.0.0.1/", "reserved"),
    ("http://100.64.0.1/", "carrier-grade NAT"),
    ("http://127.1:9/", "loopback"),  # inet_aton shorthands
    ("http://2130706433:9/", "loopback"),
    ("http://0x7f000001:9/", "loopback"),
    ("file:///etc/passwd", "scheme 'file' is not allowed"),
    ("gopher://127.0.0.1:70/_GET", "scheme 'gopher' is not allowed"),
    ("ftp://example.org/x", "scheme 'ftp' is not allowed"),
    ("http://evil.test\\@127.0.0.1/", "backslash"),
    ("http:///feed", "no host"),
])
def test_guard_refuses_non_public_targets_and_other_schemes_with_a_reason(url, why):
    def no_dns(host: str) -> list[str]:
        raise AssertionError(f"no resolution expected for {host}")

    with pytest.raises(FeedRefusedError) as info:
        check_url(url, resolver=no_dns)
    assert why in str(info.value)
    assert "refused" in str(info.value)


def test_allow_hosts_admits_exactly_what_it_lists():
    lo = AllowList.parse(["127.0.0.1"])
    assert check_url("http://127.0.0.1:8080/x", lo).ip == "127.0.0.1"
    with pytest.raises(FeedRefusedError):
        check_url("http://127.0.0.2:8080/x", lo)
    with pytest.raises(FeedRefusedError):
        check_url("http://[::1]:8080/x", lo)  # allowing 127.0.0.1 does not allow ::1
    assert check_url("http://[::1]:8080/x", AllowList.parse(["[::1]"])).ip == "::1"
    assert check_url("http://10.1.2.3/x", AllowList.parse(["10.0.0.0/8"])).ip == "10.1.2.3"
    with pytest.raises(ValueError):
        AllowList.parse(["not a host!"])


def test_a_name_resolving_to_a_private_address_is_refused_without_traffic(store, tmp_path):
    asked: list[str] = []

    def resolver(host: str) -> list[str]:
        asked.append(host)
        return ["10.0.0.5"]

    feed = feed_cfg("http://feeds.partner.test/tracks.geojson", allow_hosts=[])
    result = poller(feed, store, tmp_path, resolver=resolver).poll()
    assert asked == ["feeds.partner.test"]
    assert result.outcome == "failed"
    assert "feeds.partner.test resolves to 10.0.0.5" in result.error and "private" in result.error
    # One private answer among public ones is refused too (DNS answers can be mixed).
    with pytest.raises(FeedRefusedError, match="10.0.0.5"):
        check_url("http://x.test/", resolver=lambda h: ["93.184.216.34", "10.0.0.5"])


def test_an_allowed_name_connects_to_the_checked_address_with_the_name_as_host(server, store, tmp_path):
    """Pinning: requests is handed the checked IP (no second lookup, so a DNS answer that
    changes after the check cannot redirect the connection); the server still sees the
    name in the Host header."""
    asked: list[str] = []

    def resolver(host: str) -> list[str]:
        asked.append(host)
        return ["127.0.0.1"]

    server.routes["/feed"] = static(PAYLOAD)
    feed = feed_cfg(server.url(host="feeds.partner.test"), allow_hosts=["feeds.partner.test"])
    result = poller(feed, store, tmp_path, resolver=resolver).poll()
    assert result.outcome == "ingested", result.error
    assert asked == ["feeds.partner.test"]  # resolved once, by the guard
    assert server.hits()[0]["host"] == f"feeds.partner.test:{server.port}"


def test_a_redirect_to_a_private_address_is_refused(server, store, tmp_path):
    server.routes["/feed"] = static(PAYLOAD)
    server.routes["/r1"] = redirect("http://10.0.0.5/internal/admin")
    result = poller(feed_cfg(server.url("/r1")), store, tmp_path).poll()
    assert result.outcome == "failed"
    assert "refused http://10.0.0.5/internal/admin" in result.error and "private" in result.error
    server.routes["/meta"] = redirect("http://169.254.169.254/latest/meta-data/iam", 307)
    result = poller(feed_cfg(server.url("/meta")), store, tmp_path).poll()
    assert "cloud metadata" in result.error
    # 127.0.0.1 is allowed, [::1] is not: a redirect to the other loopback is refused too.
    server.routes["/v6"] = redirect(f"http://[::1]:{server.port}/feed")
    result = poller(feed_cfg(server.url("/v6")), store, tmp_path).poll()
    assert "[::1]" in result.error and "loopback" in result.error
    assert [path for path, _ in server.requests] == ["/r1", "/meta", "/v6"]  # only the redirectors
    assert count(store) == 0


def test_redirects_are_followed_on_allowed_hosts_and_capped(server, store, tmp_path):
    server.routes["/old"] = redirect("/feed", 301)
    server.routes["/feed"] = static(PAYLOAD)
    result = poller(feed_cfg(server.url("/old")), store, tmp_path).poll()
    assert result.outcome == "ingested" and count(store) == 3
    server.routes["/loop"] = redirect("/loop")
    result = poller(feed_cfg(server.url("/loop"), max_redirects=3), store, tmp_path).poll()
    assert result.outcome == "failed" and "more than 3 redirects" in result.error
    assert len(server.hits("/loop")) == 4


def test_configured_headers_are_not_sent_to_another_origin_after_a_redirect(server, store, tmp_path,
                                                                             monkeypatch):
    other = FeedServer()
    try:
        other.routes["/feed"] = static(PAYLOAD)
        server.routes["/feed"] = redirect(other.url())
        monkeypatch.setenv("PARTNER_TOKEN", "s3cret")
        feed = feed_cfg(server.url(), headers={"Authorization": "${PARTNER_TOKEN}"})
        assert poller(feed, store, tmp_path).poll().outcome == "ingested"
        assert server.hits()[0]["authorization"] == "s3cret"
        assert "authorization" not in other.hits()[0]
    finally:
        other.close()


@pytest.fixture
def tls_files(tmp_path) -> tuple[Path, Path]:
    """A self-signed certificate for feed.test (the openssl command line, no network)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=feed.test", "-addext", "subjectAltName=DNS:feed.test",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=30)
    return cert, key


def test_https_pinned_to_the_checked_address_still_verifies_the_name(tls_files, store, tmp_path):
    cert, key = tls_files
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    seen_sni: list[str | None] = []
    ctx.sni_callback = lambda sock, name, c: seen_sni.append(name)
    tls = FeedServer(tls=ctx)
    try:
        tls.routes["/feed"] = static(PAYLOAD)
        feed = feed_cfg(tls.url(host="feed.test"), allow_hosts=["feed.test"], ca_bundle=str(cert))
        result = poller(feed, store, tmp_path, resolver=lambda h: ["127.0.0.1"]).poll()
        assert result.outcome == "ingested", result.error
        assert seen_sni == ["feed.test"]
        # The certificate names feed.test; reaching the same address as other.test must fail.
        feed = feed_cfg(tls.url(host="other.test"), allow_hosts=["other.test"], ca_bundle=str(cert))
        result = poller(feed, store, tmp_path, resolver=lambda h: ["127.0.0.1"]).poll()
        assert result.outcome == "failed" and "TLS" in result.error
    finally:
        tls.close()


# --- config ---------------------------------------------------------------------------------
def test_the_example_config_parses_into_frozen_settings():
    config = load_config(DATA / "feeds.toml")
    tracks, incidents, udp, tcp = config.feeds
    assert tracks.kind == "http-json" and tracks.layer == "track_points" and tracks.stale_after_s == 90
    assert tracks.allow_hosts.allows_name("FEEDS.mission.internal.")
    assert incidents.stale_after_s == 120 and incidents.source == "incident-reports"
    assert udp.port == 6969 and udp.group == "239.2.3.1"
    assert tcp.port == 8087 and tcp.host == "127.0.0.1"
    with pytest.raises(AttributeError):
        tracks.url = "http://elsewhere/"  # type: ignore[misc]
    with pytest.raises(TypeError):
        tracks.headers["X"] = "y"  # type: ignore[index]


@pytest.mark.parametrize(("change", "expect"), [
    ({"intervall_s": 5}, "unknown setting 'intervall_s'"),
    ({"kind": "http"}, "kind: expected one of http-json, cot-udp, cot-tcp"),
    ({"format": "shapefile"}, "format: expected an adapter name"),
    ({"url": "file:///etc/passwd"}, "url: expected an http:// or https:// URL"),
    ({"url": "https://user:pw@feeds.example/x"}, "credentials in the URL"),
    ({"interval_s": -1}, "interval_s: expected a number > 0, found -1"),
    ({"interval_s": True}, "interval_s: expected a number of seconds"),
    ({"max_retries": 2.5}, "max_retries: expected a whole number"),
    ({"backoff_cap_s": 5}, "backoff_cap_s: expected a number >= interval_s"),
    ({"allow_hosts": ["10.0.0.0/8", "bad host!"]}, "allow_hosts: expected a list of host names"),
    ({"headers": {"Authorization": "${WATCHFLOOR_TEST_UNSET_VAR}"}}, "WATCHFLOOR_TEST_UNSET_VAR to be set"),
    ({"format": "geojson"}, "layer: expected the target layer"),
])
def test_bad_http_settings_name_the_feed_and_the_setting(change, expect):
    table = {"name": "partner-uav", "kind": "http-json", "url": "https://feeds.example/x",
             "format": "geojson-track-points", **change}
    with pytest.raises(ConfigError) as info:
        parse_config({"feed": [table]}, origin="feeds.toml")
    text = str(info.value)
    assert expect in text and "'partner-uav'" in text and "feeds.toml" in text


@pytest.mark.parametrize(("table", "expect"), [
    ({"name": "d", "kind": "cot-udp", "port": 70000}, "port: expected a whole number in 0..65535"),
    ({"name": "d", "kind": "cot-udp", "group": "10.0.0.1"}, "group: expected an IPv4 multicast"),
    ({"name": "d", "kind": "cot-udp", "group": "239.2.3.1", "host": "0.0.0.0"}, "host: expected nothing"),
    ({"name": "d", "kind": "cot-tcp", "group": "239.2.3.1"}, "unknown setting 'group'"),
    ({"name": "d", "kind": "cot-udp", "url": "http://x/"}, "unknown setting 'url'"),
    ({"name": "d", "kind": "cot-tcp", "host": "my laptop"}, "host: expected an IP address"),
    ({"kind": "cot-tcp"}, "name: expected a non-empty string"),
])
def test_bad_cot_settings_are_refused(table, expect):
    with pytest.raises(ConfigError, match=expect.replace("(", r"\(")):
        parse_config({"feed": [table]})


def test_config_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[[feed]]\nname = 'x\n")
    with pytest.raises(ConfigError, match="valid TOML"):
        load_config(bad)
    dup = tmp_path / "dup.toml"
    dup.write_text("[[feed]]\nname='a'\nkind='cot-udp'\n[[feed]]\nname='a'\nkind='cot-tcp'\n")
    with pytest.raises(ConfigError, match="#2 name: expected a name no other feed uses"):
        load_config(dup)
    single = tmp_path / "single.toml"
    single.write_text("[feed]\nname='a'\nkind='cot-udp'\n")
    with pytest.raises(ConfigError, match=r"\[\[feed\]\]"):
        load_config(single)


# --- CoT -------------------------------------------------------------------------------------
def cot(uid: str, t: str, lat: float = 42.66, lon: float = 21.17, kind: str = "a-f-A-M-F-Q") -> bytes:
    return (f'<event version="2.0" uid="{uid}" type="{kind}" how="m-g" time="{t}" start="{t}" '
            f'stale="2026-11-21T10:10:00Z"><point lat="{lat}" lon="{lon}" hae="850" ce="10" le="10"/>'
            f'<detail><contact callsign="{uid}"/><track speed="30.5" course="90"/></detail></event>'
            ).encode()


BOMB = (Path(__file__).resolve().parent / "data" / "hostile" / "billion_laughs_cot.xml").read_bytes()
NO_POINT = b'<event version="2.0" uid="BROKEN-1" type="a-f-G" time="2026-11-21T10:00:00Z"><detail/></event>'


def cot_cfg(kind: str, **settings: Any):
    table = {"name": f"drones-{kind}", "kind": kind, "port": 0, "batch_s": 0.2, "interval_s": 30,
             "source": f"drones-{kind}", "default_marking": "UNCLASSIFIED", **settings}
    return parse_config({"feed": [table]}).feeds[0]


def wait_for(condition: Callable[[], bool], timeout: float = 60.0) -> bool:
    """Poll `condition` until it holds; the deadline only bounds a failure (a loaded
    machine makes a test slower, never wrong)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def reasons(store: DeltaStore, source: str) -> list[str]:
    return sorted(store.quarantined(source=source)["reason"])


def test_cot_over_udp_reaches_the_store_and_bad_datagrams_are_quarantined(store):
    feed = cot_cfg("cot-udp")
    assert feed.host == "127.0.0.1"  # the default: not every interface
    with CotListener(feed, store) as listener, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        host, port = listener.address
        assert host == "127.0.0.1"
        for datagram in (cot("UAV-1", "2026-11-21T10:00:00Z"), cot("UAV-1", "2026-11-21T10:00:05Z", 42.67),
                         cot("GND-3", "2026-11-21T10:00:01Z", kind="a-f-G-U-C"),
                         NO_POINT, b"not xml at all", BOMB):
            tx.sendto(datagram, (host, port))
        assert wait_for(lambda: listener.stats.messages == 6 and count(store) == 3
                        and len(store.quarantined(source=feed.source)) == 3)
        assert status_row(store, feed.name)["state"] == "ok"
    points = store.read("track_points")
    assert sorted(points["track_id"]) == ["GND-3", "UAV-1", "UAV-1"]  # friendly ground unit: a track point
    assert set(points["marking"]) == {"UNCLASSIFIED"}
    assert reasons(store, feed.source) == [HOSTILE_INPUT, "malformed_record", "malformed_record"]
    hostile = store.quarantined(source=feed.source).set_index("reason").loc[HOSTILE_INPUT]
    assert "DOCTYPE" in hostile["detail"] and "udp from 127.0.0.1" in hostile["detail"]
    assert listener.stats.hostile == 1 and listener.stats.rejected == 2 and listener.stats.events == 3
    assert status_row(store, feed.name)["state"] == "stopped"


def test_cot_over_tcp_splits_a_stream_across_send_calls(store):
    feed = cot_cfg("cot-tcp")
    stream = (b'<?xml version="1.0" encoding="UTF-8"?>\n' + cot("UAV-2", "2026-11-21T10:00:00Z")
              + b"\n" + cot("UAV-2", "2026-11-21T10:00:05Z", 42.67) + NO_POINT
              + cot("UAV-3", "2026-11-21T10:00:02Z", 42.5, 21.0))
    with CotListener(feed, store) as listener:
        with socket.create_connection(listener.address, timeout=5) as tx:
            for i in range(0, len(stream), 37):  # cut mid-tag, mid-attribute, mid-event
                tx.sendall(stream[i:i + 37])
                time.sleep(0.002)
        assert wait_for(lambda: count(store) == 3 and len(store.quarantined(source=feed.source)) == 1)
    assert sorted(store.read("track_points")["track_id"]) == ["UAV-2", "UAV-2", "UAV-3"]
    assert reasons(store, feed.source) == ["malformed_record"]
    assert listener.stats.messages == 4 and listener.stats.connections == 1


def test_an_entity_bomb_on_tcp_is_refused_quarantined_and_the_peer_dropped(store):
    feed = cot_cfg("cot-tcp")
    with CotListener(feed, store) as listener:
        with socket.create_connection(listener.address, timeout=5) as tx:
            tx.sendall(cot("UAV-4", "2026-11-21T10:00:00Z") + b"\n" + BOMB
                       + cot("UAV-4", "2026-11-21T10:00:09Z"))
            closed = False
            try:
                closed = tx.recv(1) == b""  # the listener hangs up
            except ConnectionResetError:
                closed = True
            assert closed
        assert wait_for(lambda: listener.stats.hostile == 1 and count(store) >= 1
                        and len(store.quarantined(source=feed.source)) == 1)
    assert listener.stats.connections_dropped == 1
    assert list(store.read("track_points")["track_id"]) == ["UAV-4"]  # the event before the bomb
    q = store.quarantined(source=feed.source).iloc[0]
    assert q["reason"] == HOSTILE_INPUT and "DOCTYPE" in q["detail"] and "lol9" in q["raw"]


def test_cot_batches_flush_at_batch_max_before_batch_s(store):
    feed = cot_cfg("cot-udp", batch_s=3600, batch_max=4)
    with CotListener(feed, store) as listener, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        for i in range(4):
            tx.sendto(cot(f"UAV-{i}", "2026-11-21T10:00:00Z"), listener.address)
        assert wait_for(lambda: listener.stats.batches == 1)  # long before batch_s = 1 h
        assert count(store) == 4


def test_a_multicast_group_is_joined(store):
    """Joins on the loopback interface only; sends nothing to the group."""
    feed = cot_cfg("cot-udp", group="239.2.3.1", interface="127.0.0.1")
    listener = CotListener(feed, store)
    try:
        listener.start()
    except Exception as exc:  # noqa: BLE001 - containers without multicast on lo
        pytest.skip(f"multicast not available here: {exc}")
    try:
        assert listener.address[0] == "239.2.3.1"
    finally:
        listener.stop()


# --- runner ----------------------------------------------------------------------------------
def write_config(path: Path, feeds: list[dict[str, Any]]) -> Path:
    lines = []
    for f in feeds:
        lines.append("[[feed]]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in f.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def http_table(name: str, url: str, **kw: Any) -> dict[str, Any]:
    return {"name": name, "kind": "http-json", "url": url, "format": "geojson-track-points",
            "interval_s": 0.3, "timeout_s": 2, "max_retries": 0, "retry_backoff_s": 0,
            "allow_hosts": ["127.0.0.1"], **kw}


def test_run_once_polls_every_http_feed_and_survives_a_bad_one(server, store, tmp_path):
    server.routes["/good"] = static(PAYLOAD)
    server.routes["/bad"] = status(500)
    # a once-run ignores the interval; a real one keeps "stale" (after 2 intervals) far from a
    # loaded machine's pace between the poll and the health check
    config = load_config(write_config(tmp_path / "feeds.toml", [
        http_table("good", server.url("/good"), interval_s=60), http_table("bad", server.url("/bad"), interval_s=60),
        {"name": "udp", "kind": "cot-udp", "port": 0},
    ]))
    report = run(config, store, once=True, staging_dir=tmp_path / "staging", state_dir=tmp_path / "state")
    outcomes = {r.feed: r.outcome for r in report.polls}
    assert outcomes == {"good": "ingested", "bad": "failed"}
    assert not report.ok and report.skipped and "udp" in report.skipped[0]
    assert count(store) == 3
    assert set(feed_health(store)["state"]) == {"ok", "failing"}


def test_feeds_command_once_prints_a_line_per_feed(server, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WATCHFLOOR_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("WATCHFLOOR_STORE", raising=False)
    server.routes["/good"] = static(PAYLOAD)
    cfg = write_config(tmp_path / "feeds.toml", [http_table("good", server.url("/good"))])
    assert feeds_command(["--config", str(cfg), "--once"]) == 0
    out = capsys.readouterr().out
    assert "feed good: track_points: 3 stored, 0 quarantined" in out
    assert feeds_command(["--config", str(cfg), "--once"]) == 0  # staging under $WATCHFLOOR_HOME
    assert list((tmp_path / "home" / "staging" / "feeds").iterdir()) == []
    with pytest.raises(ConfigError):
        feeds_command(["--config", str(tmp_path / "nope.toml"), "--once"])


def test_run_until_stopped_polls_listens_and_stops_cleanly(server, store, tmp_path):
    server.routes["/feed"] = static(PAYLOAD, etag='"r1"')
    config = load_config(write_config(tmp_path / "feeds.toml", [
        http_table("poll", server.url("/feed")),
        {"name": "udp", "kind": "cot-udp", "port": 0, "batch_s": 0.2},
    ]))
    stop = threading.Event()
    report = RunReport()
    t = threading.Thread(target=run, args=(config, store), daemon=True,
                         kwargs={"stop_event": stop, "report": report, "staging_dir": tmp_path / "s",
                                 "state_dir": tmp_path / "st"})
    t.start()
    try:
        assert wait_for(lambda: len(server.hits()) >= 3)  # polled every 0.3 s
        assert wait_for(lambda: "udp" in report.listeners)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            tx.sendto(cot("UAV-8", "2026-11-21T10:30:00Z"), report.listeners["udp"].address)
        assert wait_for(lambda: count(store) == 4)
    finally:
        stop.set()
        t.join(10)
    assert not t.is_alive()
    assert all(h.get("if-none-match") == '"r1"' for h in server.hits()[1:])
    states = {r["feed"]: r["state"] for r in store.feed_status().to_dict("records")}
    assert states == {"poll": "ok", "udp": "stopped"}
    assert report.poll_count >= 3 and report.failed_count == 0


def test_sigterm_stops_the_runner_process_cleanly(server, tmp_path):
    server.routes["/feed"] = static(PAYLOAD)
    cfg = write_config(tmp_path / "feeds.toml", [http_table("poll", server.url("/feed"), interval_s=0.5)])
    env = {**os.environ, "WATCHFLOOR_HOME": str(tmp_path / "home")}
    env.pop("WATCHFLOOR_STORE", None)
    proc = subprocess.Popen([sys.executable, "-m", "ingest.feeds", "run", "--config", str(cfg)], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: len(server.hits()) >= 2 or proc.poll() is not None, timeout=30)
        assert proc.poll() is None, proc.communicate()[1]
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "received SIGTERM" in err and "stopping" in err
    store = DeltaStore(tmp_path / "home" / "store")
    assert count(store) == 3
