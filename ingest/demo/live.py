"""The live demo: the scenario keeps moving, in real time, through the real feed paths.

`watchfloor demo load` writes a 24-hour scenario that ends when it was loaded; an hour later
its drones have landed and the wall looks dead. `watchfloor demo live` plays the world around
the operation for as long as it runs, the way the world would reach a real watch floor:

- drones report their positions as Cursor-on-Target, some over UDP (TAK situational-awareness
  style), some over a TCP gateway connection, to the project's own CoT listeners;
- the incident-reporting system, the partner units' reporting and the imagery catalogue are
  HTTP feeds on 127.0.0.1, polled by the project's own HTTP poller (`incidents.geojson`,
  `units.geojson`, `imagery.json`).

`feeds_config` writes the feeds.toml that listens to and polls exactly those endpoints, for
`watchfloor feeds run`; `watchfloor up --demo` (what `make run` starts) runs all of it.

Everything is a function of the clock and the seed: a drone's position at time t, the
incidents of each minute, each unit's latest report, each imagery pass. Restarting the demo
replays the same world, and the HTTP feeds serve the same documents to every poll of one
state (ETags work). Drones fly patterns over real towns and facilities from the bundled
reference layers (data/demo/live.toml); incidents and scenes come from the static
scenario's own generators (ingest/demo/).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import socket
import threading
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
from pyproj import Geod
from shapely.geometry import LineString, Point, Polygon

from ingest.config import DATA_DIR
from ingest.demo.common import (
    DEFAULT_REFERENCE_DIR,
    DEFAULT_SEED,
    M_ALL,
    M_NATO,
    STAC_EXT,
    _iso_s,
    _ll,
    _norm,
)
from ingest.demo.deployments import _deployments, _deployments_geojson
from ingest.demo.imagery import _stac_item, _stac_json
from ingest.demo.incidents import _hotspot_towns, acled_incident, relief_incident
from ingest.demo.tables import NATION_CALLSIGN, NATION_MARKINGS
from ingest.demo.tracks import cot_event
from ingest.demo.world import _load_reference
from ingest.errors import ConfigError

log = logging.getLogger("watchfloor.demo.live")

LIVE_FILE = DATA_DIR / "demo" / "live.toml"
STEP_S = 5.0  # a position report per drone every 5 s: smooth at the wall's refresh, light on the store
INCIDENT_CHANCE_PER_MINUTE = 0.2  # about 12 new incidents an hour
INCIDENT_HORIZON_S = 12 * 3600  # the incident feed lists the last 12 h (a rolling report)
VERIFIED_AFTER_S = 30 * 60
UNIT_REPORT_S = 15 * 60  # every partner unit reports its position every 15 minutes
IMAGERY_SLOT_S = 90 * 60  # a new scene about every 90 minutes...
IMAGERY_LATENCY_S = 45 * 60  # ...catalogued 45 minutes after acquisition
IMAGERY_HORIZON_S = 48 * 3600
SPEED_MS = {"fw": 26.0, "qc": 11.0}
ALTITUDE_M = {"fw": 1200.0, "qc": 120.0}
ERROR_M = {"fw": (15.0, 25.0), "qc": (5.0, 8.0)}  # CoT ce, le
_GEOD = Geod(ellps="WGS84")


@dataclass(frozen=True)
class Endpoints:
    """Where the demo's world sends and serves, all on loopback by default."""

    host: str = "127.0.0.1"
    cot_udp: int = 16969
    cot_tcp: int = 18087
    http: int = 18765

    def url(self, name: str) -> str:
        return f"http://{self.host}:{self.http}/{name}"


def feeds_config(endpoints: Endpoints = Endpoints()) -> str:
    """The feeds.toml that receives the live demo with the project's own feed runner."""
    h = endpoints.host
    return f"""# The live demo's feeds (written by watchfloor; see ingest/demo/live.py).
[[feed]]
name = "demo-drones-udp"
kind = "cot-udp"
host = "{h}"
port = {endpoints.cot_udp}
source = "demo-live-cot"
default_marking = "UNCLASSIFIED//REL TO NATO"
batch_s = 2.0
stale_after_s = 120

[[feed]]
name = "demo-drones-gateway"
kind = "cot-tcp"
host = "{h}"
port = {endpoints.cot_tcp}
source = "demo-live-cot"
default_marking = "UNCLASSIFIED//REL TO NATO"
batch_s = 2.0
stale_after_s = 120

[[feed]]
name = "demo-incident-reports"
kind = "http-json"
url = "{endpoints.url('incidents.geojson')}"
format = "geojson-incidents"
source = "demo-live-incidents"
default_marking = "UNCLASSIFIED"
interval_s = 60
allow_hosts = ["{h}"]

[[feed]]
name = "demo-unit-reports"
kind = "http-json"
url = "{endpoints.url('units.geojson')}"
format = "geojson-deployments"
source = "demo-deployments"
default_marking = "UNCLASSIFIED//REL TO NATO"
interval_s = 120
allow_hosts = ["{h}"]

[[feed]]
name = "demo-imagery-catalogue"
kind = "http-json"
url = "{endpoints.url('imagery.json')}"
format = "stac"
source = "demo-live-stac"
default_marking = "UNCLASSIFIED"
interval_s = 300
allow_hosts = ["{h}"]
"""


