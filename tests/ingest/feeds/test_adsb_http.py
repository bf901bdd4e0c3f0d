"""ADS-B over HTTP: the existing poller against a real ThreadingHTTPServer on 127.0.0.1
serving real dump1090 aircraft.json snapshots; and the feed runner with an ADS-B feed
and a MAVLink feed whose drone the site's track_ids.toml names once.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from ingest.adapters.mavlink import mavlink
from ingest.feeds import parse_config
from ingest.feeds.http_poller import HttpPoller
from ingest.feeds.runner import RunReport, run
from tests.ingest.feeds.conftest import wait_for

ADSB = Path(__file__).resolve().parents[2] / "data" / "adsb"
SNAPSHOTS = [(ADSB / f"dump1090_aircraft_{i}.json").read_bytes() for i in (1, 2, 3)]

pytestmark = [pytest.mark.timeout(60), pytest.mark.usefixtures("home")]


class Receiver:
    """A dump1090 web server: GET /data/aircraft.json answers the next snapshot (the last one
    again once all were served), as the receiver's file changes between polls."""

    def __init__(self, snapshots: list[bytes]) -> None:
        self.snapshots, self.hits = list(snapshots), 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # http.server calls do_<METHOD>
                if self.path != "/data/aircraft.json":
                    self.send_error(404)
                    return
                body = outer.snapshots[min(outer.hits, len(outer.snapshots) - 1)]
                outer.hits += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/data/aircraft.json"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(SNAPSHOTS)
    yield r
    r.close()


def adsb_table(url: str, **kw: Any) -> dict[str, Any]:
    return {"name": "rx-toulouse", "kind": "http-json", "url": url, "format": "adsb-aircraft-json",
            "interval_s": 0.2, "timeout_s": 2, "max_retries": 0, "allow_hosts": ["127.0.0.1"],
            "default_marking": "UNCLASSIFIED", **kw}


def test_three_polls_of_a_receiver_store_each_position_once(receiver, store, tmp_path):
    feed = parse_config({"feed": [adsb_table(receiver.url)]}).feeds[0]
    poller = HttpPoller(feed, store, staging_dir=tmp_path / "staging", state_dir=tmp_path / "state")
    results = [poller.poll() for _ in SNAPSHOTS]
    assert [r.outcome for r in results] == ["ingested"] * 3 and receiver.hits == 3
    for r in results:  # each snapshot: TRA89M located, TJT62CB heard only
        assert (r.summary.read, r.summary.stored, r.summary.quarantined) == (2, 1, 1)
    assert [(r.summary.inserted, r.summary.unchanged) for r in results] == [(1, 0), (1, 0), (0, 1)]
    points = store.read("track_points").sort_values("time")
    assert list(points["track_id"]) == ["adsb:48520a", "adsb:48520a"]
    assert list(points["time"]) == [pd.Timestamp("2026-12-04T03:59:35.300Z"),
                                    pd.Timestamp("2026-12-04T03:59:41.100Z")]
    q = store.quarantined(source="rx-toulouse")
    assert set(q["reason"]) == {"missing_geometry"} and set(q["source_id"]) == {"adsb:3981e4"}
    assert results[-1].status.state == "ok" and results[-1].status.quarantined_last == 1


def drone_packets(sysid: int) -> list[bytes]:
    mav = mavlink.MAVLink(None, srcSystem=sysid, srcComponent=1)
    boot = 1_796_356_700_000_000  # unix us at boot: the fixes fall just before the ADS-B ones
    return [mav.heartbeat_encode(mavlink.MAV_TYPE_QUADROTOR, mavlink.MAV_AUTOPILOT_ARDUPILOTMEGA,
                                 0, 0, 0).pack(mav),
            mav.system_time_encode(boot + 60_000_000, 60_000).pack(mav),
            mav.global_position_int_encode(61_000, 436400000, 12300000, 300000, 150000, 900, 0, 0,
                                           0).pack(mav)]


def test_a_drone_heard_by_an_adsb_receiver_and_its_telemetry_link_is_one_track(receiver, store, home,
                                                                                 tmp_path):
    (home / "track_ids.toml").write_text('[track_ids]\n"mavlink:7" = "UAV-7"\n"adsb:48520A" = "UAV-7"\n')
    config = parse_config({"feed": [
        adsb_table(receiver.url),
        {"name": "gcs", "kind": "mavlink-udp", "port": 0, "batch_s": 0.2, "default_marking": "UNCLASSIFIED"},
    ]})
    stop, report = threading.Event(), RunReport()
    t = threading.Thread(target=run, args=(config, store), daemon=True,
                         kwargs={"stop_event": stop, "report": report, "staging_dir": tmp_path / "s",
                                 "state_dir": tmp_path / "st"})
    t.start()
    try:
        assert wait_for(lambda: "gcs" in report.listeners)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            for packet in drone_packets(7):
                tx.sendto(packet, report.listeners["gcs"].address)
        assert wait_for(lambda: receiver.hits >= 3 and len(store.read("track_points")) == 3)
    finally:
        stop.set()
        t.join(10)
    assert not t.is_alive()
    points = store.read("track_points").sort_values("time")
    assert list(points["source"]) == ["gcs", "rx-toulouse", "rx-toulouse"]
    assert set(points["track_id"]) == {"UAV-7"}
    tracks = store.read("tracks")
    assert list(tracks["track_id"]) == ["UAV-7"] and tracks["point_count"].iloc[0] == 3
    assert tracks["callsign"].iloc[0] == "TRA89M"  # the last fix's callsign
    states = {r["feed"]: r["state"] for r in store.feed_status().to_dict("records")}
    assert states == {"rx-toulouse": "ok", "gcs": "stopped"}
    assert json.loads(store.quarantined(source="rx-toulouse")["raw"].iloc[0])["hex"] == "3981e4"
