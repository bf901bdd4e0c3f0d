"""Row-level security benchmark: what a dashboard's reader login pays for need-to-know in the database.

The scale scenario's track points (the demo's markings cycled over the tracks) in a PostGIS schema;
the same reads through a PostGISStore opened with a reader login scoped to FRA RESTRICTED, and with the
owner's login (no policy applies: the baseline, run alongside). The reader receives fewer rows
(only the releasable ones), so its time includes the policy test on every row and less transfer;
the last row is the reader's time against the owner reading the same rows with the policy's test
written by hand as a WHERE. PostGIS's `&&` is not LEAKPROOF, so under row-level security PostgreSQL
may not use it in an index scan: a reader's bounding-box read scans the table (the bbox row).

Needs WATCHFLOOR_BENCH_POSTGRES or WATCHFLOOR_TEST_POSTGRES (a superuser URL: it creates a login
role, dropped afterwards, and a schema of its own).
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

from bench import scenario
from bench.common import Row, median_time, table
from bench.postgis_bench import BOX, database_url


def run(repeats: int = 5) -> str:
    url = database_url()
    title = "Row-level security: a reader login's reads against the owner's"
    if not url:
        return f"\n## {title}\n\nskipped: no PostgreSQL database configured (WATCHFLOOR_BENCH_POSTGRES)"
    from psycopg import sql

    from ingest.store.postgis import PostGISStore, connect, upgrade, with_schema
    from ingest.store.roles import add_login, drop_login, scope

    points = scenario.track_points()
    end = scenario.NOW
    last6 = end - timedelta(hours=6)
    schema = f"wf_bench_{uuid.uuid4().hex[:10]}"
    login = f"wf_bench_reader_{uuid.uuid4().hex[:8]}"
    password = uuid.uuid4().hex
    owner_url = with_schema(url, schema)
    with connect(url) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        upgrade(owner_url)
        owner = PostGISStore(owner_url)
        owner.write("track_points", points)
        with connect(owner_url) as conn:
            conn.execute("VACUUM ANALYZE track_points")
            add_login(conn, "reader", login, password, reader_scope=scope("FRA", "RESTRICTED"))
        reader_url = re.sub(r"^(postgres(?:ql)?://)([^@/]*@)?", rf"\g<1>{login}:{password}@", owner_url)
        reader = PostGISStore(reader_url)
        queries = {"24 h window": {"start": end - timedelta(days=1), "end": end},
                   "last 6 h": {"start": last6, "end": end},
                   f"bbox {BOX}": {"bbox": BOX}}
        rows = []
        for q, kw in queries.items():
            t_reader = median_time(lambda kw=kw: reader.read("track_points", **kw), repeats)
            t_owner = median_time(lambda kw=kw: owner.read("track_points", **kw), repeats)
            n_reader = len(reader.read("track_points", columns=["source_id"], **kw))
            n_owner = len(owner.read("track_points", columns=["source_id"], **kw))
            rows.append(Row(f"reader (FRA RESTRICTED): {q}", t_reader, "owner: same call", t_owner,
                            f"{n_reader:,} of {n_owner:,} rows"))
        # the same rows for both: the policy against the equivalent WHERE written by hand
        test = sql.SQL("_mk_level <= 1 AND (_mk_rel IS NULL OR 'FRA' = ANY(_mk_rel))")
        q_owner = sql.SQL("SELECT source_id, time, ST_AsBinary(geometry) FROM track_points WHERE ") + test
        q_reader = sql.SQL("SELECT source_id, time, ST_AsBinary(geometry) FROM track_points")
        t_reader = median_time(lambda: reader._arrow(q_reader, []), repeats)
        t_owner = median_time(lambda: owner._arrow(q_owner, []), repeats)
        rows.append(Row("reader: all its rows (policy)", t_reader, "owner: same rows, WHERE by hand", t_owner,
                        f"{reader._arrow(q_reader, []).num_rows:,} rows"))
        reader.close()
        owner.close()
    finally:
        with connect(url) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
            drop_login(conn, login)
    return table(f"{title}, {len(points):,} track points (medians of {repeats}; ratio > 1: the reader slower)",
                 rows)
