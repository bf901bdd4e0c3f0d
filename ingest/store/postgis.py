"""The shared store: PostGIS, for deployments where several machines read and write.

Chosen with `WATCHFLOOR_STORE=postgresql://user@host:port/dbname` (any libpq URL;
`?options=-csearch_path%3Dmyschema,public` keeps the tables in a schema of their
own). The behaviour is the embedded store's (ingest/store/delta.py), which is the
contract; only the mechanics differ:

- one table per layer with typed columns (ingest/schema.py), PRIMARY KEY
  (source, source_id), a GiST index on the geometry and btree indexes on the
  layer's time columns; the tables come from versioned migrations
  (ingest/store/migrations/NNNN_name.sql) applied by `watchfloor db upgrade`, and a
  store refuses to open a database whose schema is behind;
- a write is one transaction: COPY the batch into a temporary table, then one
  INSERT ... SELECT ... ON CONFLICT (source, source_id) DO UPDATE ... WHERE the
  new version >= the stored one AND the content hash differs. `_version` and
  `_hash` are computed exactly as the embedded store computes them, so both
  stores agree on what is newer and what is unchanged;
- any number of writer and reader processes on any number of machines at once:
  the primary key and ON CONFLICT (PostgreSQL's row locks) make concurrent
  upserts of the same keys wait for each other instead of duplicating or
  losing records, and every read is one statement, so it sees whole commits;
- `version(name)` is one row of `watchfloor_versions`, bumped in the same
  transaction as every write that changed something;
- layer reads fetch Arrow through ADBC (PostgreSQL's binary COPY, geometry as
  ST_AsBinary WKB), the small internal tables stream `COPY (SELECT ...) TO
  STDOUT` as CSV into Arrow; both come back with exactly the columns and dtypes
  of the embedded store.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import threading
import time as _time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote

import adbc_driver_manager.dbapi as adbc_dbapi
import adbc_driver_postgresql.dbapi as adbc_pg
import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
from psycopg import errors as pgerrors
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.pq import TransactionStatus

from ingest.errors import SchemaError, StoreError, StoreQueryError
from ingest.markings import parse_marking
from ingest.schema import LAYERS, QUARANTINE_COLUMNS, LayerSpec, spec
from ingest.store.base import (
    ALERT_COLUMNS,
    FEED_STATUS_COLUMNS,
    AlertWriteReport,
    BBox,
    FeedStatus,
    GeofenceQuery,
    LayerStats,
    Store,
    WriteReport,
    alert_query,
    read_query,
)
from ingest.store.delta import (
    ACKS_TABLE,
    ALERTS_TABLE,
    FEEDS_SCHEMA,
    FEEDS_TABLE,
    QUARANTINE_TABLE,
    _isna,
    _ts,
    _when,
    alerts_from_arrow,
    alerts_to_arrow,
    empty_alerts,
    empty_layer,
    from_arrow,
    to_arrow,
)
from ingest.store.locks import AdvisoryLease, Lease

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
MIGRATIONS_TABLE = "watchfloor_migrations"
UPGRADE_COMMAND = "watchfloor db upgrade"
# The names `version()` knows besides the layers: the same as the embedded store's tables.
INTERNAL_TABLES = {QUARANTINE_TABLE: "watchfloor_quarantine", FEEDS_TABLE: "watchfloor_feeds",
                   ALERTS_TABLE: "watchfloor_alerts", ACKS_TABLE: "watchfloor_alert_acks"}
PG_TYPES = {"str": "text", "float": "double precision", "int": "bigint", "bool": "boolean",
            "time": "timestamptz", "geometry": "geometry"}
ARROW_IN = {"str": pa.string(), "float": pa.float64(), "int": pa.int64(), "bool": pa.bool_(),
            "time": pa.timestamp("us", tz="UTC"), "geometry": pa.string()}  # geometry as hex WKB
_TS = pa.timestamp("us", tz="UTC")
# Idle connections a store keeps for reuse (one per thread in use, at most).
POOL_SIZE = 4
# A write that meets a deadlock or a serialization failure is retried this many times.
RETRIES = 4
COPY_CHUNK = 4 << 20
NUL_STANDIN = "\ufffd"  # what a NUL character in a string is stored as (PostgreSQL text cannot hold it)

T = TypeVar("T")


class SchemaBehindError(StoreError):
    """The database lacks migrations this version of watchfloor needs."""

    def __init__(self, where: str, missing: list[str]) -> None:
        self.missing = missing
        more = f" (and {len(missing) - 1} more: {', '.join(missing[1:])})" if len(missing) > 1 else ""
        super().__init__(
            f"the PostGIS store at {where} is behind this watchfloor: migration {missing[0]} is not "
            f"applied{more}; run `{UPGRADE_COMMAND}` with WATCHFLOOR_STORE set to this database")


# -- connections and migrations ---------------------------------------------------------

def redact(url: str) -> str:
    """host:port/dbname of a libpq URL, for messages (never the password). A URL whose password
    libpq would not read as one (an unescaped '/', '@' or '?' in it: parts of it would land in the
    host, port or database name) is not described at all."""
    try:
        p = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "<unparseable database URL>"
    if _misparsed(url, p):
        return MISPARSED
    text = f"{p.get('host', 'localhost')}:{p.get('port', '5432')}/{p.get('dbname', '')}"
    return _without(text, _secrets(url))


def scrub(text: object, url: str) -> str:
    """``text`` (an error message from psycopg, libpq or ADBC) with every secret of ``url`` taken
    out: the whole URL, its password (parsed, and as written, percent-encoded or not) and any
    ``password=...`` or ``user:password@`` it may echo. Messages and logs carry the result only."""
    out = str(text)
    if url:
        out = out.replace(url, redact(url))
    out = _without(out, _secrets(url))
    out = re.sub(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", r"\1***", out, flags=re.IGNORECASE)
    return re.sub(r"(://[^:/@\s]*:)[^@\s]*@", r"\1***@", out)


MISPARSED = ("<a database URL whose password does not parse: write '/', '@', '?', ':' and '#' in it "
             "as %2F, %40, %3F, %3A and %23>")


def _misparsed(url: str, parsed: dict) -> bool:
    """Whether libpq reads the URL's password other than as written (parts of it would end up in
    the host, port or database name, and in libpq's error messages)."""
    raw = _url_password(url)
    return raw is not None and unquote(raw) != parsed.get("password")


