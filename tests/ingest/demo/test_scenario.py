"""The demo scenario generator: deterministic, well-formed, placed on real reference data."""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import json
import pathlib
import re
import time

import geopandas as gpd
import gpxpy
import numpy as np
import pandas as pd
import pystac
import pytest
import shapely
from defusedxml import ElementTree as DET
from pyproj import Geod, Transformer
from shapely.geometry import Point, shape

from ingest.adapters.acled_csv import FIELDS as ACLED_FIELDS
from ingest.demo import scenario as demo_scenario
from ingest.demo.common import MARKINGS
from ingest.schema import ECHELONS, INCIDENT_STATUSES, SEVERITIES

REFERENCE = demo_scenario.DEFAULT_REFERENCE_DIR
NOW = dt.datetime(2026, 11, 21, 10, 30, 12, 345678, tzinfo=dt.UTC)
# Before the day's satellite passes and in another season: the invariants must hold too.
NOW_EARLY = dt.datetime(2027, 3, 2, 3, 5, 0, tzinfo=dt.UTC)

HOSTS = ("SRB", "XKX", "MKD", "ALB", "MNE", "BIH")
MARKING_RE = re.compile(
    r"^(UNCLASSIFIED|RESTRICTED|CONFIDENTIAL|SECRET)(//REL TO (NATO|[A-Z]{3}(, [A-Z]{3})*))?$"
)
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3,6})?Z$")
SIDC_ECHELON = {
    "team": "11",
    "squad": "12",
    "section": "13",
    "platoon": "14",
    "company": "15",
    "battalion": "16",
    "regiment": "17",
    "brigade": "18",
    "division": "21",
    "corps": "22",
    "army": "23",
    "": "00",
}
EO_URL = "https://stac-extensions.github.io/eo/"
TO_UTM = Transformer.from_crs("EPSG:4326", "EPSG:32634", always_xy=True)
GEOD = Geod(ellps="WGS84")

pytestmark = pytest.mark.skipif(
    not (REFERENCE / "borders.parquet").exists(), reason="data/reference has not been built"
)


def _ts(s: str) -> pd.Timestamp:
    t = pd.Timestamp(s)
    assert t.tzinfo is not None, s
    return t.tz_convert("UTC")


