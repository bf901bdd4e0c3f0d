"""Ingest benchmark: track points per second from CSV and Cursor-on-Target, 1M points.

Baseline, measured in the same run: a plain pandas read of the same CSV into a
GeoDataFrame (read_csv + points_from_xy), the floor any CSV adapter works
against. The adapters do more (column detection, bad-line capture, times), and
validation more again (every value checked): the ratios say what that costs.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import geopandas as gpd
import pandas as pd

from bench import scenario
from bench.common import Row, median_time, table
from ingest.adapters.cot import read_cot
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


def pandas_baseline(path: Path) -> gpd.GeoDataFrame:
    df = pd.read_csv(path)
    return gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["lon"], df["lat"]), crs="EPSG:4326")


def run(repeats: int = 3) -> str:
    points = scenario.track_points()
    n = len(points)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        csv, cot = tmp / "points.csv", tmp / "points.cot.xml"
        write_csv(points, csv)
        base = median_time(lambda: pandas_baseline(csv), repeats)
        adapter = median_time(lambda: read_tracks_csv(csv, source="bench"), repeats)
        both = median_time(lambda: validate(read_tracks_csv(csv, source="bench").frame, "track_points",
                                            source="bench"), repeats)
        t = time.perf_counter()
        summary = ingest(DeltaStore(tmp / "store"), read_tracks_csv(csv, source="bench"), source="bench")
        full = time.perf_counter() - t
        assert summary.stored == n, summary.line()
        rows += [
            Row("pandas read_csv + points_from_xy", base, note=f"{n / base:,.0f} pts/s"),
            Row("CSV adapter (read_tracks_csv)", adapter, "pandas read", base, f"{n / adapter:,.0f} pts/s"),
            Row("CSV adapter + validate", both, "pandas read", base, f"{n / both:,.0f} pts/s"),
            Row("CSV full ingest into the store (+ derived tracks)", full, "pandas read", base,
                f"{n / full:,.0f} pts/s, one run"),
        ]
        write_cot(points, cot)
        mb = cot.stat().st_size / 1e6
        t = time.perf_counter()
        result = read_cot(cot, source="bench")
        cot_read = time.perf_counter() - t
        t = time.perf_counter()
        valid = validate(result.frame, "track_points", source="bench").valid
        cot_validate = time.perf_counter() - t
        assert len(valid) == n
        rows += [
            Row(f"CoT adapter (read_cot, {mb:,.0f} MB of XML)", cot_read, "pandas read of the CSV", base,
                f"{n / cot_read:,.0f} pts/s, one run"),
            Row("CoT adapter + validate", cot_read + cot_validate, "pandas read of the CSV", base,
                f"{n / (cot_read + cot_validate):,.0f} pts/s, one run"),
        ]
    return table(f"Ingest, {n:,} track points (CSV medians of {repeats}; CoT and full ingest one run)", rows)