def _url_password(url: str) -> str | None:
    """The password as written in a URL's user-info (up to its last '@'), or None."""
    if not re.match(r"^[a-z]+://", url or "") or "@" not in url:
        return None
    userinfo = url.split("://", 1)[1].rsplit("@", 1)[0]
    return userinfo.split(":", 1)[1] if ":" in userinfo else None


def _secrets(url: str) -> set[str]:
    out: set[str] = set()
    try:
        pw = conninfo_to_dict(url).get("password")
    except psycopg.ProgrammingError:
        pw = None
    raw = _url_password(url)
    for value in (pw, raw, unquote(raw) if raw else None):
        if value:
            out.add(str(value))
            out |= {part for part in re.split(r"[/@?:#]", str(value)) if len(part) >= 4}
    return out


def _without(text: str, secrets_: set[str]) -> str:
    for secret in sorted(secrets_, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def connect(url: str, **settings: str) -> psycopg.Connection:
    """An autocommit connection whose session time zone is UTC (reads parse timestamps as UTC).
    `settings` are more libpq parameters, over the URL's (a lease's keepalives and name)."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise StoreError(f"WATCHFLOOR_STORE is not a valid PostgreSQL URL: {scrub(exc, url)}") from None
    if _misparsed(url, params):
        raise StoreError(f"WATCHFLOOR_STORE is not a valid PostgreSQL URL: {MISPARSED}")
    params["options"] = (params.get("options", "") + " -c TimeZone=UTC -c DateStyle=ISO").strip()
    params.setdefault("application_name", "watchfloor")
    params.setdefault("connect_timeout", "10")
    params.update(settings)
    try:
        return psycopg.connect(**params, autocommit=True)
    except psycopg.Error as exc:
        # `from None`: the original exception (and a logged traceback of it) is not kept
        raise StoreError(f"cannot connect to the PostGIS store at {redact(url)}: "
                         f"{scrub(exc, url)}".strip()) from None


def migrations() -> list[tuple[str, str]]:
    """(name, SQL) of every migration shipped, in the order they apply."""
    files = sorted(MIGRATIONS_DIR.glob("[0-9][0-9][0-9][0-9]_*.sql"))
    return [(p.stem, p.read_text(encoding="utf-8")) for p in files]


def applied_migrations(conn: psycopg.Connection) -> list[str]:
    exists = conn.execute("SELECT to_regclass(%s)", (MIGRATIONS_TABLE,)).fetchone()[0]
    if exists is None:
        return []
    return [r[0] for r in conn.execute(f"SELECT name FROM {MIGRATIONS_TABLE} ORDER BY name")]


def pending_migrations(conn: psycopg.Connection) -> list[str]:
    done = set(applied_migrations(conn))
    return [name for name, _ in migrations() if name not in done]


def upgrade(url: str) -> list[str]:
    """Apply the migrations the database (its current schema) lacks, each in its own
    transaction, in order, recorded in `watchfloor_migrations`. Safe to re-run and
    to run from several machines at once (an advisory lock serialises them).
    Returns the names applied now (empty when the schema was up to date)."""
    applied: list[str] = []
    with connect(url) as conn:
        try:
            for name, text in migrations():
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(hashtext(coalesce(current_schema(), '')"
                                 " || '.watchfloor_migrations'))")
                    conn.execute(f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} ("
                                 "name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
                    done = conn.execute(f"SELECT 1 FROM {MIGRATIONS_TABLE} WHERE name = %s", (name,)).fetchone()
                    if done:
                        continue
                    conn.execute(text)
                    conn.execute(f"INSERT INTO {MIGRATIONS_TABLE} (name) VALUES (%s)", (name,))
                applied.append(name)
            with conn.transaction():
                protect_and_remark(conn)
        except psycopg.Error as exc:
            raise StoreError(f"upgrading the PostGIS store at {redact(url)}: migration failed: "
                             f"{scrub(exc, url)}") from None
    return applied


def protect_and_remark(conn: psycopg.Connection) -> dict[str, int]:
    """After the migrations: every layer table protected by row-level security (a layer added by a
    later migration too), and every row's marking columns derived again from its marking text, so
    rows written before 0005 (or before the site's coalitions changed) are judged as the dashboard
    judges them. Returns rows changed per table; their versions are bumped (caches refresh)."""
    if conn.execute("SELECT to_regprocedure('watchfloor_protect_layer(regclass)')").fetchone()[0] is None:
        return {}
    changed: dict[str, int] = {}
    for name in [*LAYERS, FEEDS_TABLE]:
        table = INTERNAL_TABLES.get(name, name)
        if conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0] is None:
            continue
        conn.execute("SELECT watchfloor_protect_layer(%s::regclass)", (table,))
        if name in LAYERS:
            conn.execute("INSERT INTO watchfloor_layer_tables (name) VALUES (%s) ON CONFLICT DO NOTHING", (name,))
        t = sql.Identifier(table)
        markings = [r[0] for r in conn.execute(sql.SQL("SELECT DISTINCT marking FROM {}").format(t))]
        _parsed_markings(conn, markings)
        n = conn.execute(sql.SQL(
            "UPDATE {} AS t SET _mk_level = m.mk_level, _mk_rel = m.mk_rel FROM _wf_mk m "
            "WHERE t.marking IS NOT DISTINCT FROM m.mk_text "
            "AND (t._mk_level IS DISTINCT FROM m.mk_level OR t._mk_rel IS DISTINCT FROM m.mk_rel)").format(t)).rowcount
        conn.execute("DROP TABLE _wf_mk")
        if n:
            changed[name] = n
            bump(conn, name)
    return changed


def add_db_arguments(parser) -> None:
    """The arguments of `watchfloor db`: `upgrade`, `status` and `role ...`, each with an optional --url."""
    sub = parser.add_subparsers(dest="db_command", required=True)
    up = sub.add_parser("upgrade", help="create or upgrade the PostGIS store's tables (pending migrations)")
    st = sub.add_parser("status", help="list the applied and pending migrations of the PostGIS store")
    from ingest.store.roles import add_role_arguments

    role = sub.add_parser("role", help="login roles: owner (migrations), writer (feeds), reader per dashboard")
    add_role_arguments(role)
    for p in (up, st):
        p.add_argument("--url", help="postgresql://... (default: WATCHFLOOR_STORE)")


def db_command(args) -> int:
    """`watchfloor db upgrade|status`."""
    from ingest import config
    from ingest.errors import ConfigError

    url = getattr(args, "url", None) or config.store_url()
    if not url or not url.startswith(("postgresql://", "postgres://")):
        raise ConfigError("WATCHFLOOR_STORE", "a postgresql://... URL (or --url) for `watchfloor db`",
                          url.split("@")[-1] if url else "unset")
    where = redact(url)
    if args.db_command == "role":
        from ingest.store.roles import role_command

        with connect(url) as conn:
            try:
                return role_command(args, conn, where)
            except psycopg.Error as exc:
                raise StoreError(f"{where}: {scrub(exc, url)}") from None
    if args.db_command == "upgrade":
        done = upgrade(url)
        for name in done:
            print(f"applied {name}")
        print(f"{where}: schema up to date ({len(done)} migration(s) applied now)")
        return 0
    with connect(url) as conn:
        applied = set(applied_migrations(conn))
    pending = 0
    for name, _ in migrations():
        print(f"{'applied' if name in applied else 'PENDING'}  {name}")
        pending += name not in applied
    print(f"{where}: " + (f"{pending} pending: run `{UPGRADE_COMMAND}`" if pending else "schema up to date"))
    return 1 if pending else 0


# -- the store ------------------------------------------------------------------------------

class PostGISStore(Store):
    def __init__(self, url: str, *, check_schema: bool = True) -> None:
        self.url = url
        self._idle: list[psycopg.Connection] = []
        self._idle_arrow: list[adbc_dbapi.Connection] = []
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._scoped: bool | None = None
        if check_schema:
            with self._connection() as conn:
                missing = pending_migrations(conn)
            if missing:
                raise SchemaBehindError(redact(url), missing)

    def __repr__(self) -> str:
        return f"PostGISStore({redact(self.url)!r})"

    def scoped(self) -> bool:
        """A member of watchfloor_reader (not a superuser): row-level security applies to it."""
        if self._scoped is None:
            self._scoped = bool(self._read(lambda conn: conn.execute(
                "SELECT CASE WHEN r.rolsuper OR to_regrole('watchfloor_reader') IS NULL THEN false "
                "ELSE pg_has_role(current_user, 'watchfloor_reader', 'USAGE') END "
                "FROM pg_roles r WHERE r.rolname = current_user").fetchone()[0]))
        return self._scoped

    def exclusive(self, name: str) -> Lease:
        """A session advisory lock on a connection of its own: among every machine's processes."""
        return AdvisoryLease(self.url, name)

    def geofence_fixes(self, query: GeofenceQuery) -> gpd.GeoDataFrame:
        """Selected in the database with window functions (ingest/store/analysis.py)."""
        from ingest.store.analysis import geofence_fixes

        return geofence_fixes(self, query)

    def near_pairs(self, left: str, left_keys: pd.DataFrame, right: str, right_keys: pd.DataFrame,
                   limits_m: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """ST_DWithin on geography in the database (ingest/store/analysis.py)."""
        from ingest.store.analysis import near_pairs

        return near_pairs(self, left, left_keys, right, right_keys, limits_m)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
            idle_arrow, self._idle_arrow = self._idle_arrow, []
        for conn in [*idle, *idle_arrow]:
            conn.close()

    # -- writing ----------------------------------------------------------------
    def write(self, layer: str, frame: gpd.GeoDataFrame) -> WriteReport:
        ls = spec(layer)
        table = to_arrow(frame, ls)  # the embedded store's _version and _hash, so both agree
        n = table.num_rows
        if n == 0:
            return WriteReport(layer, 0, 0, 0)
        names = [c.name for c in ls.all_columns] + ["geometry", "_version", "_hash"]
        geo = set(ls.extra_geometry_columns) | {"geometry"}
        cols = {c: _hex(table.column(c)) if c in geo else table.column(c) for c in names}
        data = _to_csv(pa.table({**cols, "_ord": pa.array(np.arange(n), pa.int64())}))
        kinds = {c.name: c.kind for c in ls.all_columns} | {"geometry": "geometry", "_version": "time",
                                                             "_hash": "str", "_ord": "int"}
        target = sql.Identifier(layer)
        ids = sql.SQL(", ").join(map(sql.Identifier, names))
        select = sql.SQL(", ").join(
            sql.SQL("ST_SetSRID({c}, 4326)").format(c=sql.Identifier(c)) if c in geo else sql.Identifier(c)
            for c in names)
        sets = sql.SQL(", ").join(sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c))
                                  for c in names if c not in ("source", "source_id"))
        ids = ids + sql.SQL(", _mk_level, _mk_rel")
        select = select + sql.SQL(", m.mk_level, m.mk_rel")
        sets = sets + sql.SQL(", _mk_level = EXCLUDED._mk_level, _mk_rel = EXCLUDED._mk_rel")
        markings = pc.unique(table.column("marking")).to_pylist()
        upsert = sql.SQL(
            "WITH w AS (INSERT INTO {t} AS t ({ids}) "
            "SELECT DISTINCT ON (source, source_id) {select} FROM _wf_in "
            "LEFT JOIN _wf_mk m ON m.mk_text IS NOT DISTINCT FROM _wf_in.marking "
            "ORDER BY source, source_id, _version DESC, _ord DESC "
            "ON CONFLICT (source, source_id) DO UPDATE SET {sets} "
            "WHERE EXCLUDED._version >= t._version AND EXCLUDED._hash <> t._hash "
            "RETURNING (t.xmax = 0) AS inserted) "
            "SELECT count(*) FILTER (WHERE inserted), count(*) FROM w").format(
                t=target, ids=ids, select=select, sets=sets)

        def run(conn: psycopg.Connection) -> tuple[int, int]:
            _temp_table(conn, "_wf_in", kinds)
            _copy_in(conn, "_wf_in", list(kinds), data)
            _parsed_markings(conn, markings)
            ins, changed = conn.execute(upsert).fetchone()
            if changed:
                bump(conn, layer)
            return int(ins), int(changed) - int(ins)

        ins, upd = self._write(run)
        return WriteReport(layer, ins, upd, n - ins - upd)

    def delete(self, layer: str, keys: pd.DataFrame) -> int:
        spec(layer)
        if keys.empty:
            return 0
        q = sql.SQL("DELETE FROM {t} AS t USING unnest(%s::text[], %s::text[]) AS k(source, source_id) "
                    "WHERE t.source = k.source AND t.source_id = k.source_id").format(t=sql.Identifier(layer))
        params = (keys["source"].astype(str).tolist(), keys["source_id"].astype(str).tolist())

        def run(conn: psycopg.Connection) -> int:
            n = conn.execute(q, params).rowcount
            if n:
                bump(conn, layer)
            return n

        return self._write(run)

    def quarantine(self, records: pd.DataFrame) -> int:
        if records is None or records.empty:
            return 0
        missing = [c for c in QUARANTINE_COLUMNS if c not in records]
        if missing:
            raise SchemaError("quarantine", f"columns {QUARANTINE_COLUMNS}", f"missing {missing}")
        data = {c: [None if _isna(v) else str(v) for v in records[c]] for c in QUARANTINE_COLUMNS[:-1]}
        qat = pd.to_datetime(records["quarantined_at"], utc=True)
        text = {c: [None if v is None else v.replace("\x00", NUL_STANDIN) for v in data[c]] for c in data}
        keys = [  # as the embedded store keys them
            hashlib.sha1("\x1f".join(str(data[c][i]) for c in ("layer", "source", "source_id", "reason", "raw"))
                         .encode()).hexdigest()
            for i in range(len(records))
        ]
        first = np.unique(keys, return_index=True)[1]
        rows = [[keys[i] for i in first]] + [[text[c][i] for i in first] for c in QUARANTINE_COLUMNS[:-1]]
        rows.append([None if pd.isna(qat.iloc[i]) else qat.iloc[i].to_pydatetime() for i in first])
        q = ("INSERT INTO watchfloor_quarantine (qkey, layer, source, source_id, reason, detail, raw, "
             "quarantined_at) SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], "
             "%s::text[], %s::text[], %s::text[], %s::timestamptz[]) ON CONFLICT (qkey) DO NOTHING")

        def run(conn: psycopg.Connection) -> int:
            n = conn.execute(q, rows).rowcount
            if n:
                bump(conn, QUARANTINE_TABLE)
            return n

        return self._write(run)

    # -- reading ----------------------------------------------------------------
    def read(
        self,
        layer: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        bbox: BBox | None = None,
        columns: list[str] | None = None,
        where: dict[str, object] | None = None,
    ) -> gpd.GeoDataFrame:
        ls = spec(layer)
        bbox, wanted = read_query(ls, start, end, bbox, where, columns)
        cond, params = _conditions(ls, start, end, bbox, where)
        names = wanted or ls.column_names
        kinds = {c: ("geometry" if c == "geometry" else ls.column(c).kind) for c in names}
        q = sql.SQL("SELECT {cols} FROM {t}{where}").format(
            cols=sql.SQL(", ").join(_out(c, k, binary=True) for c, k in kinds.items()), t=sql.Identifier(layer),
            where=_where_clause(cond))
        table = self._arrow(q, params)
        if table.num_rows == 0:
            return empty_layer(ls, wanted)
        return from_arrow(table, ls)

    def quarantined(self, layer: str | None = None, source: str | None = None,
                    limit: int | None = None) -> pd.DataFrame:
        cond, params = [], []
        for col, val in (("layer", layer), ("source", source)):
            if val is not None:
                cond.append(sql.SQL("{} = %s").format(sql.Identifier(col)))
                params.append(str(val))
        kinds = {c: "time" if c == "quarantined_at" else "str" for c in QUARANTINE_COLUMNS}
        q = sql.SQL("SELECT {cols} FROM watchfloor_quarantine{where} "
                    "ORDER BY quarantined_at DESC NULLS LAST, qkey{limit}").format(
            cols=sql.SQL(", ").join(map(sql.Identifier, QUARANTINE_COLUMNS)), where=_where_clause(cond),
            limit=sql.SQL(f" LIMIT {int(limit)}") if limit else sql.SQL(""))
        table = self._read(lambda conn: _copy_out(conn, q, params, kinds))
        if table.num_rows == 0:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in QUARANTINE_COLUMNS})
        return table.to_pandas()

    def stats(self, layer: str) -> LayerStats:
        ls = spec(layer)
        col = ls.end_column or ls.time_column
        newest = sql.SQL("(SELECT max({c}) FROM {t})").format(c=sql.Identifier(col), t=sql.Identifier(layer)) \
            if col else sql.SQL("NULL::timestamptz")
        q = sql.SQL("SELECT (SELECT count(*) FROM {t}), {newest}, "
                    "(SELECT changed_at FROM watchfloor_versions WHERE name = %s)").format(
            t=sql.Identifier(layer), newest=newest)
        count, new, last = self._read(lambda conn: conn.execute(q, (layer,)).fetchone())
        return LayerStats(layer, int(count), _stamp(new), _stamp(last))

    def version(self, layer: str) -> int:
        """How many changing writes `layer` (or "_alerts", "_alert_acks", "_feeds",
        "_quarantine") has had: one indexed lookup, a cheap cache key."""
        if layer not in LAYERS and layer not in INTERNAL_TABLES:
            spec(layer)
        row = self._read(lambda conn: conn.execute(
            "SELECT version FROM watchfloor_versions WHERE name = %s", (layer,)).fetchone())
        return int(row[0]) if row else 0

    # -- feeds --------------------------------------------------------------------
    def put_feed_status(self, status: FeedStatus) -> None:
        values = [getattr(status, f) for f in FEED_STATUS_COLUMNS]
        for i, f in enumerate(FEED_STATUS_COLUMNS):
            if f in ("last_attempt", "last_success", "next_attempt") and values[i] is not None:
                values[i] = pd.Timestamp(values[i]).tz_convert("UTC").to_pydatetime()
            elif isinstance(values[i], np.generic):
                values[i] = values[i].item()
        names = [*FEED_STATUS_COLUMNS, "_mk_level", "_mk_rel"]
        values += list(marking_columns(status.marking))
        cols = sql.SQL(", ").join(map(sql.Identifier, names))
        q = sql.SQL("INSERT INTO watchfloor_feeds ({cols}) VALUES ({vals}) ON CONFLICT (feed) DO UPDATE SET {sets}") \
            .format(cols=cols, vals=sql.SQL(", ").join(sql.Placeholder() * len(values)),
                    sets=sql.SQL(", ").join(sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c))
                                            for c in names[1:]))

        def run(conn: psycopg.Connection) -> None:
            conn.execute(q, values)
            bump(conn, FEEDS_TABLE)

        self._write(run)

    def feed_status(self) -> pd.DataFrame:
        kinds = {f.name: _kind(f.type) for f in FEEDS_SCHEMA}
        q = sql.SQL('SELECT {cols} FROM watchfloor_feeds ORDER BY feed COLLATE "C"').format(
            cols=sql.SQL(", ").join(map(sql.Identifier, FEEDS_SCHEMA.names)))
        table = self._read(lambda conn: _copy_out(conn, q, [], kinds))
        return table.cast(FEEDS_SCHEMA).to_pandas()

    # -- alerts -------------------------------------------------------------------
    # As in the embedded store, acknowledgements live in a table of their own that
    # put_alerts and resolve_missing never write, so no refresh, however it races an
    # acknowledgement, can overwrite one; acknowledging is an INSERT ... ON CONFLICT
    # DO NOTHING, so the first acknowledgement of a key wins by construction.

    def put_alerts(self, findings: gpd.GeoDataFrame, *, now: datetime | None = None) -> AlertWriteReport:
        now_ts = _when(now, "put_alerts now")
        table = alerts_to_arrow(findings, now_ts)
        n = table.num_rows
        if n == 0:
            return AlertWriteReport(0, 0, 0)
        names = ["key", "rule", "severity", "time", "subjects", "message", "details", "geometry",
                 "first_seen", "last_seen", "status"]
        kinds = {c: ("geometry" if c == "geometry" else _kind(table.schema.field(c).type)) for c in names}
        cols = {c: _hex(table.column(c)) if c == "geometry" else table.column(c) for c in names}
        cols["content_hash"] = table.column("_hash")
        kinds["content_hash"] = "str"
        data = _to_csv(pa.table(cols))
        new_hash = dict(zip(table.column("key").to_pylist(), table.column("_hash").to_pylist()))
        content = ["rule", "severity", "time", "subjects", "message", "details", "geometry"]
        upsert = sql.SQL(
            "INSERT INTO watchfloor_alerts AS t ({ids}) SELECT {select} FROM _wf_alerts ORDER BY key "
            "ON CONFLICT (key) DO UPDATE SET {sets}, last_seen = EXCLUDED.last_seen, "
            "content_hash = EXCLUDED.content_hash, status = 'open' "
            "WHERE EXCLUDED.last_seen >= t.last_seen").format(
            ids=sql.SQL(", ").join(map(sql.Identifier, kinds)),
            select=sql.SQL(", ").join(sql.SQL("ST_SetSRID(geometry, 4326)") if c == "geometry"
                                      else sql.Identifier(c) for c in kinds),
            sets=sql.SQL(", ").join(sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in content))

        def run(conn: psycopg.Connection) -> list[tuple]:
            _temp_table(conn, "_wf_alerts", kinds)
            _copy_in(conn, "_wf_alerts", list(kinds), data)
            # What the stored rows were, to tell new / changed / same (locked in key order).
            old = conn.execute("SELECT a.key, a.content_hash, a.status, a.last_seen FROM watchfloor_alerts a "
                               "JOIN _wf_alerts s ON s.key = a.key ORDER BY a.key FOR UPDATE OF a").fetchall()
            if conn.execute(upsert).rowcount:
                bump(conn, ALERTS_TABLE)
            return old

        old = self._write(run)
        updated = sum(1 for key, h, status, seen in old
                      if pd.Timestamp(seen) <= now_ts and (h != new_hash[key] or status != "open"))
        return AlertWriteReport(n - len(old), updated, len(old) - updated)

    def alerts(
        self,
        *,
        since: datetime | None = None,
        states: list[str] | None = None,
        rules: list[str] | None = None,
        limit: int | None = None,
    ) -> gpd.GeoDataFrame:
        states, rules = alert_query(states, rules, limit)
        cond, params = [], []
        if since is not None:
            cond.append(sql.SQL('a."time" >= %s'))
            params.append(_ts(since).as_py())
        if rules is not None:
            cond.append(sql.SQL("a.rule = ANY(%s::text[])"))
            params.append([str(r) for r in rules])
        outer = sql.SQL("")
        if states is not None:
            outer = sql.SQL(" WHERE state = ANY(%s::text[])")
            params.append(states)
        kinds = {c: "geometry" if c == "geometry" else
                 "time" if c in ("time", "first_seen", "last_seen", "acknowledged_at") else "str"
                 for c in ALERT_COLUMNS}
        q = sql.SQL(
            "SELECT {cols} FROM (SELECT a.*, k.acknowledged_by, k.acknowledged_at, "
            "CASE WHEN a.status = 'resolved' THEN 'resolved' WHEN k.key IS NOT NULL THEN 'acknowledged' "
            "ELSE 'open' END AS state FROM watchfloor_alerts a LEFT JOIN watchfloor_alert_acks k "
            "ON k.key = a.key{where}) s{outer} ORDER BY \"time\" DESC, key COLLATE \"C\"{limit}").format(
            cols=sql.SQL(", ").join(_out(c, k) for c, k in kinds.items()), where=_where_clause(cond),
            outer=outer, limit=sql.SQL(f" LIMIT {int(limit)}") if limit is not None else sql.SQL(""))
        table = self._read(lambda conn: _copy_out(conn, q, params, kinds))
        if table.num_rows == 0:
            return empty_alerts()
        return alerts_from_arrow(table)

    def acknowledge(self, key: str, by: str, *, at: datetime | None = None) -> bool:
        at_ts = _when(at, "acknowledge at")
        if not str(by or "").strip():
            raise StoreQueryError("acknowledge by", "who acknowledged (a non-empty name)", by)

        def run(conn: psycopg.Connection) -> bool:
            if conn.execute("SELECT 1 FROM watchfloor_alerts WHERE key = %s", (str(key),)).fetchone() is None:
                return False
            n = conn.execute("INSERT INTO watchfloor_alert_acks (key, acknowledged_by, acknowledged_at) "
                             "VALUES (%s, %s, %s) ON CONFLICT (key) DO NOTHING",
                             (str(key), str(by), at_ts.to_pydatetime())).rowcount
            if n:
                bump(conn, ACKS_TABLE)
            return True

        return self._write(run)

    def prune_alerts(self, resolved_before: datetime) -> int:
        cutoff = _when(resolved_before, "prune_alerts resolved_before").to_pydatetime()

        def run(conn: psycopg.Connection) -> int:
            gone = [r[0] for r in conn.execute(
                "DELETE FROM watchfloor_alerts WHERE status = 'resolved' AND last_seen < %s RETURNING key",
                (cutoff,)).fetchall()]
            if gone:
                conn.execute("DELETE FROM watchfloor_alert_acks WHERE key = ANY(%s::text[])", (gone,))
                bump(conn, ALERTS_TABLE)
                bump(conn, ACKS_TABLE)
            return len(gone)

        return self._write(run)

    def resolve_missing(self, active_keys: set[str], *, rules: list[str] | None = None,
                        now: datetime | None = None) -> int:
        now_ts = _when(now, "resolve_missing now")
        cond = [sql.SQL("a.status = 'open' AND a.last_seen < %s")]
        params: list[Any] = [now_ts.to_pydatetime()]
        if rules is not None:
            rules = [rules] if isinstance(rules, str) else list(rules)
            cond.append(sql.SQL("a.rule = ANY(%s::text[])"))
            params.append([str(r) for r in rules])
        cond.append(sql.SQL("NOT EXISTS (SELECT 1 FROM unnest(%s::text[]) AS k(key) WHERE k.key = a.key)"))
        params.append(sorted({str(k) for k in active_keys}))
        q = sql.SQL("UPDATE watchfloor_alerts AS a SET status = 'resolved'{where}").format(
            where=_where_clause(cond))

        def run(conn: psycopg.Connection) -> int:
            n = conn.execute(q, params).rowcount
            if n:
                bump(conn, ALERTS_TABLE)
            return n

        return self._write(run)

    # -- connections --------------------------------------------------------------
    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        """A connection of this store's small pool (a store may be shared by threads,
        as the dashboard's is; a process that forked does not reuse its parent's)."""
        with self._lock:
            if self._pid != os.getpid():
                self._idle, self._pid = [], os.getpid()
            conn = self._idle.pop() if self._idle else None
        if conn is None or conn.closed:
            conn = connect(self.url)
        ok = False
        try:
            yield conn
            ok = True
        finally:
            if ok and not conn.closed and conn.info.transaction_status == TransactionStatus.IDLE:
                with self._lock:
                    if len(self._idle) < POOL_SIZE and self._pid == os.getpid():
                        self._idle.append(conn)
                        conn = None
            if conn is not None:
                conn.close()

    def _arrow(self, query: sql.Composable, params: list) -> pa.Table:
        """The rows of a (large) query as Arrow, through ADBC: PostgreSQL's binary COPY
        straight into Arrow arrays, about twice as fast as CSV for a million rows.
        The statement is bound client-side by psycopg (the same quoting as everywhere)."""
        text = self._read(lambda conn: psycopg.ClientCursor(conn).mogrify(query, params or None))
        for attempt in range(2):
            with self._lock:
                if self._pid != os.getpid():
                    self._idle, self._idle_arrow, self._pid = [], [], os.getpid()
                conn = self._idle_arrow.pop() if self._idle_arrow else None
            try:
                if conn is None:
                    conn = adbc_pg.connect(self.url, autocommit=True)
                with conn.cursor() as cur:
                    cur.execute(text)
                    table = cur.fetch_arrow_table()
            except adbc_dbapi.Error as exc:
                if conn is not None:
                    try:
                        conn.close()
                    except adbc_dbapi.Error:
                        pass
                if attempt == 0 and isinstance(exc, (adbc_dbapi.OperationalError, adbc_dbapi.InterfaceError)):
                    continue  # e.g. a pooled connection the server closed
                raise StoreError(f"{self!r}: {scrub(exc, self.url)}".strip()) from None
            with self._lock:
                if len(self._idle_arrow) < POOL_SIZE and self._pid == os.getpid():
                    self._idle_arrow.append(conn)
                    conn = None
            if conn is not None:
                conn.close()
            return table
        raise AssertionError("unreachable")

    def run(self, fn: Callable[[psycopg.Connection], T], *, transaction: bool = False) -> T:
        """``fn`` on a pooled connection (in one transaction if asked, retried on deadlocks),
        errors as StoreError without secrets: for tables beside the layers (layers/access/directory.py)."""
        return self._run(fn, transaction=transaction)

    def _read(self, fn: Callable[[psycopg.Connection], T]) -> T:
        return self._run(fn, transaction=False)

    def _write(self, fn: Callable[[psycopg.Connection], T]) -> T:
        return self._run(fn, transaction=True)

    def _run(self, fn: Callable[[psycopg.Connection], T], *, transaction: bool) -> T:
        for attempt in range(RETRIES + 1):
            try:
                with self._connection() as conn:
                    if not transaction:
                        return fn(conn)
                    with conn.transaction():
                        return fn(conn)
            except (pgerrors.DeadlockDetected, pgerrors.SerializationFailure) as exc:
                if attempt == RETRIES:
                    raise StoreError(f"{self!r}: gave up after {RETRIES + 1} tries: {scrub(exc, self.url)}") from exc
                _time.sleep(0.02 * (attempt + 1))
            except pgerrors.UndefinedTable as exc:
                raise StoreError(f"{self!r}: {scrub(exc, self.url)}".strip()
                                 + f" (is the schema created? run `{UPGRADE_COMMAND}`)") \
                    from exc
            except psycopg.OperationalError as exc:  # e.g. a pooled connection the server closed
                if attempt >= 1:
                    raise StoreError(f"{self!r}: {scrub(exc, self.url)}".strip()) from None
            except psycopg.Error as exc:
                raise StoreError(f"{self!r}: {scrub(exc, self.url)}".strip()) from exc
        raise AssertionError("unreachable")


