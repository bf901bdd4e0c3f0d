"""Live feeds: HTTP pollers and Cursor-on-Target listeners feeding the ingest pipeline.

- `config`: the `feeds.toml` file -> frozen `HttpFeed` / `CotFeed` settings;
- `netguard`: the SSRF guard every outgoing request passes (`FeedRefusedError`);
- `http_poller`: one poll = guarded, conditional, capped GET -> adapter -> `pipeline.ingest`;
- `cot_listener`: UDP datagrams / TCP streams of CoT -> batches -> `pipeline.ingest`;
- `mavlink_listener`: MAVLink telemetry datagrams, the same way (`kind = "mavlink-udp"`);
- `runner`: all feeds in one process (`run`, and `feeds_command` for the CLI);
- `health`: `feed_health(store, now)`, the per-feed state for the Data health page.

Every record still enters the store through `ingest.pipeline.ingest`, so live
data gets exactly the checks, quarantine and accounting files get.
"""

from __future__ import annotations

from ingest.feeds.config import CotFeed, FeedsConfig, HttpFeed, load_config, parse_config
from ingest.feeds.errors import FeedError, FeedFetchError, FeedRefusedError
from ingest.feeds.health import feed_health

__all__ = [
    "CotFeed",
    "FeedError",
    "FeedFetchError",
    "FeedRefusedError",
    "FeedsConfig",
    "HttpFeed",
    "feed_health",
    "load_config",
    "parse_config",
]