class Scenario:
    def __init__(self, outdir: pathlib.Path, now: dt.datetime, files: dict, seconds: float):
        self.dir, self.now, self.files, self.seconds = outdir, pd.Timestamp(now), files, seconds

    def path(self, name: str) -> pathlib.Path:
        return self.dir / name

    def json(self, name: str) -> dict:
        return json.loads(self.path(name).read_text(encoding="utf-8"))

    # -- tracks, one frame over the three formats
    def fixes(self) -> pd.DataFrame:
        if hasattr(self, "_fixes"):
            return self._fixes
        rows = []
        root = DET.parse(self.path("tracks_cot.xml")).getroot()
        assert root.tag == "events"
        for ev in root.findall("event"):
            pt, det = ev.find("point"), ev.find("detail")
            trk = det.find("track")
            rows.append(
                {
                    "fmt": "cot",
                    "track_id": ev.get("uid"),
                    "time": _ts(ev.get("time")),
                    "start": _ts(ev.get("start")),
                    "stale": _ts(ev.get("stale")),
                    "lat": float(pt.get("lat")),
                    "lon": float(pt.get("lon")),
                    "alt": float(pt.get("hae")),
                    "speed": float(trk.get("speed")),
                    "heading": float(trk.get("course")),
                    "callsign": det.find("contact").get("callsign"),
                    "marking": det.findtext("marking"),
                    "type": ev.get("type"),
                    "how": ev.get("how"),
                    "version": ev.get("version"),
                }
            )
        with open(self.path("tracks.gpx"), encoding="utf-8") as f:
            gpx = gpxpy.parse(f)
        for trk in gpx.tracks:
            for seg in trk.segments:
                for p in seg.points:
                    rows.append(
                        {
                            "fmt": "gpx",
                            "track_id": trk.name,
                            "time": pd.Timestamp(p.time).tz_convert("UTC"),
                            "lat": p.latitude,
                            "lon": p.longitude,
                            "alt": p.elevation,
                        }
                    )
        with open(self.path("tracks.csv"), encoding="utf-8", newline="") as f:
            for r in csv.DictReader(f):
                rows.append(
                    {
                        "fmt": "csv",
                        "track_id": r["track_id"],
                        "time": _ts(r["time"]),
                        "lat": float(r["lat"]),
                        "lon": float(r["lon"]),
                        "alt": float(r["alt_m"]),
                        "speed": float(r["speed_mps"]),
                        "heading": float(r["heading_deg"]),
                        "callsign": r["callsign"],
                        "marking": r["marking"],
                    }
                )
        df = (
            pd.DataFrame(rows)
            .sort_values(["track_id", "time"], kind="stable")
            .reset_index(drop=True)
        )
        x, y = TO_UTM.transform(df["lon"].to_numpy(), df["lat"].to_numpy())
        df["x"], df["y"] = x, y
        self._fixes = df
        return df

    def incidents(self) -> pd.DataFrame:
        a = pd.read_csv(self.path("incidents.csv"), dtype=str, keep_default_na=False)
        rel = self.json("incidents_relief.geojson")
        b = pd.DataFrame(
            [
                {
                    **f["properties"],
                    "longitude": f["geometry"]["coordinates"][0],
                    "latitude": f["geometry"]["coordinates"][1],
                }
                for f in rel["features"]
            ]
        )
        both = pd.concat(
            [
                pd.DataFrame(
                    {
                        "id": a["event_id"],
                        "time": a["event_date"],
                        "severity": a["severity"],
                        "status": a["status"],
                        "lon": a["longitude"].astype(float),
                        "lat": a["latitude"].astype(float),
                        "marking": a["marking"],
                        "file": "acled",
                    }
                ),
                pd.DataFrame(
                    {
                        "id": b["id"],
                        "time": b["occurred_at"],
                        "severity": b["severity"],
                        "status": b["status"],
                        "lon": b["longitude"].astype(float),
                        "lat": b["latitude"].astype(float),
                        "marking": b["marking"],
                        "file": "relief",
                    }
                ),
            ],
            ignore_index=True,
        )
        both["t"] = both["time"].map(_ts)
        return both


def _generate(outdir: pathlib.Path, now: dt.datetime, **kw) -> Scenario:
    t0 = time.perf_counter()
    files = demo_scenario.generate(outdir, now, **kw)
    return Scenario(outdir, now, files, time.perf_counter() - t0)


@pytest.fixture(scope="module", params=[NOW, NOW_EARLY], ids=["late-morning", "before-dawn"])
def sc(request, tmp_path_factory) -> Scenario:
    return _generate(tmp_path_factory.mktemp("demo"), request.param)


@pytest.fixture(scope="module")
def borders() -> gpd.GeoDataFrame:
    b = gpd.read_parquet(REFERENCE / "borders.parquet")
    return b[b["country_code"].isin(HOSTS)][["country_code", "geometry"]].reset_index(drop=True)


@pytest.fixture(scope="module")
def infrastructure() -> gpd.GeoDataFrame:
    i = gpd.read_parquet(REFERENCE / "infrastructure.parquet").cx[17:24, 40:46]
    return i[i.geometry.geom_type == "Point"].reset_index(drop=True)


# ---------------------------------------------------------------------------


def test_same_now_and_seed_give_identical_bytes(sc, tmp_path):
    again = _generate(tmp_path / "again", sc.now.to_pydatetime())
    names = sorted(p.name for paths in sc.files.values() for p in paths)
    assert names == sorted(p.name for paths in again.files.values() for p in paths)
    for name in names:
        assert sc.path(name).read_bytes() == again.path(name).read_bytes(), name
    other = demo_scenario.generate(tmp_path / "other-seed", sc.now.to_pydatetime(), seed=7)
    assert other["incidents"][0].read_bytes() != sc.path("incidents.csv").read_bytes()