# -- SQL and data helpers ---------------------------------------------------------------

def bump(conn: psycopg.Connection, name: str) -> None:
    """Count a change of ``name`` (in the caller's transaction): what `Store.version` reads."""
    conn.execute("INSERT INTO watchfloor_versions AS v (name, version, changed_at) "
                 "VALUES (%s, 1, clock_timestamp()) ON CONFLICT (name) DO UPDATE "
                 "SET version = v.version + 1, changed_at = EXCLUDED.changed_at", (name,))


def marking_columns(marking: object) -> tuple[int | None, list[str] | None]:
    """(_mk_level, _mk_rel) of a marking, parsed by ingest/markings.py as the dashboard parses it:
    level None when missing or unreadable; nations None when releasable to all partners."""
    m = parse_marking(marking)
    if m is None:
        return None, None
    return m.level, None if m.rel_to is None else sorted(m.rel_to)


def _parsed_markings(conn: psycopg.Connection, markings: list[object]) -> None:
    """Temporary table _wf_mk (mk_text, mk_level, mk_rel): each distinct marking parsed once."""
    conn.execute("CREATE TEMP TABLE _wf_mk (mk_text text, mk_level smallint, mk_rel text[]) ON COMMIT DROP")
    texts = {None if _isna(v) else str(v).replace("\x00", NUL_STANDIN) for v in markings}
    rows = [(t, *marking_columns(t)) for t in texts]  # the text as stored: what the dashboard reads back
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO _wf_mk VALUES (%s, %s, %s)", rows)


