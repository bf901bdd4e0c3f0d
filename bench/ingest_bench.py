"""Ingest benchmark: 1M track points from CSV and from Cursor-on-Target, each next to its honest peer.

Peers, measured in the same run on the same files (what a competent user would
write with the same libraries, nothing extrapolated):
- CSV: ``pandas.read_csv`` + ``geopandas.points_from_xy`` + ``GeoDataFrame.to_parquet``,
  i.e. read the file and store it as GeoParquet;
- CoT: a bare lxml ``iterparse`` loop putting uid, time, lat and lon of each event
  into lists, then a DataFrame.

The adapters do more (column detection, bad-line capture, every field of an
event, hostile-input refusal), validation more again (every value judged), and
a full ingest adds derived tracks and the Delta Lake write; the ratios say what
that costs. Goals (issue 13): full CSV ingest <= 3x its peer, validate <= 1.5x
the adapter, CoT >= 200,000 events/s.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from itertools import count
from pathlib import Path

import geopandas as gpd
import pandas as pd
from lxml import etree

from bench import scenario
from bench.common import Row, median_time, table
from ingest.adapters.cot import read_cot, read_cot_layers
from ingest.adapters.tracks_csv import read_tracks_csv
from ingest.pipeline import ingest
from ingest.store.delta import DeltaStore
from ingest.validate import validate


def write_csv(points: gpd.GeoDataFrame, path: Path) -> None:
    pd.DataFrame({
        "track_id": points["track_id"], "time": points["time"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "lat": points.geometry.y.round(6), "lon": points.geometry.x.round(6),
        "alt_m": points["altitude_m"].round(1), "speed_mps": points["speed_mps"].round(2),
        "heading_deg": points["heading_deg"].round(1),
    }).to_csv(path, index=False)


def write_cot(points: gpd.GeoDataFrame, path: Path) -> None:
    x, y = points.geometry.x.to_numpy(), points.geometry.y.to_numpy()
    t = points["time"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ").to_numpy()
    stale = (points["time"] + pd.Timedelta(seconds=60)).dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ").to_numpy()
    tid = points["track_id"].to_numpy(dtype=object)
    alt, crs, spd = (points[c].to_numpy() for c in ("altitude_m", "heading_deg", "speed_mps"))
    with path.open("w") as f:
        f.write("<events>\n")
        for i in range(len(points)):
            f.write(f'<event version="2.0" uid="{tid[i]}" type="a-f-A-M-F-Q" how="m-g" time="{t[i]}" '
                    f'start="{t[i]}" stale="{stale[i]}"><point lat="{y[i]:.6f}" lon="{x[i]:.6f}" '
                    f'hae="{alt[i]:.1f}" ce="10.0" le="10.0"/><detail><track course="{crs[i]:.1f}" '
                    f'speed="{spd[i]:.2f}"/><contact callsign="{tid[i]}"/></detail></event>\n')
        f.write("</events>\n")


def csv_peer(path: Path, out: Path) -> None:
    """read_csv + points_from_xy + to_parquet: the file read and stored as GeoParquet."""
    df = pd.read_csv(path)
    frame = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["lon"], df["lat"]), crs="EPSG:4326")
    frame.to_parquet(out)


def cot_peer(path: Path) -> pd.DataFrame:
    """A bare lxml iterparse loop: uid, time, lat, lon of each event into lists, then a DataFrame."""
    uid: list[str | None] = []
    when: list[str | None] = []
    lat: list[float] = []
    lon: list[float] = []
    for _, ev in etree.iterparse(io.BytesIO(path.read_bytes()), events=("end",), tag="event"):
        point = ev.find("point")
        uid.append(ev.get("uid"))
        when.append(ev.get("time"))
        lat.append(float(point.get("lat")))
        lon.append(float(point.get("lon")))
        ev.clear()
        while ev.getprevious() is not None:
            del ev.getparent()[0]
    return pd.DataFrame({"uid": uid, "time": when, "lat": lat, "lon": lon})


def iterparse_alone(path: Path) -> int:
    """lxml iterparse over the file, nothing extracted: the ceiling of any iterparse reader."""
    n = 0
    for _, ev in etree.iterparse(io.BytesIO(path.read_bytes()), events=("end",), tag="event"):
        n += 1
        ev.clear()
        while ev.getprevious() is not None:
            del ev.getparent()[0]
    return n


def run(repeats: int = 3) -> str:
    repeats = max(3, repeats)
    points = scenario.track_points()
    n = len(points)
    rows: list[Row] = []
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        csv, cot = tmp / "points.csv", tmp / "points.cot.xml"
        write_csv(points, csv)
        peer = median_time(lambda: csv_peer(csv, tmp / "peer.parquet"), repeats)
        adapter = median_time(lambda: read_tracks_csv(csv, source="bench"), repeats)
        adapted = read_tracks_csv(csv, source="bench").frame
        alone = median_time(lambda: validate(adapted, "track_points", source="bench"), repeats)
        both = median_time(lambda: validate(read_tracks_csv(csv, source="bench").frame, "track_points",
                                            source="bench"), repeats)
        stores = count()

        def full() -> None:
            root = tmp / f"store{next(stores)}"
            summary = ingest(DeltaStore(root), read_tracks_csv(csv, source="bench"), source="bench")
            assert summary.stored == n and summary.tracks_updated, summary.line()
            shutil.rmtree(root)

        full_s = median_time(full, repeats, warmup=0)
        name = "pandas read_csv + points_from_xy + to_parquet"
        rows += [
            Row(f"CSV peer: {name}", peer, note=f"{n / peer:,.0f} pts/s"),
            Row("CSV adapter (read_tracks_csv)", adapter, "CSV peer", peer, f"{n / adapter:,.0f} pts/s"),
            Row("validate alone (goal <= 1.5x the adapter)", alone, "CSV adapter", adapter,
                f"{n / alone:,.0f} pts/s"),
            Row("CSV adapter + validate", both, "CSV peer", peer, f"{n / both:,.0f} pts/s"),
            Row("CSV full ingest into an empty store, + derived tracks (goal <= 3x)", full_s, "CSV peer",
                peer, f"{n / full_s:,.0f} pts/s"),
        ]
        write_cot(points, cot)
        mb = cot.stat().st_size / 1e6
        floor = median_time(lambda: iterparse_alone(cot), repeats)
        cpeer = median_time(lambda: cot_peer(cot), repeats)
        cot_s = median_time(lambda: read_cot(cot, source="bench"), repeats)
        layers_s = median_time(lambda: read_cot_layers(cot, source="bench"), repeats)
        cot_both = median_time(lambda: validate(read_cot(cot, source="bench").frame, "track_points",
                                                source="bench"), repeats)
        assert len(validate(read_cot(cot, source="bench").frame, "track_points", source="bench").valid) == n
        rows += [
            Row(f"CoT peer: bare lxml iterparse, uid/time/lat/lon ({mb:,.0f} MB)", cpeer,
                note=f"{n / cpeer:,.0f} events/s"),
            Row("CoT adapter (read_cot; goal >= 200,000 events/s)", cot_s, "CoT peer", cpeer,
                f"{n / cot_s:,.0f} events/s"),
            Row("CoT adapter + validate", cot_both, "CoT peer", cpeer, f"{n / cot_both:,.0f} events/s"),
            Row("CoT every layer (read_cot_layers: read_cot + a look at the types read; position reports only)", layers_s,
                "CoT adapter", cot_s, f"{n / layers_s:,.0f} events/s"),
            Row("lxml iterparse alone, nothing extracted (the ceiling)", floor, "CoT peer", cpeer,
                f"{n / floor:,.0f} events/s"),
        ]
    return table(f"Ingest, {n:,} track points (medians of {repeats}; a shared 2-core machine, "
                 f"load average {load:.1f} at the start: absolute times are rough, ratios hold better)", rows)