def test_returns_the_files_it_wrote_by_layer(sc):
    assert {k: [p.name for p in v] for k, v in sc.files.items()} == {
        "deployments": ["deployments.geojson"],
        "track_points": ["tracks_cot.xml", "tracks.gpx", "tracks.csv"],
        "incidents": ["incidents.csv", "incidents_relief.geojson"],
        "imagery": ["imagery_stac.json"],
    }
    total = 0
    for paths in sc.files.values():
        for p in paths:
            assert p.is_file() and p.parent == sc.dir and p.stat().st_size > 1000
            total += p.stat().st_size
    assert total < 6_000_000


def test_generation_is_fast(sc):
    assert sc.seconds < 10


def test_naive_now_is_refused(tmp_path):
    from ingest.errors import ConfigError

    with pytest.raises(ConfigError):
        demo_scenario.generate(tmp_path, dt.datetime(2026, 11, 21, 10, 0))


def test_deployments(sc):
    fc = sc.json("deployments.geojson")
    assert fc["type"] == "FeatureCollection"
    feats = fc["features"]
    assert len(feats) >= 15
    props = [f["properties"] for f in feats]
    assert len({p["id"] for p in props}) == len(props)
    nations = {p["nation"] for p in props}
    assert len(nations - set(HOSTS)) >= 5, nations
    assert nations & set(HOSTS), "host-nation liaison teams are missing"
    for f in feats:
        p = f["properties"]
        assert f["geometry"]["type"] == "Point"
        assert re.fullmatch(r"[A-Z]{3}", p["nation"])
        assert p["unit_name"] and p["unit_type"]
        assert p["echelon"] in ECHELONS
        assert isinstance(p["strength"], int) and p["strength"] > 0
        sidc = p["symbol_code"]
        assert re.fullmatch(r"\d{20}", sidc), sidc
        assert sidc[:2] == "10" and sidc[3] == "3" and sidc[4:6] == "10", (
            sidc
        )  # 2525D, friend, land unit
        assert sidc[8:10] == SIDC_ECHELON[p["echelon"]], (sidc, p["echelon"])
        assert ISO_Z.match(p["reported_at"])
        assert MARKING_RE.match(p["marking"]), p["marking"]
        area = shape(p["area"])
        assert p["area"]["type"] == "Polygon" and area.is_valid and not area.is_empty
        assert len(p["area"]["coordinates"][0]) <= 80
        assert area.distance(shape(f["geometry"])) < 0.02
    sidcs = {p["unit_type"]: p["symbol_code"][10:16] for p in props}
    assert sidcs["infantry"] == "121100" and sidcs["engineer"] == "140700"
    assert sidcs["medical"] == "161300" and sidcs["military police"] == "141200"


def test_areas_of_responsibility_stay_in_the_host_country(sc, borders):
    for f in sc.json("deployments.geojson")["features"]:
        p = f["properties"]
        area = shape(p["area"])
        host = [
            g
            for cc, g in zip(borders.country_code, borders.geometry)
            if g.intersection(area).area > 0.95 * area.area
        ]
        assert host, f"{p['id']}: area of responsibility is not inside one host country"


def test_track_files_parse_and_hold_twenty_tracks(sc):
    df = sc.fixes()
    ids = df.groupby("fmt")["track_id"].unique()
    assert {"cot", "gpx", "csv"} <= set(ids.index)
    assert df["track_id"].nunique() >= 20
    seen: set[str] = set()
    for tids in ids:
        assert not seen & set(tids), "a track id appears in two files"
        seen |= set(tids)
    cot = df[df.fmt == "cot"]
    assert set(cot["type"]) <= {"a-f-A-M-F-Q", "a-f-A-M-H-Q"} and set(cot["how"]) == {"m-g"}
    assert set(cot["version"]) == {"2.0"}
    assert (cot["start"] == cot["time"]).all()
    assert ((cot["stale"] - cot["time"]) == pd.Timedelta(seconds=60)).all()
    assert len(df) <= 50_000