def _temp_table(conn: psycopg.Connection, name: str, kinds: dict[str, str]) -> None:
    cols = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(PG_TYPES[k]))
                              for c, k in kinds.items())
    conn.execute(sql.SQL("CREATE TEMP TABLE {} ({}) ON COMMIT DROP").format(sql.Identifier(name), cols))


def _copy_in(conn: psycopg.Connection, table: str, columns: list[str], data: bytes) -> None:
    stmt = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns)))
    view = memoryview(data)
    with conn.cursor().copy(stmt) as cp:
        for i in range(0, len(view), COPY_CHUNK):
            cp.write(view[i:i + COPY_CHUNK])


def _copy_out(conn: psycopg.Connection, query: sql.Composable, params, kinds: dict[str, str]) -> pa.Table:
    """The rows of `query` as an Arrow table typed by `kinds` (geometry: hex WKB strings)."""
    buf = bytearray()
    stmt = sql.SQL("COPY ({}) TO STDOUT (FORMAT csv)").format(query)
    with conn.cursor() as cur, cur.copy(stmt, params or None) as cp:
        for chunk in cp:
            buf += chunk
    schema = pa.schema([pa.field(c, ARROW_IN[k]) for c, k in kinds.items()])
    if not buf:
        return schema.empty_table()
    # PostgreSQL's CSV writes NULL as an empty unquoted field and '' as "".
    return pcsv.read_csv(
        pa.py_buffer(bytes(buf)),
        read_options=pcsv.ReadOptions(column_names=schema.names, block_size=16 << 20),
        parse_options=pcsv.ParseOptions(newlines_in_values=True),
        convert_options=pcsv.ConvertOptions(column_types=schema, strings_can_be_null=True,
                                            quoted_strings_can_be_null=False, null_values=[""],
                                            true_values=["t"], false_values=["f"]))


