"""Feed health for the Data health page: is each feed's part of the picture current?

The runner writes a `FeedStatus` after every poll, but a status only changes
when something runs: a runner that died, or a poll stuck in backoff, leaves
an "ok" written an hour ago. So the state shown is recomputed here from the
time of the last success and the clock, never taken from the row as written;
that is what makes "stale" appear within two poll intervals of the last good
poll, whatever the runner is doing.

States, strongest first:
- "stale": the last success (or, for a listener that never received
  anything, the moment it started) is older than the stale threshold:
  `stale_after_s` from the config when given, else 2 x the interval the
  runner recorded;
- "stopped": the runner stopped the feed cleanly (listeners; data still fresh);
- "failing": the latest attempt failed (data still fresh, or never any data);
- "ok".
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pandas as pd

from ingest.store.base import FeedStatus, Store

if TYPE_CHECKING:
    from ingest.feeds.config import FeedsConfig

HEALTH_COLUMNS = [
    "feed", "kind", "state", "age_s", "last_success", "last_attempt", "consecutive_failures",
    "last_error", "records_last", "quarantined_last", "interval_s", "stale_after_s", "next_attempt", "marking",
]


def to_utc(value: object) -> pd.Timestamp | None:
    """A tz-aware UTC Timestamp, or None for None/NaT/NaN (store rows hold all three)."""
    if value is None or value is pd.NaT:
        return None
    try:
        if pd.isna(value):  # type: ignore[arg-type]
            return None
    except (TypeError, ValueError):
        pass
    ts = pd.Timestamp(value)  # type: ignore[arg-type]
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def classify(*, last_success: object, last_attempt: object, consecutive_failures: int,
             stored_state: str | None, stale_after_s: float, now: datetime) -> str:
    """The state of one feed at `now` (see the module docstring for the rules)."""
    now_ts = to_utc(now)
    assert now_ts is not None
    ok_at = to_utc(last_success)
    failures = int(consecutive_failures or 0)
    if ok_at is None:
        if failures > 0:
            return "failing"
        started = to_utc(last_attempt)  # a listener that is up but has heard nothing yet
        if started is None or (now_ts - started).total_seconds() > stale_after_s:
            return "stale"
        return "stopped" if stored_state == "stopped" else "ok"
    if (now_ts - ok_at).total_seconds() > stale_after_s:
        return "stale"
    if stored_state == "stopped":
        return "stopped"
    return "failing" if failures > 0 else "ok"


def status_state(status: FeedStatus, stale_after_s: float, now: datetime) -> str:
    return classify(last_success=status.last_success, last_attempt=status.last_attempt,
                    consecutive_failures=status.consecutive_failures, stored_state=status.state,
                    stale_after_s=stale_after_s, now=now)


def feed_health(store: Store, now: datetime | None = None, *,
                config: FeedsConfig | None = None) -> pd.DataFrame:
    """One row per feed: state (ok/stale/failing/stopped), age of the last success in
    seconds (NaN if never), and the recorded status fields (`HEALTH_COLUMNS`).

    With `config`, each feed's `stale_after_s` is used and configured feeds the
    runner has never reported on are listed as stale ("no status recorded");
    without it the threshold is twice the interval the runner recorded (the
    default of `stale_after_s`)."""
    now = now or datetime.now(UTC)
    now_ts = to_utc(now)
    assert now_ts is not None
    status = store.feed_status()
    configured = {f.name: f for f in config.feeds} if config is not None else {}
    rows: list[dict[str, object]] = []
    for rec in status.to_dict("records"):
        name = str(rec["feed"])
        feed = configured.get(name)
        interval = rec.get("interval_s")
        interval = float(interval) if interval is not None and not pd.isna(interval) else math.nan
        threshold = feed.stale_after_s if feed is not None else 2 * interval
        if math.isnan(threshold):
            threshold = math.inf
        last_success = to_utc(rec.get("last_success"))
        state = classify(last_success=last_success, last_attempt=rec.get("last_attempt"),
                         consecutive_failures=int(rec.get("consecutive_failures") or 0),
                         stored_state=rec.get("state"), stale_after_s=threshold, now=now_ts)
        rows.append({
            "feed": name,
            "kind": rec.get("kind"),
            "state": state,
            "age_s": (now_ts - last_success).total_seconds() if last_success is not None else math.nan,
            "last_success": last_success,
            "last_attempt": to_utc(rec.get("last_attempt")),
            "consecutive_failures": int(rec.get("consecutive_failures") or 0),
            "last_error": rec.get("last_error"),
            "records_last": int(rec.get("records_last") or 0),
            "quarantined_last": int(rec.get("quarantined_last") or 0),
            "interval_s": interval,
            "stale_after_s": threshold,
            "next_attempt": to_utc(rec.get("next_attempt")),
            "marking": rec.get("marking") if isinstance(rec.get("marking"), str) else None,
        })
    seen = {r["feed"] for r in rows}
    for name, feed in configured.items():
        if name not in seen:
            rows.append({
                "feed": name, "kind": feed.kind, "state": "stale", "age_s": math.nan,
                "last_success": None, "last_attempt": None, "consecutive_failures": 0,
                "last_error": "no status recorded: the feed runner has not run this feed",
                "records_last": 0, "quarantined_last": 0, "interval_s": feed.interval_s,
                "stale_after_s": feed.stale_after_s, "next_attempt": None, "marking": feed.default_marking,
            })
    out = pd.DataFrame(rows, columns=HEALTH_COLUMNS)
    for col in ("last_success", "last_attempt", "next_attempt"):
        out[col] = pd.to_datetime(out[col], utc=True)
    return out.sort_values("feed").reset_index(drop=True)
