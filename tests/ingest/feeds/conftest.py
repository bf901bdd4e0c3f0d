"""Fixtures and helpers shared by the tests of this folder.

Live feeds against real servers and sockets on 127.0.0.1 only.

HTTP tests run a real `http.server.ThreadingHTTPServer` in a thread (port 0):
requests is never mocked, so timeouts, retries, conditional requests and
redirects are the real thing. SSRF refusals are judged before any traffic;
names are resolved by an injected resolver, so no test touches DNS. CoT tests
send real UDP datagrams and a real TCP stream to a listener on 127.0.0.1.
Every wait is a bounded loop; every server and listener is shut down.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ingest.feeds import parse_config
from ingest.feeds.http_poller import HttpPoller
from ingest.store.delta import DeltaStore
from tests.support.waiting import wait_for  # noqa: F401  (the folder's tests import it from here)

DATA = Path(__file__).resolve().parents[2] / "data" / "feeds"


PAYLOAD = (DATA / "track_points.geojson").read_bytes()


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


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A WATCHFLOOR_HOME of the test's own: no site track_ids.toml leaks in, and a test can write one."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("WATCHFLOOR_HOME", str(home))
    return home


def poller(feed, store, tmp_path, **kw) -> HttpPoller:
    return HttpPoller(feed, store, staging_dir=tmp_path / "staging", state_dir=tmp_path / "state", **kw)


def status_row(store: DeltaStore, name: str = "partner-uav") -> dict[str, Any]:
    table = store.feed_status()
    rows = table[table["feed"] == name]
    assert len(rows) == 1, table
    return rows.iloc[0].to_dict()


def count(store: DeltaStore, layer: str = "track_points") -> int:
    return len(store.read(layer))


def cot(uid: str, t: str, lat: float = 42.66, lon: float = 21.17, kind: str = "a-f-A-M-F-Q") -> bytes:
    return (f'<event version="2.0" uid="{uid}" type="{kind}" how="m-g" time="{t}" start="{t}" '
            f'stale="2026-11-21T10:10:00Z"><point lat="{lat}" lon="{lon}" hae="850" ce="10" le="10"/>'
            f'<detail><contact callsign="{uid}"/><track speed="30.5" course="90"/></detail></event>'
            ).encode()
