"""The feeds runner: every feed of feeds.toml in one process (ingest/feeds/runner.py)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from ingest.errors import ConfigError
from ingest.feeds import feed_health, load_config
from ingest.feeds.runner import RunReport, feeds_command, run
from ingest.store.delta import DeltaStore
from tests.ingest.feeds.conftest import PAYLOAD, cot, count, static, status, wait_for

pytestmark = pytest.mark.timeout(60)


ROOT = Path(__file__).resolve().parents[3]


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


# -- several runners on one store: one runs each feed, another takes over --------------------

def _runner(config, store, tmp_path, name: str, takeover_s: float = 0.2):
    stop, report = threading.Event(), RunReport()
    t = threading.Thread(target=run, args=(config, store), daemon=True, name=name,
                         kwargs={"stop_event": stop, "report": report, "takeover_s": takeover_s,
                                 "staging_dir": tmp_path / name / "s", "state_dir": tmp_path / name / "st"})
    t.start()
    return stop, report, t


def test_two_runners_share_the_feeds_one_each_and_the_other_takes_over_when_it_stops(server, store, tmp_path):
    server.routes["/feed"] = static(PAYLOAD)
    config = load_config(write_config(tmp_path / "feeds.toml", [
        http_table("poll", server.url("/feed"), interval_s=0.2),
        {"name": "udp", "kind": "cot-udp", "port": 0, "batch_s": 0.2},
    ]))
    first = _runner(config, store, tmp_path, "first")
    assert wait_for(lambda: first[1].held == {"poll", "udp"})  # alone: it takes every feed
    second = _runner(config, store, tmp_path, "second")
    try:
        assert wait_for(lambda: first[1].poll_count >= 5)
        assert second[1].held == set() and second[1].poll_count == 0 and not second[1].listeners
        first[0].set()  # the first one stops: it releases its leases on the way out
        first[2].join(10)
        assert wait_for(lambda: second[1].held == {"poll", "udp"} and "udp" in second[1].listeners)
        polled = second[1].poll_count
        assert wait_for(lambda: second[1].poll_count >= polled + 3)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            tx.sendto(cot("UAV-8", "2026-11-21T10:30:00Z"), second[1].listeners["udp"].address)
        assert wait_for(lambda: count(store) == 4)  # three polled fixes (stored once) and the CoT one
    finally:
        for stop, _, t in (first, second):
            stop.set()
            t.join(10)
    assert {r["feed"]: r["state"] for r in store.feed_status().to_dict("records")} == {"poll": "ok", "udp": "stopped"}


def test_once_skips_a_feed_another_runner_holds(server, store, tmp_path):
    from ingest.store.locks import feed_lease, holder_id

    server.routes["/a"] = static(PAYLOAD)
    server.routes["/b"] = static(PAYLOAD)
    config = load_config(write_config(tmp_path / "feeds.toml", [http_table("a", server.url("/a")),
                                                               http_table("b", server.url("/b"))]))
    with store.exclusive(feed_lease("b")) as held:  # as another runner's lease would be
        assert held
        report = run(config, store, once=True, staging_dir=tmp_path / "s", state_dir=tmp_path / "st")
    assert [r.feed for r in report.polls] == ["a"] and report.ok
    assert report.skipped == [f"b: {holder_id()} runs it"]
    assert server.hits("/b") == []