def _to_csv(table: pa.Table) -> bytes:
    """CSV for COPY. Timestamps go without their zone (UTC, the session's time zone:
    see `connect`), which pyarrow writes many times faster. PostgreSQL text cannot
    hold NUL: a NUL in a string (hostile or broken input) is stored as U+FFFD."""
    table = pa.table({n: c.cast(pa.timestamp("us")) if pa.types.is_timestamp(c.type) else
                      pc.replace_substring(c, "\x00", NUL_STANDIN) if pa.types.is_string(c.type) else c
                      for n, c in zip(table.column_names, table.columns)})
    sink = io.BytesIO()
    pcsv.write_csv(table, sink, pcsv.WriteOptions(include_header=False, quoting_style="needed"))
    return sink.getvalue()


def _hex(col: pa.ChunkedArray) -> pa.Array:
    """WKB as hex text (PostGIS reads it in COPY)."""
    return pa.array([None if b is None else b.hex() for b in col.to_numpy(zero_copy_only=False)], pa.string())


def _out(name: str, kind: str, *, binary: bool = False) -> sql.Composable:
    if kind == "geometry":
        wkb = "ST_AsBinary({c}) AS {c}" if binary else "encode(ST_AsBinary({c}), 'hex') AS {c}"
        return sql.SQL(wkb).format(c=sql.Identifier(name))
    return sql.Identifier(name)


