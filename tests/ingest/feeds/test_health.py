"""Feed staleness as the Data health page shows it (ingest/feeds/health.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ingest.feeds import feed_health, parse_config
from tests.ingest.feeds.conftest import PAYLOAD, feed_cfg, poller, static, status, status_row

pytestmark = pytest.mark.timeout(60)


T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


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
