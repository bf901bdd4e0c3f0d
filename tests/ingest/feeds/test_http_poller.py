"""HTTP feeds against a real server on 127.0.0.1: timeouts, retries, conditional requests, size caps (ingest/feeds/http_poller.py)."""

from __future__ import annotations

import json
import socket
import threading
import time
from email.utils import formatdate

import pandas as pd
import pytest

from ingest.feeds.http_poller import backoff_delay
from ingest.store.delta import DeltaStore
from tests.ingest.feeds.conftest import PAYLOAD, count, feed_cfg, poller, static, status, status_row

pytestmark = pytest.mark.timeout(60)


def features(n: int) -> bytes:
    """A payload of the fixture's features plus n - 3 generated ones (n >= 3)."""
    doc = json.loads(PAYLOAD)
    for i in range(n - 3):
        t = f"2026-11-21T10:01:{i:02d}Z"
        doc["features"].append({"type": "Feature", "id": f"uav-7@{t}",
                                "geometry": {"type": "Point", "coordinates": [21.17 + i / 1000, 42.664]},
                                "properties": {"track_id": "UAV-7", "time": t}})
    return json.dumps(doc).encode()


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
