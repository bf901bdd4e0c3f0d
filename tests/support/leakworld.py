"""A small operation whose every record carries a unique token and a marking whose meaning is known.

Used by the end-to-end releasability tests (tests/dashboard/test_leak.py). Records go in through the
real ingest path into a real embedded store; each record's token (``Q<letter><n>Z``) is
written into the text a person would see (incident title, unit name, facility name, track
callsign and id, scene id), so "did this record reach this viewer" becomes "does this token
appear anywhere in what the dashboard sent them".

The expected visibility is computed from each marking's *meaning* (`Spec`, chosen together
with its text by tests/support/oracle.py's generator and hand-written lists) with the oracle
rules in tests/support/oracle.py, never by parsing the text with the code under test.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from tests.support.oracle import BAD, VIEWERS, OViewer, Spec, gen_marking, oracle_sees

# At least 8 profiles: nations in and out of NATO and the EU, Kosovo, every clearance, every role,
# administrators with high and low clearances, and one who sees only what is released to all.
LEAK_VIEWERS = VIEWERS
PASSWORD = "leak test password 1"
COALITIONS = '[coalitions.NORDIC]\nmembers = ["DNK", "FIN", "ISL", "NOR", "SWE"]\n'


@dataclass
class Record:
    layer: str
    token: str
    spec: Spec
    parts: list[str] = field(default_factory=list)  # tracks: the tokens of their fixes


@dataclass
class LeakWorld:
    home: Path
    records: dict[str, Record]      # token -> record (fixes are keyed by their own source_id)
    fixes: dict[str, Spec]          # fix source_id -> meaning
    tracks: dict[str, list[str]]    # track token -> its fixes' source_ids

    def track_visible(self, v: OViewer, token: str) -> bool:
        """The documented rule for derived tracks (tests/support/oracle.py: oracle_track_sees)."""
        fixes = [self.fixes[f] for f in self.tracks[token]]
        if all(s.ok for s in fixes):
            return all(oracle_sees(v, s) for s in fixes)
        readable = [s for s in fixes if s.ok]
        if all(s.level == 0 and s.nations is None for s in readable):
            return v.role == "administrator"
        return False

    def visible(self, v: OViewer, layer: str | None = None) -> set[str]:
        """Tokens of the records ``v`` may see. A track's token is also its fixes' track id and
        callsign, so it is visible when the track is, or when any of its fixes is."""
        out = set()
        for token, r in self.records.items():
            if layer is not None and r.layer != layer:
                continue
            if r.layer == "tracks":
                if self.track_visible(v, token) or any(oracle_sees(v, self.fixes[f]) for f in self.tracks[token]):
                    out.add(token)
            elif oracle_sees(v, r.spec):
                out.add(token)
        return out

    def hidden(self, v: OViewer) -> set[str]:
        return set(self.records) - self.visible(v)

    def tracks_shown(self, v: OViewer) -> set[str]:
        return {t for t in self.tracks if self.track_visible(v, t)}


def _markings(rng: np.random.Generator, n: int, bad: int) -> list[tuple[object, Spec]]:
    out: list[tuple[object, Spec]] = []
    for i in range(n):
        if i < bad:
            out.append((BAD[int(rng.integers(0, len(BAD)))], Spec(False)))
        else:
            out.append(gen_marking(rng, all_partners=True))
    order = rng.permutation(n)
    return [out[i] for i in order]


def build(home: Path, now: datetime, seed: int = 7) -> LeakWorld:
    """Write the world into ``home`` (store, users, coalitions) and return what it means."""
    from ingest.pipeline import ingest_frame
    from ingest.store.delta import DeltaStore
    from layers.access import add_user

    rng = np.random.default_rng(seed)
    home.mkdir(parents=True, exist_ok=True)
    (home / "coalitions.toml").write_text(COALITIONS)
    for v in LEAK_VIEWERS:
        add_user(home / "users.toml", v.username, PASSWORD, nation=v.nation, clearance=v.clearance, role=v.role,
                 display_name=v.username.title())
    store = DeltaStore(home / "store")
    records: dict[str, Record] = {}
    t = pd.Timestamp(now)

    def put(layer: str, rows: list[dict], marks: list[tuple[object, Spec]], source: str) -> None:
        frame = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")
        frame["marking"] = pd.Series([m for m, _ in marks], dtype=object)
        summary = ingest_frame(store, layer, frame, source=source)
        assert summary.quarantined == 0, summary.line()

    # Incidents: spread over Kosovo / North Macedonia / Albania, within the last 20 hours.
    n_inc = 100
    inc_xy = np.column_stack([rng.uniform(19.6, 21.8, n_inc), rng.uniform(41.2, 42.9, n_inc)])
    marks = _markings(rng, n_inc, bad=12)
    rows = []
    for i in range(n_inc):
        token = f"QI{i:03d}Z"
        rows.append({"source_id": token, "occurred_at": t - pd.Timedelta(minutes=int(rng.integers(10, 1200))),
                     "category": "Flood", "severity": ["low", "medium", "high", "critical"][i % 4],
                     "status": "reported", "title": f"Flooding {token}", "description": f"report of {token}",
                     "location_name": f"village {token}", "geometry": shapely.Point(*inc_xy[i])})
        records[token] = Record("incidents", token, marks[i][1])
    put("incidents", rows, marks, "leak-incidents")

    # Power plants 500 m from the first 30 incidents: incident-near-infrastructure alerts whose
    # subjects have different markings.
    n_inf = 30
    marks = _markings(rng, n_inf, bad=4)
    rows = []
    for i in range(n_inf):
        token = f"QF{i:03d}Z"
        rows.append({"source_id": token, "kind": "power_plant", "name": f"Plant {token}",
                     "geometry": shapely.Point(inc_xy[i, 0] + 0.004, inc_xy[i, 1] + 0.002)})
        records[token] = Record("infrastructure", token, marks[i][1])
    put("infrastructure", rows, marks, "leak-infrastructure")

    # Partner units.
    nations = ["USA", "GBR", "FRA", "DEU", "ITA", "TUR", "POL", "AUT", "UKR", "NOR"]
    n_dep = 30
    marks = _markings(rng, n_dep, bad=4)
    rows = []
    for i in range(n_dep):
        token = f"QD{i:03d}Z"
        rows.append({"source_id": token, "nation": nations[i % len(nations)], "unit_name": f"Unit {token}",
                     "unit_type": "infantry", "echelon": "company", "strength": 100 + i,
                     "reported_at": t - pd.Timedelta(hours=2),
                     "geometry": shapely.Point(rng.uniform(19.8, 21.6), rng.uniform(41.3, 42.8))})
        records[token] = Record("deployments", token, marks[i][1])
    put("deployments", rows, marks, "leak-units")

    # Imagery footprints over some incidents, acquired in the last day.
    n_img = 20
    marks = _markings(rng, n_img, bad=4)
    rows = []
    for i in range(n_img):
        token = f"QM{i:03d}Z"
        x, y = inc_xy[40 + i]
        rows.append({"source_id": token, "acquired_at": t - pd.Timedelta(minutes=5), "platform": f"sat-{token}",
                     "cloud_cover": float(i), "geometry": shapely.box(x - 0.05, y - 0.05, x + 0.05, y + 0.05)})
        records[token] = Record("imagery", token, marks[i][1])
    put("imagery", rows, marks, "leak-imagery")

    # Drone tracks: 2-4 fixes each, markings per fix; the first three each hold one unreadable fix.
    fixes: dict[str, Spec] = {}
    tracks: dict[str, list[str]] = {}
    rows, fix_marks = [], []
    for k in range(24):
        token = f"QT{k:03d}Z"
        x0, y0 = rng.uniform(19.8, 21.4), rng.uniform(41.4, 42.6)
        n = int(rng.integers(2, 5))
        for j in range(n):
            if k < 3 and j == 0:
                text, spec = BAD[k + 3], Spec(False)
            elif rng.random() < 0.6 and j > 0:
                text, spec = fix_marks[-1]  # most fixes of a track share a marking
            else:
                text, spec = gen_marking(rng, all_partners=True)
            sid = f"{token}-{j}"
            rows.append({"source_id": sid, "track_id": token, "callsign": token,
                         "time": t - pd.Timedelta(minutes=30 - 3 * j),
                         "geometry": shapely.Point(x0 + 0.01 * j, y0 + 0.005 * j)})
            fix_marks.append((text, spec))
            fixes[sid] = spec
            tracks.setdefault(token, []).append(sid)
        records[token] = Record("tracks", token, Spec(False), parts=tracks[token])
    put("track_points", rows, fix_marks, "leak-cot")
    from layers.alerts.refresh import refresh_alerts

    refresh_alerts(store)  # what the alerts process does (the dashboards under test do not evaluate)
    return LeakWorld(home, records, fixes, tracks)


def describe(world: LeakWorld) -> str:
    bad = sum(1 for r in world.records.values() if r.layer != "tracks" and not r.spec.ok)
    bad += sum(1 for s in world.fixes.values() if not s.ok)
    n = len(world.records) + len(world.fixes)
    return json.dumps({"records": n, "unreadable": bad, "viewers": len(LEAK_VIEWERS)})
