"""Child processes for the store's durability and concurrency tests (run with `python -m`).

writer ROOT BATCH N  - write N batches of BATCH fresh track points, printing "committed K" after each
reader ROOT SECONDS  - read the layer repeatedly, printing each count seen
"""

from __future__ import annotations

import sys
import time

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ingest.store.delta import DeltaStore
from ingest.validate import validate


def batch(k: int, size: int) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(k)
    t0 = pd.Timestamp("2026-11-20T00:00:00Z") + pd.Timedelta(minutes=k)
    frame = gpd.GeoDataFrame(
        {"source_id": [f"b{k}-{i}" for i in range(size)], "track_id": f"uav-{k % 7}",
         "time": [t0 + pd.Timedelta(seconds=i) for i in range(size)], "marking": "UNCLASSIFIED"},
        geometry=shapely.points(20 + rng.random(size), 42 + rng.random(size)), crs=4326)
    return validate(frame, "track_points", source="proc").valid


def main() -> None:
    role, root = sys.argv[1], sys.argv[2]
    store = DeltaStore(root)
    if role == "writer":
        size, n = int(sys.argv[3]), int(sys.argv[4])
        start = int(sys.argv[5]) if len(sys.argv) > 5 else 0
        for k in range(start, start + n):
            store.write("track_points", batch(k, size))
            print(f"committed {k}", flush=True)
    elif role == "reader":
        until = time.time() + float(sys.argv[3])
        while time.time() < until:
            print(len(store.read("track_points", columns=["source_id"])), flush=True)


if __name__ == "__main__":
    main()
