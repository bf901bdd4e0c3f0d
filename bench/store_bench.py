"""Store benchmark: a 1M-point time-window read from the embedded store vs a plain GeoParquet read.

Target (issue 2): the store's read takes no more than about twice the GeoParquet read of the same points.
"""

from __future__ import annotations

import tempfile
import time
from datetime import timedelta
from pathlib import Path

import geopandas as gpd

from bench import scenario
from bench.common import Row, median_time, table
from ingest.store.delta import DeltaStore


def run(repeats: int = 5) -> str:
    points = scenario.track_points()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        parquet = tmp / "points.parquet"
        points.to_parquet(parquet)
        store = DeltaStore(tmp / "store")
        t = time.perf_counter()
        store.write("track_points", points)
        write_s = time.perf_counter() - t
        start, end = scenario.NOW - timedelta(days=1), scenario.NOW
        n = len(store.read("track_points", start=start, end=end, columns=["source_id"]))
        assert n == len(points), (n, len(points))
        base = median_time(lambda: gpd.read_parquet(parquet), repeats)
        full = median_time(lambda: store.read("track_points", start=start, end=end), repeats)
        half = median_time(lambda: store.read("track_points", start=end - timedelta(hours=6), end=end), repeats)
        t = time.perf_counter()
        store.write("track_points", points.iloc[:10_000].assign(altitude_m=1.0))
        upsert_s = time.perf_counter() - t
    rows = [
        Row("store: read 1M points, 24 h window", full, "GeoParquet read of the same 1M", base, "target <= ~2x"),
        Row("store: read the last 6 h (~25%)", half, "GeoParquet read of the same 1M", base),
        Row("store: first write of 1M points", write_s, note="one run"),
        Row("store: upsert 10k changed points into 1M", upsert_s, note="one run"),
    ]
    return table(f"Embedded store, {len(points):,} track points (medians of {repeats})", rows)
