"""A shared deployment on one PostGIS store, for real, on loopback: two dashboard servers, two feed
runners with the same feeds.toml, one `watchfloor alerts run`, each a process of its own with a
WATCHFLOOR_HOME of its own (as on separate machines), all with WATCHFLOOR_STORE naming one schema.

The world they watch (hand-placed with pyproj.Geod, distances from the power plant P):
- an HTTP incidents feed serving the same four incidents on every poll: 500 m, 1.2 km and 1.8 km
  from P (inside the rule's 2 km for power plants: three alerts) and 5 km (none);
- an HTTP track feed serving one new fix of UAV-1 on every request (so every request served is a
  record that must be stored once), naming in the User-Agent the pid of the runner that polled;
- a CoT UDP listener on one fixed port, to which the test sends UAV-2's fixes, each re-sent until it
  is stored (a datagram sent while no runner listens is lost, as UDP is);
- two partner units and the plant, ingested beforehand.

The runners start together and split the feeds between them (a feed's lease, an advisory lock);
the test kills the one running the track feed with SIGKILL and the other takes every feed over.
The evaluator holds the alerts lease; both dashboards evaluate in the background too when nobody
else does, so they stand by, and one of them takes over when the evaluator is killed. Then both
dashboards, read in Chromium, show the same key figures. Every wait is on a condition with a
deadline; the deadlines only bound a failure on a loaded machine.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import threading
from datetime import UTC, datetime, timedelta

import geopandas as gpd
import pandas as pd
import pytest
import requests
import shapely
from pyproj import Geod

from ingest.pipeline import ingest_frame
from ingest.store.locks import feed_lease
from ingest.store.postgis import PostGISStore, upgrade
from tests.conftest import add_test_users, sign_in, start_dashboard
from tests.ingest.feeds.conftest import FeedServer
from tests.support.storeproc import Child
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.postgis, pytest.mark.browser, pytest.mark.timeout(900)]

GEOD = Geod(ellps="WGS84")
P = (21.10, 42.69)  # the power plant (lon, lat)
MARKING = "UNCLASSIFIED//REL TO NATO"
NOW = datetime.now(UTC).replace(microsecond=0)
T0 = NOW - timedelta(hours=1)  # UAV-1's first fix; fix n is n seconds later
FEEDS = ("incidents", "tracks", "drones")


def from_p(metres: float, bearing: float = 90.0) -> tuple[float, float]:
    lon, lat, _ = GEOD.fwd(P[0], P[1], bearing, metres)
    return lon, lat


def incidents_geojson() -> bytes:
    rows = [("INC-1", 500, "critical"), ("INC-2", 1200, "high"), ("INC-3", 1800, "high"), ("INC-4", 5000, "low")]
    features = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": from_p(d, 45.0 * i)},
                 "properties": {"id": ident, "occurred_at": (NOW - timedelta(hours=2 + i)).isoformat(),
                                "category": "Explosions/Remote violence", "severity": sev, "status": "verified",
                                "title": f"report {ident}"}}
                for i, (ident, d, sev) in enumerate(rows)]
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


def fix_geojson(n: int) -> bytes:
    lon, lat = from_p(30_000 + 50 * n, 180.0)  # 30 km south of the plant and moving away
    t = (T0 + timedelta(seconds=n)).isoformat()
    return json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": f"uav-1@{n}", "geometry": {"type": "Point", "coordinates": [lon, lat]},
         "properties": {"track_id": "UAV-1", "time": t, "callsign": "KESTREL 1"}}]}).encode()


def cot_fix(k: int) -> tuple[bytes, str]:
    """UAV-2's fix k as a CoT datagram, and the source_id it is stored under (uid@time)."""
    lon, lat = from_p(40_000 + 100 * k, 270.0)
    t = (NOW - timedelta(minutes=10) + timedelta(seconds=k)).strftime("%Y-%m-%dT%H:%M:%SZ")
    stale = (NOW + timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (f'<event version="2.0" uid="UAV-2" type="a-f-A-M-F-Q" how="m-g" time="{t}" start="{t}" '
            f'stale="{stale}"><point lat="{lat}" lon="{lon}" hae="900" ce="10" le="10"/>'
            f'<detail><contact callsign="HARRIER 2"/></detail></event>').encode(), f"UAV-2@{t}"


def pid_of(user_agent: str) -> int:
    return int(re.search(r"\(pid (\d+)\)", user_agent).group(1))


class TrackSource:
    """The track feed: one new fix per request; remembers which fix went to which runner."""

    def __init__(self) -> None:
        self.served: list[tuple[int, int]] = []  # (fix n, pid of the runner)
        self.lock = threading.Lock()

    def __call__(self, handler):
        with self.lock:
            n = len(self.served)
            self.served.append((n, pid_of(handler.headers["User-Agent"])))
        return 200, {"Content-Type": "application/geo+json"}, fix_geojson(n)


def runs(pids: list[int]) -> list[int]:
    """The pids of consecutive runs of requests by one runner: [a, b] is a then b, never again a."""
    return [p for i, p in enumerate(pids) if i == 0 or pids[i - 1] != p]


def holder_pid(store: PostGISStore, name: str) -> int | None:
    holder = store.exclusive(name).holder()
    return None if holder is None else int(holder.split()[1])


def key_figures(page) -> dict[str, str]:
    out = {}
    for metric in page.locator("[data-testid='stMetric']").all():
        label, *_, value = metric.inner_text().split("\n")
        if label != "UTC":  # the clock
            out[label.strip()] = value.strip()
    return out


def seed(store: PostGISStore) -> None:
    plant = gpd.GeoDataFrame({"source_id": ["plant-p"], "kind": ["power_plant"], "name": ["Plant P"]},
                             geometry=[shapely.Point(P)], crs=4326)
    units = gpd.GeoDataFrame(
        {"source_id": ["gbr-1", "fra-1"], "nation": ["GBR", "FRA"], "unit_name": ["1 Coy", "2 Cie"],
         "strength": [120, 90], "reported_at": [pd.Timestamp(NOW - timedelta(hours=1))] * 2},
        geometry=[shapely.Point(from_p(20_000, 0)), shapely.Point(from_p(25_000, 0))], crs=4326)
    assert ingest_frame(store, "infrastructure", plant, source="site", default_marking=MARKING).stored == 1
    assert ingest_frame(store, "deployments", units, source="partners", default_marking=MARKING).stored == 2


def feeds_toml(http: FeedServer, cot_port: int) -> str:
    common = f'interval_s = 0.5\ntimeout_s = 5\nmax_retries = 0\nallow_hosts = ["127.0.0.1"]\n' \
             f'default_marking = "{MARKING}"\n'
    return (f'[[feed]]\nname = "incidents"\nkind = "http-json"\nurl = "{http.url("/incidents")}"\n'
            f'format = "geojson-incidents"\n{common}\n'
            f'[[feed]]\nname = "tracks"\nkind = "http-json"\nurl = "{http.url("/tracks")}"\n'
            f'format = "geojson-track-points"\n{common}\n'
            f'[[feed]]\nname = "drones"\nkind = "cot-udp"\nport = {cot_port}\nbatch_s = 0.2\n'
            f'default_marking = "{MARKING}"\n')


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_dashboards_two_runners_and_evaluators_on_one_postgis(postgis_url, browser, tmp_path):
    upgrade(postgis_url)
    store = PostGISStore(postgis_url)
    seed(store)
    http = FeedServer()
    http.routes["/incidents"] = lambda h: (200, {"Content-Type": "application/geo+json"}, incidents_geojson())
    tracks = TrackSource()
    http.routes["/tracks"] = tracks
    cot_port = free_udp_port()
    config = tmp_path / "feeds.toml"
    config.write_text(feeds_toml(http, cot_port))

    def env(name: str, **more: str) -> dict[str, str]:
        home = tmp_path / name
        home.mkdir()
        return {**os.environ, "WATCHFLOOR_HOME": str(home), "WATCHFLOOR_STORE": postgis_url, **more}

    cli = {"module": "layers.cli"}
    children: list[Child] = []
    dashboards: list = []
    pages: list = []
    try:
        evaluator = Child("alerts", "run", "--interval", "2", "--takeover-s", "0.5", env=env("evaluator"), **cli)
        children.append(evaluator)
        evaluator.expect(f"this evaluator (pid {evaluator.p.pid} on ")
        runners = [Child("feeds", "run", "--config", str(config), "--takeover-s", "0.5", env=env(f"runner-{i}"),
                         **cli) for i in (1, 2)]
        children += runners
        add_test_users(tmp_path, store_url=postgis_url)  # once: both dashboards sign in against the store's accounts
        for i in (1, 2):
            home = tmp_path / f"dashboard-{i}"
            home.mkdir()
            dashboards.append((home, *start_dashboard(home, WATCHFLOOR_STORE=postgis_url, WATCHFLOOR_REFRESH_S="5",
                                                      WATCHFLOOR_ALERTS_IN_DASHBOARD="1")))

        # -- one runner per feed; the other takes over what a killed one ran -----------------------------
        by_pid = {r.p.pid: r for r in runners}
        held = wait_until(lambda: (h := {f: holder_pid(store, feed_lease(f)) for f in FEEDS})
                          and all(p in by_pid for p in h.values()) and h, "every feed run by one of the runners")
        wait_until(lambda: len(store.read("incidents")) == 4 and len(tracks.served) >= 3, "the first polls stored")
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

        def deliver(k: int) -> None:
            """Send fix k until it is stored: a datagram nobody listens for is lost (UDP)."""
            payload, source_id = cot_fix(k)

            def stored() -> bool:
                sock.sendto(payload, ("127.0.0.1", cot_port))
                return not store.read("track_points", where={"source": "drones", "source_id": source_id},
                                      columns=["source_id"]).empty
            wait_until(stored, f"CoT fix {k} stored", every=0.3)

        for k in range(3):
            deliver(k)
        victim = by_pid[held["tracks"]]
        survivor = next(r for r in runners if r is not victim)
        served_before_kill = len(tracks.served)
        victim.kill()
        killed_at = pd.Timestamp.now(tz="UTC")
        wait_until(lambda: all(holder_pid(store, feed_lease(f)) == survivor.p.pid for f in FEEDS),
                   "the surviving runner running every feed")
        wait_until(lambda: sum(p == survivor.p.pid for _, p in tracks.served) >= 3, "polls by the survivor")
        for k in range(3, 6):
            deliver(k)

        # -- the alerts: raised once, by one evaluator at a time ------------------------------------------
        def near_plant() -> gpd.GeoDataFrame:
            alerts = store.alerts()
            return alerts[alerts["rule"] == "incident_near_infrastructure"]

        wait_until(lambda: len(near_plant()) == 3, "the three incident_near_infrastructure alerts")
        raised = store.alerts().set_index("key")
        assert raised.index.is_unique
        assert sorted(json.loads(s)[0] for s in near_plant()["subjects"]) == \
            [f"incidents/incidents/INC-{n}" for n in (1, 2, 3)]  # not INC-4, 5 km away
        assert {json.loads(s)[1] for s in near_plant()["subjects"]} == {"infrastructure/site/plant-p"}

        for _, url, _ in dashboards:
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            sign_in(page, url)
            page.wait_for_selector("[data-testid='stMetric']", timeout=120_000)
            pages.append(page)
        logs = [home / "streamlit.log" for home, _, _ in dashboards]
        standby = f"alert evaluation: standing by, pid {evaluator.p.pid} on "
        wait_until(lambda: all(standby in log.read_text() for log in logs), "both dashboards standing by", 120)
        assert all("alert evaluation at" not in log.read_text() for log in logs)
        evaluations = [line for line in evaluator.kill() if " findings: " in line]
        by_dashboard = {proc.pid: log for (_, _, proc), log in zip(dashboards, logs, strict=True)}
        taker = wait_until(lambda: next((pid for pid, log in by_dashboard.items()
                                         if f"evaluating for the server pid {pid}) evaluates" in log.read_text()),
                                        None),
                           "a dashboard taking the alert evaluation over", 120)
        other = next(pid for pid in by_dashboard if pid != taker)
        # each dashboard evaluates in a child process (layers/alerts/background.py): the lease names the child
        child = re.search(r"this dashboard \(pid (\d+) on [^,]+, evaluating for the server pid "
                          + str(taker), by_dashboard[taker].read_text()).group(1)
        wait_until(lambda: f"standing by, pid {child} on " in by_dashboard[other].read_text(),
                   "the other dashboard standing by for it", 120)
        wait_until(lambda: "alert evaluation at" in by_dashboard[taker].read_text(), "the dashboard's evaluation")
        assert "alert evaluation at" not in by_dashboard[other].read_text()
        assert len(evaluations) >= 2
        after = store.alerts().set_index("key")
        # UAV-1's stale_track alerts are keyed by its stale time, which every new fix moves; the rest stand
        kept = after.index.intersection(raised.index)
        assert set(near_plant()["key"]) <= set(kept) and len(kept) > 3
        assert (after.loc[kept, "first_seen"] == raised.loc[kept, "first_seen"]).all()  # seen again, never raised again
        assert set(after.loc[near_plant()["key"], "state"]) == {"open"}

        # -- both dashboards show the same picture --------------------------------------------------------
        survivor.p.send_signal(signal.SIGTERM)
        survivor.finish()
        assert survivor.p.returncode == 0, survivor._stderr[-20:]
        expected = {"Incidents, 24 h": "4", "Critical / high": "1 / 2", "Partner units": "2"}

        def same_picture():
            figures = [key_figures(p) for p in pages]
            agreed = figures[0] == figures[1] and all(figures[0].get(k) == v for k, v in expected.items())
            return agreed and figures[0]

        figures = wait_until(same_picture, "the same key figures on both dashboards", 120, every=1.0)
        assert figures["Active tracks"] == "1"  # UAV-2 (CoT stale time ahead); UAV-1's fixes are an hour old
        for _, url, _ in dashboards:
            assert requests.get(f"{url}/_stcore/health", timeout=10).ok
    finally:
        for page in pages:
            page.close()
        for child in children:
            if child.p.poll() is None:
                child.kill()
        for _, _, proc in dashboards:
            proc.terminate()
            proc.wait(30)
        http.close()

    # -- every record stored once -------------------------------------------------------------------------
    points = store.read("track_points")
    assert points.set_index(["source", "source_id"]).index.is_unique
    stored = set(points.loc[points["source"] == "tracks", "source_id"])
    served = {f"uav-1@{n}": pid for n, pid in tracks.served}
    lost = set(served) - stored
    assert stored <= set(served)
    # only a fix in flight to the killed runner may be missing (served, then the runner died)
    assert len(lost) <= 1 and all(served[i] == victim.p.pid for i in lost), lost
    cot_ids = sorted(points.loc[points["source"] == "drones", "source_id"])
    assert cot_ids == sorted(cot_fix(k)[1] for k in range(6))  # each fix once, however often it was sent
    incidents = store.read("incidents")
    assert sorted(incidents["source_id"]) == ["INC-1", "INC-2", "INC-3", "INC-4"]
    assert incidents["ingested_at"].nunique() == 1 and incidents["ingested_at"].iloc[0] < killed_at
    assert store.version("incidents") == 1  # polled again and again by both: written once
    assert store.quarantined().empty

    # -- each feed's requests from one runner at a time: the killed one's, then the survivor's ----------
    for path in ("/incidents", "/tracks"):
        pids = [pid_of(h["user-agent"]) for h in http.hits(path)]
        order = runs(pids)
        assert set(order) <= {victim.p.pid, survivor.p.pid} and len(order) == len(set(order)), (path, order)
        if len(order) == 2:
            assert order == [victim.p.pid, survivor.p.pid]
    track_pids = [p for _, p in tracks.served]
    assert runs(track_pids) == [victim.p.pid, survivor.p.pid]
    assert track_pids.index(survivor.p.pid) >= served_before_kill
    store.close()
