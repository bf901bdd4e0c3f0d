"""`watchfloor feed cot-out` (layers/cot_out.py): only what the account may see goes out, and a
dropped connection is picked up again.

Real sockets on 127.0.0.1: a loopback TCP server written here (it records every byte of every
connection and can hang up), and the project's own CoT listener (ingest/feeds/cot_listener.py)
writing into a second store. Waits poll a condition with a deadline, never a fixed sleep.
"""

from __future__ import annotations

import re
import socket
import threading
from datetime import UTC, datetime, timedelta

import geopandas as gpd
import pytest
import shapely

from ingest.adapters.cot import iter_cot_events
from ingest.feeds import parse_config
from ingest.feeds.cot_listener import CotListener
from ingest.pipeline import ingest_frame
from ingest.store.delta import DeltaStore
from layers.access import add_user, load_users, set_disabled
from layers.cot_out import CotOutError, CotSender, parse_target
from tests.support.waiting import wait_for

pytestmark = pytest.mark.timeout(120)

NOW = datetime.now(UTC).replace(microsecond=0)
VISIBLE = {"T-NATO", "units.GBR-1", "inc.INC-1"}
HIDDEN = {"T-USA", "units.USA-1", "inc.INC-USA"}


def _frame(rows: list[dict]) -> gpd.GeoDataFrame:
    geoms = [r.pop("geometry") for r in rows]
    return gpd.GeoDataFrame(rows, geometry=gpd.GeoSeries(geoms, crs=4326), crs=4326)


@pytest.fixture
def store(tmp_path) -> DeltaStore:
    """Two tracks, two units, two incidents; one of each releasable to GBR, one USA eyes only."""
    s = DeltaStore(tmp_path / "store")
    t = [(NOW - timedelta(minutes=m)).isoformat() for m in (3, 2)]
    ingest_frame(s, "track_points", _frame([
        {"source_id": f"{tid}-{i}", "track_id": tid, "time": t[i], "geometry": shapely.Point(21.1 + i / 100, lat),
         "callsign": tid, "platform_type": "a-u-A-M-F-Q", "marking": mark}
        for tid, lat, mark in (("T-NATO", 42.6, "UNCLASSIFIED//REL TO NATO"), ("T-USA", 42.7, "SECRET//REL TO USA"))
        for i in range(2)]), source="drones")
    ingest_frame(s, "deployments", _frame([
        {"source_id": "GBR-1", "nation": "GBR", "unit_name": "1 Rifles", "unit_type": "infantry",
         "echelon": "battalion", "reported_at": t[0], "geometry": shapely.Point(21.15, 42.65),
         "marking": "UNCLASSIFIED//REL TO NATO"},
        {"source_id": "USA-1", "nation": "USA", "unit_name": "Task Force", "reported_at": t[0],
         "geometry": shapely.Point(21.2, 42.5), "marking": "UNCLASSIFIED//REL TO USA"}]), source="units")
    ingest_frame(s, "incidents", _frame([
        {"source_id": "INC-1", "occurred_at": t[0], "category": "protest", "severity": "low", "status": "reported",
         "title": "Crowd", "geometry": shapely.Point(21.16, 42.66), "marking": "UNCLASSIFIED"},
        {"source_id": "INC-USA", "occurred_at": t[0], "category": "explosion", "severity": "high",
         "status": "verified", "title": "IED", "geometry": shapely.Point(21.17, 42.67),
         "marking": "UNCLASSIFIED//REL TO USA"}]), source="inc")
    return s


@pytest.fixture
def users(tmp_path):
    path = tmp_path / "users.toml"
    add_user(path, "partner", "a long enough passphrase 1", nation="GBR", clearance="UNCLASSIFIED")
    return path