def test_track_kinematics_are_plausible(sc):
    df = sc.fixes()
    for tid, g in df.groupby("track_id"):
        dt_s = g["time"].diff().dt.total_seconds().to_numpy()[1:]
        assert ((dt_s >= 5) & (dt_s <= 30)).all(), tid
        dist = GEOD.inv(
            g.lon.to_numpy()[:-1], g.lat.to_numpy()[:-1], g.lon.to_numpy()[1:], g.lat.to_numpy()[1:]
        )[2]
        assert (dist / dt_s).max() <= 41, tid
        climb = np.abs(np.diff(g["alt"].to_numpy())) / dt_s
        assert climb.max() <= 6, tid
        if g["fmt"].iloc[0] != "gpx":
            v = g["speed"].to_numpy()
            fixed_wing = v.max() > 15.0
            lo, hi = (15, 40) if fixed_wing else (5, 15)
            assert (v >= lo).all() and (v <= hi).all(), tid
            assert ((g["heading"] >= 0) & (g["heading"] < 360)).all()
            # Reported speed agrees with the distance flown (turns shorten the chord).
            ratio = dist / dt_s / ((v[:-1] + v[1:]) / 2)
            assert 0.95 < np.median(ratio) < 1.05 and ratio.max() < 1.3, tid
            # Smooth turns: bounded turn rate.
            dh = np.abs((np.diff(g["heading"].to_numpy()) + 180) % 360 - 180) / dt_s
            assert dh.max() <= (13 if fixed_wing else 52), tid


def test_every_time_is_in_the_48_hours_before_now(sc):
    lo, hi = sc.now - pd.Timedelta(hours=48), sc.now
    times = list(sc.fixes()["time"])
    times += list(sc.fixes().dropna(subset=["start"])["start"])
    times += list(sc.incidents()["t"])
    times += [
        _ts(f["properties"]["reported_at"]) for f in sc.json("deployments.geojson")["features"]
    ]
    times += [_ts(f["properties"]["datetime"]) for f in sc.json("imagery_stac.json")["features"]]
    assert len(times) > 5000
    assert all(lo <= t <= hi for t in times), (min(times), max(times), lo, hi)
    # Tracks and incidents are the live picture: the last 24 hours.
    assert sc.fixes()["time"].min() >= sc.now - pd.Timedelta(hours=24)
    assert sc.incidents()["t"].min() >= sc.now - pd.Timedelta(hours=24)
    # Some drones are still flying.
    assert (sc.now - sc.fixes()["time"].max()) < pd.Timedelta(minutes=2)


def _countries(df: pd.DataFrame, borders: gpd.GeoDataFrame) -> np.ndarray:
    codes = np.full(len(df), None, dtype=object)
    for cc, geom in zip(borders.country_code, borders.geometry):
        inside = shapely.contains_xy(geom, df["lon"].to_numpy(), df["lat"].to_numpy())
        codes[inside] = cc
    return codes


def test_some_tracks_cross_a_real_border(sc, borders):
    df = sc.fixes().copy()
    df["cc"] = _countries(df, borders)
    crossings: dict[str, set] = {}
    for tid, g in df.dropna(subset=["cc"]).groupby("track_id"):
        cc = g["cc"].to_numpy()
        pairs = {tuple(sorted(p)) for p in itertools.pairwise(cc) if p[0] != p[1]}
        if pairs:
            crossings[tid] = pairs
    assert len(crossings) >= 3, crossings
    pairs = set().union(*crossings.values())
    assert ("MKD", "XKX") in pairs and ("BIH", "SRB") in pairs, pairs
    fmts = set(df[df.track_id.isin(crossings)]["fmt"])
    assert fmts == {"cot", "gpx", "csv"}


def _longest_stay_minutes(g: pd.DataFrame, x: float, y: float, radius_m: float) -> float:
    near = np.hypot(g["x"].to_numpy() - x, g["y"].to_numpy() - y) <= radius_m
    best, start = 0.0, None
    t = g["time"].to_numpy()
    for i, inside in enumerate(near):
        if inside and start is None:
            start = i
        if start is not None and (not inside or i == len(near) - 1):
            end = i if inside else i - 1
            best = max(best, (t[end] - t[start]) / np.timedelta64(1, "m"))
            start = None
    return best


