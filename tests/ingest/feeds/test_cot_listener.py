"""Cursor-on-Target listeners: real UDP datagrams and a real TCP stream on 127.0.0.1 (ingest/feeds/cot_listener.py)."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import pytest

from ingest.feeds import parse_config
from ingest.feeds.cot_listener import HOSTILE_INPUT, CotListener
from ingest.store.delta import DeltaStore
from tests.ingest.feeds.conftest import cot, count, status_row, wait_for

pytestmark = pytest.mark.timeout(60)


BOMB = (Path(__file__).resolve().parents[2] / "data" / "hostile" / "billion_laughs_cot.xml").read_bytes()


NO_POINT = b'<event version="2.0" uid="BROKEN-1" type="a-f-G" time="2026-11-21T10:00:00Z"><detail/></event>'


def cot_cfg(kind: str, **settings: Any):
    table = {"name": f"drones-{kind}", "kind": kind, "port": 0, "batch_s": 0.2, "interval_s": 30,
             "source": f"drones-{kind}", "default_marking": "UNCLASSIFIED", **settings}
    return parse_config({"feed": [table]}).feeds[0]


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


def test_a_tak_drawing_on_the_wire_becomes_a_shape_and_a_chat_is_quarantined(store):
    """A real WinTAK geofence circle (tests/data/cot/wintak_geofence.cot) over UDP: a shape on
    `overlays`, never a track point; a GeoChat message is not a position report."""
    feed = cot_cfg("cot-udp")
    drawing = (Path(__file__).resolve().parents[2] / "data" / "cot" / "wintak_geofence.cot").read_bytes()
    chat = (b"<event version='2.0' uid='GeoChat.X' type='b-t-f' time='2026-11-21T10:00:01Z'>"
            b"<point lat='42.6' lon='21.1'/><detail><remarks>hello</remarks></detail></event>")
    with CotListener(feed, store) as listener, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        for datagram in (drawing, chat, cot("UAV-9", "2026-11-21T10:00:00Z")):
            tx.sendto(datagram, listener.address)
        assert wait_for(lambda: listener.stats.messages == 3 and len(store.read("overlays")) == 1
                        and len(store.quarantined(source=feed.source)) == 1 and count(store) == 1)
    shape = store.read("overlays").iloc[0]
    assert (shape["kind"], shape["geofence"], shape["geofence_trigger"], shape["label"]) == (
        "circle", True, "Entry", "Geo Fence Circle")
    assert shape["marking"] == "UNCLASSIFIED" and shape.geometry.geom_type == "Polygon"
    assert list(store.read("track_points")["track_id"]) == ["UAV-9"]
    assert reasons(store, feed.source) == ["unsupported_type"]