class LoopbackServer:
    """A TCP server on 127.0.0.1:0 that keeps every connection's bytes and can hang up on them."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.address = self.sock.getsockname()[:2]
        self.received: list[bytearray] = []
        self.conns: list[socket.socket] = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.conns.append(conn)
                buf = bytearray()
                self.received.append(buf)
            threading.Thread(target=self._read, args=(conn, buf), daemon=True).start()

    def _read(self, conn: socket.socket, buf: bytearray) -> None:
        while True:
            try:
                data = conn.recv(65536)
            except OSError:
                return
            if not data:
                return
            with self.lock:
                buf.extend(data)

    def events(self, i: int) -> list[bytes]:
        with self.lock:
            data = bytes(self.received[i]) if i < len(self.received) else b""
        return list(iter_cot_events([data]))

    def uids(self, i: int) -> set[str]:
        return {re.search(rb'uid="([^"]+)"', e).group(1).decode() for e in self.events(i)}

    def drop(self) -> None:
        with self.lock:
            conns, self.conns = self.conns, []
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # the peer went first
            c.close()

    def close(self) -> None:
        self.sock.close()
        self.drop()


def test_only_releasable_records_arrive_and_a_dropped_connection_is_picked_up_again(store, users):
    server = LoopbackServer()
    sender = CotSender(store, *server.address, username="partner", interval_s=0.05, backoff_s=0.05,
                       users=lambda: load_users(users))
    try:
        with sender:
            assert wait_for(lambda: server.uids(0) >= VISIBLE and sender.stats.cycles >= 3), server.uids(0)
            server.drop()  # the server hangs up
            assert wait_for(lambda: len(server.received) >= 2 and server.uids(1) >= VISIBLE), server.uids(1)
            assert wait_for(lambda: sender.stats.connections >= 2)
    finally:
        server.close()
    everything = set().union(*(server.uids(i) for i in range(len(server.received))))
    assert everything == VISIBLE and not everything & HIDDEN  # USA eyes only never left
    unit = next(e for e in server.events(1) if b'uid="units.GBR-1"' in e)
    assert b'type="a-f-G-U-C-I"' in unit and b"<marking>UNCLASSIFIED//REL TO NATO</marking>" in unit
    assert re.search(rb'stale="[^"]+"', unit)


def test_the_projects_own_listener_receives_exactly_the_releasable_records(store, users, tmp_path):
    received = DeltaStore(tmp_path / "received")
    feed = parse_config({"feed": [{"name": "tak-in", "kind": "cot-tcp", "port": 0, "batch_s": 0.1,
                                   "interval_s": 30, "source": "tak-in", "default_marking": "UNCLASSIFIED"}]}).feeds[0]
    with CotListener(feed, received) as listener:
        sender = CotSender(store, *listener.address, username="partner", interval_s=0.1, users=lambda: load_users(users))
        with sender:
            assert wait_for(lambda: len(received.read("tracks")) == 1 and len(received.read("deployments")) == 1
                            and len(received.read("incidents")) == 1)
    assert list(received.read("tracks")["track_id"]) == ["T-NATO"]
    assert list(received.read("deployments")["source_id"]) == ["GBR-1"]  # the record's own id came back
    assert list(received.read("incidents")["marking"]) == ["UNCLASSIFIED"]
    assert received.quarantined().empty


def test_a_disabled_account_stops_the_stream_at_the_next_cycle(store, users):
    server = LoopbackServer()
    sender = CotSender(store, *server.address, username="partner", interval_s=0.05, backoff_s=0.05,
                       max_backoff_s=0.05, users=lambda: load_users(users))
    try:
        with sender:
            assert wait_for(lambda: sender.stats.cycles >= 1)
            set_disabled(users, "partner")
            assert wait_for(lambda: sender.stats.failures >= 2)  # logged and retried, never a crash
            cycles = sender.stats.cycles
            assert wait_for(lambda: sender.stats.failures >= 4)
            assert sender.stats.cycles == cycles  # nothing more was sent
    finally:
        server.close()


def test_bad_arguments_are_refused_with_what_was_expected(store):
    with pytest.raises(CotOutError, match="expected HOST:PORT"):
        parse_target("localhost")
    assert parse_target("[::1]:8087") == ("::1", 8087)
    with pytest.raises(CotOutError, match="tcp or udp"):
        CotSender(store, "127.0.0.1", 1, username="x", protocol="sctp")
    with pytest.raises(CotOutError, match="not in the users file"):
        CotSender(store, "127.0.0.1", 1, username="nobody", users=dict).viewer()


def test_the_command_refuses_an_unknown_account_before_sending_anything(tmp_path, monkeypatch, capsys):
    from layers.cli import main

    monkeypatch.setenv("WATCHFLOOR_HOME", str(tmp_path))
    monkeypatch.delenv("WATCHFLOOR_STORE", raising=False)
    server = LoopbackServer()
    try:
        assert main(["feed", "cot-out", "--to", "{}:{}".format(*server.address), "--user", "nobody"]) == 2
        assert "account 'nobody': not in the users file" in capsys.readouterr().err
        assert server.received == []  # not even a connection
    finally:
        server.close()
