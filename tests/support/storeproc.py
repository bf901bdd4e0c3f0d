"""Child processes for the store's durability and concurrency tests (run with `python -m`).

ROOT is what `open_store` takes: a folder (the embedded store) or a postgresql:// URL.

writer ROOT BATCH N [START] - write batches START.. START+N-1 of BATCH track points (batch K is always
                      the same points), printing "committed K INSERTED UPDATED UNCHANGED" after each
reader ROOT SECONDS  - read the layer repeatedly, printing each count seen
alert-writer ROOT KEYS STOP  - put the same KEYS findings again and again (a refresh loop), printing
                      "put K" after each, until the file STOP exists
ack ROOT BY KEY...   - acknowledge each KEY as BY, printing "acked KEY True|False"
alerts ROOT          - print every alert as a JSON line: key, state, acknowledged_by
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ingest.store import open_store
from ingest.validate import validate


def batch(k: int, size: int) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(k)
    t0 = pd.Timestamp("2026-11-20T00:00:00Z") + pd.Timedelta(minutes=k)
    frame = gpd.GeoDataFrame(
        {"source_id": [f"b{k}-{i}" for i in range(size)], "track_id": f"uav-{k % 7}",
         "time": [t0 + pd.Timedelta(seconds=i) for i in range(size)], "marking": "UNCLASSIFIED"},
        geometry=shapely.points(20 + rng.random(size), 42 + rng.random(size)), crs=4326)
    return validate(frame, "track_points", source="proc").valid


T0 = pd.Timestamp("2026-11-20T00:00:00Z")


def findings(keys: list[str], *, t0: pd.Timestamp = T0,
             rule: str = "zone-entry", severity: str = "high", message: str = "entered") -> gpd.GeoDataFrame:
    """Findings as layers/analysis/findings.py makes them, one per key."""
    n = len(keys)
    return gpd.GeoDataFrame(
        {"rule": rule, "severity": severity, "time": [t0 + pd.Timedelta(minutes=i) for i in range(n)],
         "key": keys, "subjects": [json.dumps([k]) for k in keys], "message": message,
         "details": [json.dumps({"i": i}) for i in range(n)]},
        geometry=shapely.points(20 + np.arange(n) * 1e-3, np.full(n, 42.0)), crs=4326)


def main() -> None:
    role, root = sys.argv[1], sys.argv[2]
    store = open_store(root)
    if role == "writer":
        size, n = int(sys.argv[3]), int(sys.argv[4])
        start = int(sys.argv[5]) if len(sys.argv) > 5 else 0
        for k in range(start, start + n):
            rep = store.write("track_points", batch(k, size))
            print(f"committed {k} {rep.inserted} {rep.updated} {rep.unchanged}", flush=True)
    elif role == "reader":
        until = time.time() + float(sys.argv[3])
        while time.time() < until:
            print(len(store.read("track_points", columns=["source_id"])), flush=True)
    elif role == "alert-writer":
        keys, stop = [f"k{i}" for i in range(int(sys.argv[3]))], Path(sys.argv[4])
        k = 0
        while not stop.exists():
            store.put_alerts(findings(keys, message=f"refresh {k}"))
            print(f"put {k}", flush=True)
            k += 1
    elif role == "ack":
        by = sys.argv[3]
        for key in sys.argv[4:]:
            print(f"acked {key} {store.acknowledge(key, by)}", flush=True)
    elif role == "alerts":
        for row in store.alerts()[["key", "state", "acknowledged_by"]].itertuples(index=False):
            by = None if pd.isna(row.acknowledged_by) else row.acknowledged_by
            print(json.dumps({"key": row.key, "state": row.state, "acknowledged_by": by}))


if __name__ == "__main__":
    main()
    # Under heavy load the native runtime of delta-rs has been seen to abort during interpreter
    # teardown ("terminate called without an active exception") after all work was committed.
    # These helpers report through stdout; leave without the teardown so the exit code reflects
    # the work. (Noted on the issue for a proper look.)
    sys.stdout.flush()
    os._exit(0)
