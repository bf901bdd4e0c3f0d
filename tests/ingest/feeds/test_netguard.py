"""The SSRF guard: schemes, addresses, redirects, pinning; names resolved by an injected resolver (ingest/feeds/netguard.py)."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from ingest.feeds import FeedRefusedError
from ingest.feeds.netguard import AllowList, check_url
from tests.ingest.feeds.conftest import (
    PAYLOAD,
    FeedServer,
    Reply,
    count,
    feed_cfg,
    poller,
    static,
    status_row,
)

pytestmark = pytest.mark.timeout(60)


def redirect(location: str, code: int = 302) -> Callable[[BaseHTTPRequestHandler], Reply]:
    return lambda h: (code, {"Location": location}, b"")


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