def test_some_tracks_loiter_over_real_infrastructure(sc, infrastructure):
    df = sc.fixes()
    ix, iy = TO_UTM.transform(
        infrastructure.geometry.x.to_numpy(), infrastructure.geometry.y.to_numpy()
    )
    loiters = {}
    for tid, g in df.groupby("track_id"):
        gx, gy = g["x"].to_numpy(), g["y"].to_numpy()
        for k in range(len(ix)):
            # cheap prefilter, then the exact run
            if np.min(np.hypot(gx - ix[k], gy - iy[k])) > 1500:
                continue
            minutes = _longest_stay_minutes(g, ix[k], iy[k], 1500)
            if minutes >= 15:
                loiters[tid] = (
                    infrastructure.iloc[k]["kind"],
                    infrastructure.iloc[k]["name"],
                    minutes,
                )
    assert len(loiters) >= 3, loiters
    kinds = {v[0] for v in loiters.values()}
    assert {"airport", "power_plant"} <= kinds, loiters


def test_incidents(sc):
    inc = sc.incidents()
    assert len(inc) >= 300
    assert inc["id"].is_unique
    assert set(inc["severity"]) <= set(SEVERITIES) and set(inc["status"]) <= set(INCIDENT_STATUSES)
    assert len(set(inc["severity"])) == 4 and len(set(inc["status"])) == 3
    assert all(ISO_Z.match(t) for t in inc["time"])
    acled = pd.read_csv(sc.path("incidents.csv"), dtype=str, keep_default_na=False)
    # the ACLED adapter's columns, less those the demo has no values for
    assert list(acled.columns) == [
        f for f in ACLED_FIELDS if f not in {"event_id_cnty", "mgrs", "timestamp", "title"}
    ]
    assert {
        "Protests",
        "Riots",
        "Flood",
        "Landslide",
        "Infrastructure damage",
        "Strategic developments",
        "Explosions/Remote violence",
    } <= set(acled["event_type"])
    assert acled["fatalities"].astype(int).min() >= 0
    # Free text that must be escaped in HTML loads as the exact string.
    notes = set(acled["notes"])
    assert 'Crowd chanted "<stop>" & left' in notes
    assert "<script>alert(1)</script>" in notes
    relief = sc.json("incidents_relief.geojson")
    for f in relief["features"]:
        assert f["geometry"]["type"] == "Point"
        assert set(f["properties"]) >= {
            "id",
            "occurred_at",
            "category",
            "subcategory",
            "severity",
            "status",
            "title",
            "description",
            "location_name",
            "fatalities",
            "marking",
        }
    assert any("<" in f["properties"]["description"] for f in relief["features"])


def test_incidents_are_at_real_towns(sc):
    places = gpd.read_parquet(REFERENCE / "places.parquet").cx[17:24, 40:46]
    by_name: dict[str, list] = {}
    for name, geom in zip(places["name"], places.geometry):
        by_name.setdefault(name, []).append(geom)
    acled = pd.read_csv(sc.path("incidents.csv"), dtype=str, keep_default_na=False)
    relief = sc.json("incidents_relief.geojson")["features"]
    rows = [(r.location, float(r.longitude), float(r.latitude)) for r in acled.itertuples()]
    rows += [(f["properties"]["location_name"], *f["geometry"]["coordinates"]) for f in relief]
    for name, lon, lat in rows:
        assert name in by_name, name
        d = min(GEOD.inv(lon, lat, g.x, g.y)[2] for g in by_name[name])
        assert d < 2000, (name, d)


