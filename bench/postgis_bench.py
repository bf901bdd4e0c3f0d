"""Stores benchmark: the PostGIS store against the embedded store on the scale scenario.

Ingest (a first write of 1M track points, an upsert of 10k changed ones into them) and
queries (the 24 h window, the last 6 h, a 1 x 1 degree bounding box, the box over 6 h),
each the same call on both stores; the baseline of every row is the embedded store.

Needs a PostgreSQL database with PostGIS: WATCHFLOOR_BENCH_POSTGRES, else
WATCHFLOOR_TEST_POSTGRES (postgresql://...). Without one it prints a note and skips.
The tables go in a schema of their own, dropped afterwards.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from bench import scenario
from bench.common import Row, median_time, table
from ingest.store.delta import DeltaStore

BOX = (20.0, 42.0, 21.0, 43.0)  # 1 x 1 degree inside the scenario's area


def database_url() -> str | None:
    return os.environ.get("WATCHFLOOR_BENCH_POSTGRES") or os.environ.get("WATCHFLOOR_TEST_POSTGRES")


def run(repeats: int = 5) -> str:
    url = database_url()
    title = "Stores: PostGIS vs embedded, 1M track points"
    if not url:
        return (f"\n## {title}\n\nskipped: no PostgreSQL database configured "
                "(set WATCHFLOOR_BENCH_POSTGRES=postgresql://... to a database with PostGIS)")
    from ingest.store.postgis import PostGISStore, connect, upgrade, with_schema

    points = scenario.track_points()
    changed = points.iloc[:10_000].assign(altitude_m=1.0)
    start, end = scenario.NOW - timedelta(days=1), scenario.NOW
    last6 = end - timedelta(hours=6)
    schema = f"wf_bench_{uuid.uuid4().hex[:10]}"
    with connect(url) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        upgrade(with_schema(url, schema))
        pg = PostGISStore(with_schema(url, schema))
        with tempfile.TemporaryDirectory() as tmp:
            delta = DeltaStore(Path(tmp) / "store")
            stores = {"postgis": pg, "embedded": delta}
            ingest: dict[str, dict[str, float]] = {}
            for name, store in stores.items():
                t = time.perf_counter()
                store.write("track_points", points)
                first = time.perf_counter() - t
                t = time.perf_counter()
                store.write("track_points", changed)
                ingest[name] = {"first": first, "upsert": time.perf_counter() - t}
                n = len(store.read("track_points", start=start, end=end, columns=["source_id"]))
                assert n == len(points), (name, n, len(points))
            with connect(with_schema(url, schema)) as conn:
                conn.execute("VACUUM ANALYZE track_points")  # as autovacuum would after a bulk load
            queries = {
                "read 1M points, 24 h window": {"start": start, "end": end},
                "read the last 6 h (~25%)": {"start": last6, "end": end},
                f"bbox read {BOX} (all times)": {"bbox": BOX},
                "bbox read, last 6 h": {"bbox": BOX, "start": last6, "end": end},
            }
            timed = {q: {name: median_time(lambda s=s, kw=kw: s.read("track_points", **kw), repeats)
                         for name, s in stores.items()} for q, kw in queries.items()}
            sizes = {q: len(pg.read("track_points", columns=["source_id"], **kw)) for q, kw in queries.items()}
        pg.close()
    finally:
        with connect(url) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
    rows = [
        Row("postgis: first write of 1M points", ingest["postgis"]["first"], "embedded: same",
            ingest["embedded"]["first"], "one run"),
        Row("postgis: upsert 10k changed points into 1M", ingest["postgis"]["upsert"], "embedded: same",
            ingest["embedded"]["upsert"], "one run"),
    ]
    rows += [Row(f"postgis: {q}", t["postgis"], "embedded: same", t["embedded"], f"{sizes[q]:,} rows")
             for q, t in timed.items()]
    return table(f"{title} (medians of {repeats}; ratio > 1: PostGIS slower)", rows)