def _kind(t: pa.DataType) -> str:
    if pa.types.is_timestamp(t):
        return "time"
    if pa.types.is_integer(t):
        return "int"
    if pa.types.is_floating(t):
        return "float"
    if pa.types.is_boolean(t):
        return "bool"
    return "str"


def _where_clause(cond: list[sql.Composable]) -> sql.Composable:
    return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(cond) if cond else sql.SQL("")


def _conditions(ls: LayerSpec, start, end, bbox: BBox | None, where) -> tuple[list[sql.Composable], list]:
    """The embedded store's read filters (delta._filter) as SQL, with the same checks."""
    cond: list[sql.Composable] = []
    params: list[Any] = []
    if start is not None:
        cond.append(sql.SQL("{} >= %s").format(sql.Identifier(ls.end_column or ls.time_column)))
        params.append(_ts(start).as_py())
    if end is not None:
        cond.append(sql.SQL("{} <= %s").format(sql.Identifier(ls.time_column)))
        params.append(_ts(end).as_py())
    if bbox is not None:
        minx, miny, maxx, maxy = bbox
        boxes = [(minx, miny, maxx, maxy)] if minx <= maxx else [(minx, miny, 180.0, maxy), (-180.0, miny, maxx, maxy)]
        # Points: the index test is exact. Anything else: the exact intersection (which
        # uses the index through its own && test), as the embedded store filters them.
        test = "geometry && {}" if ls.geometry_types == ("Point",) else "ST_Intersects(geometry, {})"
        env = sql.SQL("ST_MakeEnvelope(%s, %s, %s, %s, 4326)")
        cond.append(sql.SQL("(") + sql.SQL(" OR ").join(sql.SQL(test).format(env) for _ in boxes) + sql.SQL(")"))
        for b in boxes:
            params.extend(b)
    for col, val in (where or {}).items():
        if col == "geometry":
            raise StoreQueryError(f"where on {ls.name}", "a column other than geometry", col)
        kind = ls.column(col).kind
        if isinstance(val, (list, tuple, set, frozenset)):
            cond.append(sql.SQL("{} = ANY(%s::{}[])").format(sql.Identifier(col), sql.SQL(PG_TYPES[kind])))
            params.append([_param(v, kind) for v in val])
        else:
            cond.append(sql.SQL("{} = %s::{}").format(sql.Identifier(col), sql.SQL(PG_TYPES[kind])))
            params.append(_param(val, kind))
    return cond, params


def _param(v: object, kind: str) -> object:
    if v is None or _isna(v):
        return None
    if kind == "str":
        return str(v)
    if kind == "time":
        return _ts(v).as_py()
    return v.item() if isinstance(v, np.generic) else v


def _stamp(v: datetime | None) -> pd.Timestamp | None:
    return None if v is None else pd.Timestamp(v).tz_convert("UTC").as_unit("us")


_SAFE_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def with_schema(url: str, schema: str) -> str:
    """`url` with the tables kept in `schema` (search_path schema, public): for tests
    and for several watchfloor deployments in one database."""
    if not _SAFE_SCHEMA.match(schema):
        raise StoreQueryError("schema name", "lower-case letters, digits and _", schema)
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema},public"