def test_stac_item_collection(sc):
    fc = sc.json("imagery_stac.json")
    assert fc["type"] == "FeatureCollection" and fc["stac_version"] == "1.0.0"
    items = fc["features"]
    assert len(items) >= 50
    assert len({it["id"] for it in items}) == len(items)
    pystac.ItemCollection.from_dict(fc)  # parses as STAC
    sizes: dict[str, list[float]] = {}
    for it in items:
        p = it["properties"]
        assert it["type"] == "Feature" and it["stac_version"] == "1.0.0"
        assert any(u.startswith(EO_URL) for u in it["stac_extensions"])
        assert it["geometry"]["type"] == "Polygon"
        assert {
            "datetime",
            "platform",
            "constellation",
            "eo:cloud_cover",
            "gsd",
            "watchfloor:marking",
        } <= set(p)
        assert 0 <= p["eo:cloud_cover"] <= 100 and p["gsd"] > 0
        assert MARKING_RE.match(p["watchfloor:marking"])
        thumb = it["assets"]["thumbnail"]
        assert thumb["type"] == "image/png" and thumb["href"]
        geom = shape(it["geometry"])
        assert geom.is_valid
        minx, miny, maxx, maxy = geom.bounds
        assert it["bbox"] == pytest.approx([minx, miny, maxx, maxy])
        xs, ys = TO_UTM.transform(*np.asarray(geom.exterior.coords).T)
        extent_km = max(np.ptp(xs), np.ptp(ys)) / 1000
        sizes.setdefault(p["constellation"], []).append(extent_km)
    assert {"sentinel-2", "sentinel-1"} <= set(sizes) and len(sizes) == 3
    assert all(20 < s <= 125 for s in sizes["sentinel-2"]), sizes["sentinel-2"]
    assert all(200 < s < 330 for s in sizes["sentinel-1"]), sizes["sentinel-1"]
    commercial = next(v for k, v in sizes.items() if not k.startswith("sentinel"))
    assert all(12 < s < 22 for s in commercial), commercial


def test_imagery_covers_some_incidents_after_the_event_and_misses_others(sc):
    items = sc.json("imagery_stac.json")["features"]
    geoms = [shape(it["geometry"]) for it in items]
    for g in geoms:
        shapely.prepare(g)
    times = [_ts(it["properties"]["datetime"]) for it in items]
    covered = uncovered = 0
    commercial_after = 0
    for r in sc.incidents().itertuples():
        later = [
            i
            for i, (g, t) in enumerate(zip(geoms, times))
            if t > r.t and g.contains(Point(r.lon, r.lat))
        ]
        if later:
            covered += 1
            commercial_after += any(
                not items[i]["properties"]["constellation"].startswith("sentinel") for i in later
            )
        else:
            uncovered += 1
    assert covered >= 10 and uncovered >= 5 and commercial_after >= 5, (
        covered,
        uncovered,
        commercial_after,
    )


def test_coordinates_are_in_the_region(sc):
    coords: list[tuple[float, float]] = []

    def walk(c):
        if isinstance(c[0], (int, float)):
            coords.append((c[0], c[1]))
        else:
            for x in c:
                walk(x)

    for name in ("deployments.geojson", "incidents_relief.geojson", "imagery_stac.json"):
        for f in sc.json(name)["features"]:
            walk(f["geometry"]["coordinates"])
            if "area" in f["properties"]:
                walk(f["properties"]["area"]["coordinates"])
    coords += list(zip(sc.fixes()["lon"], sc.fixes()["lat"]))
    coords += list(zip(sc.incidents()["lon"], sc.incidents()["lat"]))
    a = np.array(coords)
    assert len(a) > 5_000
    assert (
        a[:, 0].min() >= 13 and a[:, 0].max() <= 25 and a[:, 1].min() >= 39 and a[:, 1].max() <= 47
    )


def test_markings_are_varied_and_well_formed(sc):
    marks = list(sc.fixes()["marking"].dropna())
    marks += list(sc.incidents()["marking"])
    marks += [f["properties"]["marking"] for f in sc.json("deployments.geojson")["features"]]
    marks += [
        f["properties"]["watchfloor:marking"] for f in sc.json("imagery_stac.json")["features"]
    ]
    assert all(MARKING_RE.match(m) for m in marks), {m for m in marks if not MARKING_RE.match(m)}
    assert set(marks) == set(MARKINGS)
    assert sc.fixes().query("fmt == 'gpx'")["marking"].isna().all()
    assert sc.fixes().query("fmt != 'gpx'")["marking"].notna().all()
    assert "marking" not in sc.path("tracks.gpx").read_text(encoding="utf-8")
