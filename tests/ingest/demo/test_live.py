"""The live demo's world: a function of the clock, flowing through the real adapters without loss."""

from __future__ import annotations

import json
import socket
import threading
import tomllib
import urllib.error
import urllib.request
from datetime import UTC, datetime

import pytest
from pyproj import Geod

from ingest.adapters import READERS
from ingest.demo.live import STEP_S, Endpoints, LiveWorld, feeds_config, run
from ingest.feeds.config import parse_config
from ingest.validate import validate
from tests.conftest import free_port

T = datetime(2026, 12, 4, 12, 0, tzinfo=UTC).timestamp()


@pytest.fixture(scope="module")
def world():
    return LiveWorld()


def test_the_world_is_a_function_of_the_clock(world):
    again = LiveWorld()
    for name in ("incidents.geojson", "units.geojson", "imagery.json"):
        assert json.dumps(world.document(name, T)) == json.dumps(again.document(name, T)), name
    assert world.cot_events(T) == again.cot_events(T)


def test_drones_fly_smoothly_at_their_speed_and_take_turns_on_the_ground(world):
    geod = Geod(ellps="WGS84")
    airborne = [len([d for d in world.drones if d.position(T + k * 600) is not None]) for k in range(12)]
    assert min(airborne) >= 3 and max(airborne) < len(world.drones)  # never an empty sky, never all up
    for d in world.drones:
        ts = [T + i * STEP_S for i in range(400)]
        pos = [(t, d.position(t)) for t in ts]
        legs = [(a, b) for (ta, a), (tb, b) in zip(pos, pos[1:]) if a and b]
        assert legs, d.uid
        for a, b in legs:
            _, _, metres = geod.inv(a[0], a[1], b[0], b[1])
            assert metres <= a[4] * STEP_S * 1.05 + 1, (d.uid, metres)  # no jumps


def test_every_document_goes_through_its_adapter_with_nothing_quarantined(world, tmp_path):
    for name, fmt in (("incidents.geojson", "geojson-incidents"), ("units.geojson", "geojson-deployments"),
                      ("imagery.json", "stac")):
        path = tmp_path / name
        path.write_text(json.dumps(world.document(name, T)))
        layer, reader = READERS[fmt]
        result = reader(path, source="demo-live")
        checked = validate(result.frame, layer, source="demo-live")
        assert len(result.frame) > 0 and result.rejected.empty and checked.quarantined.empty, name
    events = b"<events>" + b"".join(e for _, e in world.cot_events(T)) + b"</events>"
    (tmp_path / "cot.xml").write_bytes(events)
    layer, reader = READERS["cot"]
    (result,) = reader(tmp_path / "cot.xml", source="demo-live")  # one layer: position reports only
    assert len(result.frame) == len(world.cot_events(T)) and validate(result.frame, layer, source="x").quarantined.empty


def test_incidents_arrive_over_time_and_get_verified(world):
    now = world.incidents(T)["features"]
    later = world.incidents(T + 3600)["features"]
    ids_now = {f["id"] for f in now}
    new = [f for f in later if f["id"] not in ids_now]
    assert 3 <= len(new) <= 30  # about a dozen an hour
    newest = max(now, key=lambda f: f["properties"]["occurred_at"])
    again = next(f for f in later if f["id"] == newest["id"])
    assert again["properties"]["status"] == "verified" and again["properties"]["updated_at"] > \
        newest["properties"]["updated_at"]


def test_units_report_every_quarter_hour(world):
    a = {f["id"]: f["properties"]["reported_at"] for f in world.unit_reports(T)["features"]}
    b = {f["id"]: f["properties"]["reported_at"] for f in world.unit_reports(T + 900)["features"]}
    assert len(a) == 26 and all(b[k] > a[k] for k in a)


def test_the_feeds_config_receives_what_the_world_sends():
    e = Endpoints(cot_udp=1, cot_tcp=2, http=3)
    config = parse_config(tomllib.loads(feeds_config(e)), origin="demo")
    kinds = {f.name: f.kind for f in config.feeds}
    assert kinds == {"demo-drones-udp": "cot-udp", "demo-drones-gateway": "cot-tcp",
                     "demo-incident-reports": "http-json", "demo-unit-reports": "http-json",
                     "demo-imagery-catalogue": "http-json"}


def test_run_sends_cot_over_udp_and_tcp_and_serves_the_feeds(world):
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(30)
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen()
    tcp.settimeout(30)
    e = Endpoints(cot_udp=udp.getsockname()[1], cot_tcp=tcp.getsockname()[1], http=free_port())
    stop, ready = threading.Event(), threading.Event()
    runner = threading.Thread(target=run, args=(e,), kwargs={"stop": stop, "world": world, "step_s": 0.2,
                                                            "on_ready": ready.set, "clock": lambda: T})
    runner.start()
    try:
        assert ready.wait(30)
        datagram = udp.recv(65536)
        assert datagram.startswith(b'<event version="2.0"')
        conn, _ = tcp.accept()
        conn.settimeout(30)
        assert conn.recv(65536).startswith(b'<event version="2.0"')
        with urllib.request.urlopen(e.url("incidents.geojson"), timeout=30) as r:
            body, etag = r.read(), r.headers["ETag"]
        assert json.loads(body)["features"]
        request = urllib.request.Request(e.url("incidents.geojson"), headers={"If-None-Match": etag})
        with pytest.raises(urllib.error.HTTPError) as not_modified:
            urllib.request.urlopen(request, timeout=30)
        assert not_modified.value.code == 304
        conn.close()
    finally:
        stop.set()
        runner.join(30)
        udp.close()
        tcp.close()
    assert not runner.is_alive()