# -- drones ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Drone:
    """One drone flying one pattern, in UTM metres (the scenario's projection)."""

    uid: str
    callsign: str
    nation: str
    airframe: str
    transport: str
    marking: str
    path: LineString  # a closed loop, flown over and over while airborne
    sortie_s: float
    ground_s: float
    offset_s: float

    @property
    def cot_type(self) -> str:
        return "a-f-A-M-F-Q" if self.airframe == "fw" else "a-f-A-M-H-Q"

    def position(self, t: float) -> tuple[float, float, float, float, float] | None:
        """(lon, lat, altitude m, course deg, speed m/s) at epoch second ``t``; None on the ground."""
        cycle = self.sortie_s + self.ground_s
        phase = (t + self.offset_s) % cycle
        if phase >= self.sortie_s:
            return None
        speed = SPEED_MS[self.airframe]
        along = (phase * speed) % self.path.length
        here = self.path.interpolate(along)
        ahead = self.path.interpolate((along + 5.0) % self.path.length)
        lon, lat = _ll(here.x, here.y)
        lon2, lat2 = _ll(ahead.x, ahead.y)
        course = _GEOD.inv(lon, lat, lon2, lat2)[0] % 360.0
        climb = min(1.0, phase / 120.0, (self.sortie_s - phase) / 120.0)  # take-off and landing
        return float(lon), float(lat), ALTITUDE_M[self.airframe] * max(0.1, climb), course, speed


def _loop(points: list[tuple[float, float]]) -> LineString:
    return LineString([*points, points[0]])


def _town(ref, spec: list[str], where: str):
    cc, *names = spec
    town = ref.town(cc, names)
    if town is None:
        raise ConfigError(f"{LIVE_FILE}: {where}", f"a town of {cc} in the reference places", names)
    return town


def _infra(ref, kind: str, names: list[str], where: str):
    for name in names:
        for f in ref.infra:
            if f.kind == kind and _norm(name) in _norm(f.name):
                return f
    raise ConfigError(f"{LIVE_FILE}: {where}", f"a {kind} named like one of", names)


def load_drones(ref, path: Path = LIVE_FILE) -> list[Drone]:
    """The drones of data/demo/live.toml, their patterns laid over the reference places."""
    with path.open("rb") as fh:
        doc = tomllib.load(fh)
    drones = []
    for i, d in enumerate(doc.get("drone", [])):
        where = f"drone[{i}] {d.get('uid')}"
        pattern = d["pattern"]
        if pattern in ("orbit", "loiter"):
            c = _town(ref, d["over"], where) if pattern == "orbit" else _infra(ref, d["kind"], d["near"], where)
            ring = Point(c.x, c.y).buffer(float(d["radius_m"]), quad_segs=16).exterior
            path = LineString(ring.coords)
        elif pattern == "patrol":
            a, b = _town(ref, d["from"], where), _town(ref, d["to"], where)
            path = _loop([(a.x, a.y), (b.x, b.y)])
        elif pattern == "route":
            towns = [_town(ref, spec, where) for spec in d["via"]]
            path = _loop([(t.x, t.y) for t in towns])
        else:
            raise ConfigError(f"{path}: {where}.pattern", "orbit, loiter, patrol or route", pattern)
        nation = d["nation"]
        number = int("".join(ch for ch in d["uid"] if ch.isdigit()) or 0)
        offset = int(hashlib.sha256(d["uid"].encode()).hexdigest()[:8], 16) % 100_000
        drones.append(Drone(
            uid=d["uid"], callsign=f"{NATION_CALLSIGN.get(nation, nation)} {number + 10}",
            nation=nation, airframe=d["airframe"], transport=d["transport"],
            marking=NATION_MARKINGS.get(nation, (M_NATO,))[0], path=path,
            sortie_s=60.0 * d["sortie_min"], ground_s=60.0 * d["ground_min"], offset_s=float(offset)))
    return drones


# -- the world ------------------------------------------------------------------------------------

