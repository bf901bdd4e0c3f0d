"""Alert rules in the database against the same rules in memory, over the scale scenario in PostGIS.

`layers.alerts.refresh.evaluate_store` both ways on one store: in memory (the baseline: the picture
and the whole 24 h of fixes read into the evaluating process, every rule there) and pushed down
(PostGIS pairs incidents with facilities and picks out the fixes the geofencing rules need,
ingest/store/analysis.py). Both give the same findings (checked here, and in
tests/layers/alerts/test_pushdown.py). Wall time counts the database's work; the evaluating
process's CPU time and the fixes it receives say what the pushdown spares the dashboard or
evaluator machine.

Needs a PostgreSQL database with PostGIS (WATCHFLOOR_BENCH_POSTGRES, else WATCHFLOOR_TEST_POSTGRES).
The tables go in a schema of their own, dropped afterwards.
"""

from __future__ import annotations

import uuid

from bench import scenario
from bench.common import Row, median_times, table
from bench.postgis_bench import database_url


def run(repeats: int = 5) -> str:
    url = database_url()
    title = f"Alert rules over {scenario.SIZES['track_points']:,} track points: in PostGIS vs in memory"
    if not url:
        return (f"\n## {title}\n\nskipped: no PostgreSQL database configured "
                "(set WATCHFLOOR_BENCH_POSTGRES=postgresql://... to a database with PostGIS)")
    from ingest.demo import load_reference
    from ingest.store.postgis import PostGISStore, connect, upgrade, with_schema
    from layers.alerts import DEFAULT_FILE, load_rules
    from layers.alerts.refresh import GEOFENCE_WINDOW, evaluate_store, geofence_query
    from layers.picture import operational_bounds

    schema = f"wf_bench_{uuid.uuid4().hex[:10]}"
    with connect(url) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        store_url = with_schema(url, schema)
        upgrade(store_url)
        store = PostGISStore(store_url)
        load_reference(store)
        for layer, frame in (("track_points", scenario.track_points()), ("incidents", scenario.incidents()),
                             ("infrastructure", scenario.infrastructure())):
            store.write(layer, frame)
        with connect(store_url) as conn:
            conn.execute("VACUUM ANALYZE")  # as autovacuum would after a bulk load
        rules, now = load_rules(DEFAULT_FILE), scenario.NOW
        memory = evaluate_store(store, now, rules, pushdown=False)
        database = evaluate_store(store, now, rules, pushdown=True)
        assert sorted(memory["key"]) == sorted(database["key"]), "the two paths disagree"
        window = len(store.read("track_points", start=now - GEOFENCE_WINDOW, end=now, columns=["track_id"]))
        selected = len(store.geofence_fixes(geofence_query(rules, now, operational_bounds(store))))
        wall_m, cpu_m = median_times(lambda: evaluate_store(store, now, rules, pushdown=False), repeats)
        wall_d, cpu_d = median_times(lambda: evaluate_store(store, now, rules, pushdown=True), repeats)
        store.close()
    finally:
        with connect(url) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
    rows = [
        Row("in PostGIS: every rule, wall", wall_d, "in memory: same", wall_m, f"{len(database):,} findings, equal"),
        Row("in PostGIS: every rule, CPU of the evaluating process", cpu_d, "in memory: same", cpu_m,
            f"fixes received: {selected:,} of {window:,}"),
    ]
    return table(f"{title} (medians of {repeats}; ratio > 1: the database path is slower)", rows)