class LiveWorld:
    """The demo's world as a function of time (see the module doc)."""

    def __init__(self, *, seed: int = DEFAULT_SEED, reference_dir: Path | None = None,
                 drones_file: Path = LIVE_FILE) -> None:
        self.seed = seed
        self.ref = _load_reference(Path(reference_dir) if reference_dir else
                                            DEFAULT_REFERENCE_DIR)
        self.hotspots = _hotspot_towns(self.ref)
        # The static scenario's units (same seed, same draws): the live reports move them on.
        r_dep = np.random.default_rng(seed).spawn(5)[0]
        self.units = _deployments(self.ref, r_dep, 0)
        self.drones = load_drones(self.ref, drones_file)

    # drones
    def cot_events(self, t: float) -> list[tuple[str, bytes]]:
        """(transport, one CoT event) per airborne drone at epoch second ``t``."""
        out = []
        t_ms = int(t * 1000)
        for d in self.drones:
            pos = d.position(t)
            if pos is None:
                continue
            lon, lat, alt, course, speed = pos
            ce, le = ERROR_M[d.airframe]
            xml = cot_event(d.uid, d.cot_type, t_ms, lat, lon, alt, ce, le, d.callsign, course, speed,
                                     "live demo sortie", d.marking)
            out.append((d.transport, xml.encode("utf-8")))
        return out

    # incidents
    def incidents(self, t: float) -> dict:
        """The incident feed at ``t``: every report of the last INCIDENT_HORIZON_S, as GeoJSON."""
        feats = []
        first = int((t - INCIDENT_HORIZON_S) // 60)
        for minute in range(first, int(t // 60) + 1):
            rng = np.random.default_rng([self.seed, 2, minute])
            if rng.random() >= INCIDENT_CHANCE_PER_MINUTE:
                continue
            occurred_ms = (minute * 60 + int(rng.integers(0, 60))) * 1000
            if occurred_ms > t * 1000:
                continue
            relief = rng.random() < 0.22
            make = relief_incident if relief else acled_incident
            inc = make(self.ref, rng, self.hotspots, lambda o=occurred_ms: (o, 0))
            age_s = t - occurred_ms / 1000
            status, updated_ms = "reported", occurred_ms
            if age_s >= VERIFIED_AFTER_S:
                status, updated_ms = "verified", occurred_ms + VERIFIED_AFTER_S * 1000
            title = inc.title or f"{inc.subcategory} at {inc.town.name}"
            feats.append({
                "type": "Feature", "id": f"LIVE-{minute}",
                "geometry": {"type": "Point", "coordinates": [round(inc.lon, 5), round(inc.lat, 5)]},
                "properties": {
                    "id": f"LIVE-{minute}", "occurred_at": _iso_s(occurred_ms),
                    "updated_at": _iso_s(updated_ms), "category": inc.category,
                    "subcategory": inc.subcategory, "severity": inc.severity, "status": status,
                    "title": title, "description": inc.notes, "location_name": inc.town.name,
                    "fatalities": inc.fatalities, "marking": inc.marking,
                },
            })
        return {"type": "FeatureCollection", "name": "Live incident reports", "features": feats}

    # units
    def unit_reports(self, t: float) -> dict:
        """Every partner unit's latest report: each reports every UNIT_REPORT_S, on its own beat."""
        for u in self.units:
            beat = int(hashlib.sha256(u.key.encode()).hexdigest()[:6], 16) % UNIT_REPORT_S
            u.reported_ms = int(((t - beat) // UNIT_REPORT_S * UNIT_REPORT_S + beat) * 1000)
        return json.loads(_deployments_geojson(self.units))

    # imagery
    def imagery(self, t: float) -> dict:
        """The imagery catalogue at ``t``: scenes acquired in the last IMAGERY_HORIZON_S and already
        catalogued, as a STAC ItemCollection."""
        items = []
        last = int((t - IMAGERY_LATENCY_S) // IMAGERY_SLOT_S)
        first = int((t - IMAGERY_HORIZON_S) // IMAGERY_SLOT_S)
        for slot in range(first, last + 1):
            rng = np.random.default_rng([self.seed, 3, slot])
            acquired_ms = (slot * IMAGERY_SLOT_S + int(rng.integers(0, IMAGERY_SLOT_S))) * 1000
            if acquired_ms / 1000 + IMAGERY_LATENCY_S > t:
                continue
            town = self.hotspots[int(rng.integers(0, len(self.hotspots)))]
            # a 110 km wide slice of a descending pass, 110 km along the track
            heading = math.radians(-12.0 + float(rng.normal(0, 1.5)))
            ux, uy = math.sin(heading), math.cos(heading)
            footprint = Polygon([(town.x + sx * 55_000 * ux + sy * 55_000 * uy, town.y + sx * 55_000 * uy - sy * 55_000 * ux)
                                 for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1))])
            platform = ("sentinel-2a", "sentinel-2b", "sentinel-2c")[int(rng.integers(0, 3))]
            cloud = round(float(rng.beta(0.6, 1.1)) * 100.0, 1)
            stamp = datetime.fromtimestamp(acquired_ms / 1000, UTC)
            item_id = f"S2{platform[-1].upper()}_LIVE_{stamp:%Y%m%dT%H%M%S}_{slot % 10_000:04d}"
            items.append(_stac_item(
                item_id, "sentinel-2-l2a", footprint, acquired_ms,
                {"platform": platform, "constellation": "sentinel-2", "instruments": ["msi"],
                 "eo:cloud_cover": cloud, "gsd": 10},
                [STAC_EXT["eo"]], M_ALL))
        return json.loads(_stac_json(items))

    def document(self, name: str, t: float) -> dict | None:
        handler: dict[str, Callable[[float], dict]] = {
            "incidents.geojson": self.incidents, "units.geojson": self.unit_reports, "imagery.json": self.imagery}
        fn = handler.get(name)
        return fn(t) if fn else None


# -- serving and sending ----------------------------------------------------------------------------

def _server(world: LiveWorld, endpoints: Endpoints, clock: Callable[[], float]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            doc = world.document(self.path.lstrip("/").split("?", 1)[0], clock())
            if doc is None:
                self.send_error(404, "the live demo serves incidents.geojson, units.geojson, imagery.json")
                return
            body = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/geo+json" if self.path.endswith("geojson")
                             else "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", etag)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt: str, *args: object) -> None:
            log.debug("http: " + fmt, *args)

    server = ThreadingHTTPServer((endpoints.host, endpoints.http), Handler)
    server.daemon_threads = True
    return server


class _TcpSender:
    """A CoT gateway's TCP connection: reconnects (with a capped backoff) whenever it is lost."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.address = address
        self.sock: socket.socket | None = None
        self.retry_at = 0.0
        self.backoff = 1.0

    def send(self, payload: bytes) -> bool:
        now = time.monotonic()
        if self.sock is None:
            if now < self.retry_at:
                return False
            try:
                self.sock = socket.create_connection(self.address, timeout=5)
                self.backoff = 1.0
            except OSError as exc:
                self.retry_at, self.backoff = now + self.backoff, min(60.0, self.backoff * 2)
                log.info("CoT gateway %s:%d not reachable (%s); retrying", *self.address, exc)
                return False
        try:
            self.sock.sendall(payload)
            return True
        except OSError:
            self.close()
            return False

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def run(endpoints: Endpoints = Endpoints(), *, stop: threading.Event | None = None, world: LiveWorld | None = None,
        clock: Callable[[], float] = time.time, step_s: float = STEP_S,
        on_ready: Callable[[], None] | None = None) -> None:
    """Play the world until ``stop`` is set (or the process is interrupted)."""
    stop = stop or threading.Event()
    world = world or LiveWorld()
    try:
        server = _server(world, endpoints, clock)
    except OSError as exc:
        raise ConfigError(f"demo HTTP feed {endpoints.host}:{endpoints.http}", "a free port", str(exc)) from None
    threading.Thread(target=server.serve_forever, name="demo-http", daemon=True).start()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tcp = _TcpSender((endpoints.host, endpoints.cot_tcp))
    log.info("live demo: CoT to udp %s:%d and tcp %s:%d, feeds on http://%s:%d/", endpoints.host,
             endpoints.cot_udp, endpoints.host, endpoints.cot_tcp, endpoints.host, endpoints.http)
    if on_ready:
        on_ready()
    try:
        while not stop.is_set():
            started = time.monotonic()
            for transport, event in world.cot_events(clock()):
                if transport == "tcp":
                    tcp.send(event)
                else:
                    udp.sendto(event, (endpoints.host, endpoints.cot_udp))
            stop.wait(max(0.0, step_s - (time.monotonic() - started)))
    finally:
        tcp.close()
        udp.close()
        server.shutdown()
        server.server_close()


def drone_summary(world: LiveWorld, t: float) -> list[str]:
    """One line per drone: where it flies and whether it is up (for `watchfloor demo live --list`)."""
    out = []
    for d in world.drones:
        pos = d.position(t)
        state = "airborne" if pos else "on the ground"
        km = d.path.length / 1000
        out.append(f"{d.uid:10s} {d.callsign:12s} {d.transport:3s} {state:13s} loop {km:5.1f} km")
    return out


__all__ = ["Endpoints", "LiveWorld", "drone_summary", "feeds_config", "run"]
