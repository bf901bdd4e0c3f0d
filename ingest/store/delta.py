"""The embedded store: one Delta Lake table per layer, in a folder on local disk.

Why Delta Lake (delta-rs) rather than files of our own or SQLite:
- a commit is one atomic file in the table's log, so a writer killed at any
  point leaves the last committed version readable and intact;
- readers open a snapshot (a version) and never see half a write, so a feed
  poller can write while dashboard processes read;
- `merge` gives upserts on (source, source_id) without rewriting the layer;
- data files are Parquet: a time-window read is a Parquet scan with row-group
  and file skipping, close to the speed of a plain GeoParquet read.

Geometries are stored as WKB with their envelope in four float columns
(`_minx` ...), so bounding-box queries prune files and row groups before any
geometry is decoded. `_version` orders versions of a record; `_hash` lets a
re-ingest of identical content change nothing.
"""

from __future__ import annotations

import hashlib
import json
import time as _time
from datetime import datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pds
import shapely
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import TableNotFoundError
from filelock import FileLock

from ingest.errors import SchemaError, StoreError, StoreQueryError
from ingest.schema import CRS, QUARANTINE_COLUMNS, LayerSpec, spec
from ingest.store.base import (
    ALERT_COLUMNS,
    ALERT_SEVERITIES,
    FEED_STATUS_COLUMNS,
    AlertWriteReport,
    BBox,
    FeedStatus,
    LayerStats,
    Store,
    WriteReport,
    alert_query,
    read_query,
)
from ingest.store.locks import FileLease, Lease

# Leases (Store.exclusive) are lock files here, beside the tables.
LOCKS_DIR = ".locks"

ARROW_TYPES: dict[str, pa.DataType] = {
    "str": pa.string(),
    "float": pa.float64(),
    "int": pa.int64(),
    "bool": pa.bool_(),
    "time": pa.timestamp("us", tz="UTC"),
    "geometry": pa.binary(),
}
ENVELOPE = ("_minx", "_miny", "_maxx", "_maxy")
INTERNAL = ENVELOPE + ("_version", "_hash")
QUARANTINE_TABLE = "_quarantine"
FEEDS_TABLE = "_feeds"
ALERTS_TABLE = "_alerts"
ACKS_TABLE = "_alert_acks"
# Compact a table once it has this many data files (each small write adds one).
COMPACT_AFTER_FILES = 48
# Files a compaction replaced are deleted only after this long, so a reader
# that opened the older snapshot can finish.
VACUUM_RETENTION_HOURS = 1
READ_RETRIES = 3
# Every put_alerts rewrites the files holding the keys it sees again (to move
# last_seen), so the alert tables are vacuumed every this many versions.
ALERT_VACUUM_EVERY = 50


def arrow_schema(ls: LayerSpec) -> pa.Schema:
    fields = [pa.field(c.name, ARROW_TYPES[c.kind]) for c in ls.all_columns]
    fields.append(pa.field("geometry", pa.binary()))
    fields += [pa.field(n, pa.float64()) for n in ENVELOPE]
    fields += [pa.field("_version", pa.timestamp("us", tz="UTC")), pa.field("_hash", pa.string())]
    return pa.schema(fields)


QUARANTINE_SCHEMA = pa.schema(
    [pa.field(c, pa.string()) for c in QUARANTINE_COLUMNS[:-1]]
    + [pa.field("quarantined_at", pa.timestamp("us", tz="UTC")), pa.field("_qkey", pa.string())]
)


_TS = pa.timestamp("us", tz="UTC")
FEEDS_SCHEMA = pa.schema([
    pa.field("feed", pa.string()), pa.field("kind", pa.string()), pa.field("state", pa.string()),
    pa.field("last_attempt", _TS), pa.field("last_success", _TS), pa.field("last_error", pa.string()),
    pa.field("consecutive_failures", pa.int64()), pa.field("records_last", pa.int64()),
    pa.field("quarantined_last", pa.int64()), pa.field("interval_s", pa.float64()),
    pa.field("next_attempt", _TS), pa.field("marking", pa.string()),
])

# Alerts: see DeltaStore.put_alerts for why alerts and acknowledgements are two tables.
# `status` is the liveness of the condition ("open" | "resolved"); the reported
# state also depends on the acknowledgement (Store's lifecycle comment).
ALERTS_SCHEMA = pa.schema([
    pa.field("key", pa.string()), pa.field("rule", pa.string()), pa.field("severity", pa.string()),
    pa.field("time", _TS), pa.field("subjects", pa.string()), pa.field("message", pa.string()),
    pa.field("details", pa.string()), pa.field("geometry", pa.binary()),
    pa.field("lon", pa.float64()), pa.field("lat", pa.float64()),
    pa.field("first_seen", _TS), pa.field("last_seen", _TS), pa.field("status", pa.string()),
    pa.field("_hash", pa.string()),
])
# What a later sighting of a key replaces (never key, first_seen, nor anything of the acks).
ALERT_CONTENT = ("rule", "severity", "time", "subjects", "message", "details", "geometry", "lon", "lat")
ACKS_SCHEMA = pa.schema([
    pa.field("key", pa.string()), pa.field("acknowledged_by", pa.string()),
    pa.field("acknowledged_at", _TS),
])


class DeltaStore(Store):
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = FileLock(str(self.root / ".write.lock"))

    def __repr__(self) -> str:
        return f"DeltaStore({str(self.root)!r})"

    def exclusive(self, name: str) -> Lease:
        """A file lock under the store folder: among the processes of this machine."""
        return FileLease(self.root / LOCKS_DIR, name)

    # -- writing ----------------------------------------------------------------
    def write(self, layer: str, frame: gpd.GeoDataFrame) -> WriteReport:
        ls = spec(layer)
        table = to_arrow(frame, ls)
        if table.num_rows == 0:
            return WriteReport(layer, 0, 0, 0)
        path = self._path(layer)
        with self._lock:
            dt = self._open(layer)
            if dt is None:
                write_deltalake(str(path), table, mode="append")
                return WriteReport(layer, table.num_rows, 0, 0)
            m = (
                dt.merge(
                    table,
                    predicate="t.source = s.source AND t.source_id = s.source_id",
                    source_alias="s",
                    target_alias="t",
                )
                .when_matched_update_all(predicate="s._hash <> t._hash AND s._version >= t._version")
                .when_not_matched_insert_all()
                .execute()
            )
            self._maybe_compact(layer)
        ins, upd = int(m["num_target_rows_inserted"]), int(m["num_target_rows_updated"])
        return WriteReport(layer, ins, upd, table.num_rows - ins - upd)

    def delete(self, layer: str, keys: pd.DataFrame) -> int:
        spec(layer)
        if keys.empty:
            return 0
        src = pa.table({"source": keys["source"].astype(str).tolist(), "source_id": keys["source_id"].astype(str).tolist()})
        with self._lock:
            dt = self._open(layer)
            if dt is None:
                return 0
            m = (
                dt.merge(src, predicate="t.source = s.source AND t.source_id = s.source_id",
                         source_alias="s", target_alias="t")
                .when_matched_delete()
                .execute()
            )
        return int(m["num_target_rows_deleted"])

    def quarantine(self, records: pd.DataFrame) -> int:
        if records is None or records.empty:
            return 0
        missing = [c for c in QUARANTINE_COLUMNS if c not in records]
        if missing:
            raise SchemaError("quarantine", f"columns {QUARANTINE_COLUMNS}", f"missing {missing}")
        data = {c: [None if _isna(v) else str(v) for v in records[c]] for c in QUARANTINE_COLUMNS[:-1]}
        qat = pd.to_datetime(records["quarantined_at"], utc=True).astype("datetime64[us, UTC]")
        keys = [
            hashlib.sha1("\x1f".join(str(data[c][i]) for c in ("layer", "source", "source_id", "reason", "raw"))
                         .encode()).hexdigest()
            for i in range(len(records))
        ]
        table = pa.table({**data, "quarantined_at": pa.array(qat), "_qkey": keys}, schema=QUARANTINE_SCHEMA)
        table = table.take(pa.array(np.unique(keys, return_index=True)[1]))
        with self._lock:
            dt = self._open(QUARANTINE_TABLE)
            if dt is None:
                write_deltalake(str(self._path(QUARANTINE_TABLE)), table, mode="append")
                return table.num_rows
            m = (
                dt.merge(table, predicate="t._qkey = s._qkey", source_alias="s", target_alias="t")
                .when_not_matched_insert_all()
                .execute()
            )
            self._maybe_compact(QUARANTINE_TABLE)
        return int(m["num_target_rows_inserted"])

    def _maybe_compact(self, name: str) -> None:
        dt = DeltaTable(str(self._path(name)))
        if len(dt.file_uris()) < COMPACT_AFTER_FILES:
            return
        dt.optimize.compact()
        dt.vacuum(retention_hours=VACUUM_RETENTION_HOURS, enforce_retention_duration=False, dry_run=False)

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
        expr = _filter(ls, start, end, bbox, where)
        table = self._scan(layer, expr, wanted)
        if table is None:
            return empty_layer(ls, wanted)
        frame = from_arrow(table, ls)
        if bbox is not None and not all(g in ("Point",) for g in ls.geometry_types) and len(frame):
            frame = frame[frame.intersects(_bbox_geometry(bbox))]
        return frame

    def quarantined(self, layer: str | None = None, source: str | None = None,
                    limit: int | None = None) -> pd.DataFrame:
        dt = self._open(QUARANTINE_TABLE)
        if dt is None:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in QUARANTINE_COLUMNS})
        expr = None
        for col, val in (("layer", layer), ("source", source)):
            if val is not None:
                e = pds.field(col).cast(pa.string()) == val
                expr = e if expr is None else expr & e
        df = dt.to_pyarrow_dataset().to_table(filter=expr, columns=QUARANTINE_COLUMNS).to_pandas()
        df = df.sort_values("quarantined_at", ascending=False, kind="stable").reset_index(drop=True)
        return df.head(limit) if limit else df

    def stats(self, layer: str) -> LayerStats:
        ls = spec(layer)
        dt = self._open(layer)
        if dt is None:
            return LayerStats(layer, 0, None, None)
        actions = pa.table(dt.get_add_actions(flatten=True))
        count = int(pc.sum(actions["num_records"]).as_py() or 0)
        newest = None
        col = f"max.{ls.end_column or ls.time_column}" if ls.time_column else None
        if col and col in actions.column_names:
            newest = pc.max(actions[col]).as_py()
        hist = dt.history(1)
        last = pd.Timestamp(hist[0]["timestamp"], unit="ms", tz="UTC") if hist else None
        return LayerStats(layer, count, pd.Timestamp(newest) if newest is not None else None, last)

    def put_feed_status(self, status: FeedStatus) -> None:
        row = {f: [getattr(status, f)] for f in FEED_STATUS_COLUMNS}
        for f in ("last_attempt", "last_success", "next_attempt"):
            row[f] = [None if row[f][0] is None else pd.Timestamp(row[f][0]).tz_convert("UTC").as_unit("us")]
        table = pa.table(row, schema=FEEDS_SCHEMA)
        with self._lock:
            dt = self._open(FEEDS_TABLE)
            if dt is None:
                write_deltalake(str(self._path(FEEDS_TABLE)), table, mode="append")
                return
            # merge_schema: a feeds table written before a column existed gains it here
            (dt.merge(table, predicate="t.feed = s.feed", source_alias="s", target_alias="t", merge_schema=True)
             .when_matched_update_all().when_not_matched_insert_all().execute())
            self._maybe_compact(FEEDS_TABLE)

    def feed_status(self) -> pd.DataFrame:
        dt = self._open(FEEDS_TABLE)
        if dt is None:
            return FEEDS_SCHEMA.empty_table().to_pandas()
        frame = dt.to_pyarrow_dataset().to_table().to_pandas()
        for name in FEEDS_SCHEMA.names:  # a table from before a column existed
            if name not in frame:
                frame[name] = None
        return frame[FEEDS_SCHEMA.names].sort_values("feed").reset_index(drop=True)

    # -- alerts -----------------------------------------------------------------
    # Two tables, `_alerts` (one row per key: the finding as last seen, first/last
    # seen, open/resolved) and `_alert_acks` (one row per acknowledged key), rather
    # than acknowledgement columns in `_alerts`:
    # - put_alerts and resolve_missing rewrite `_alerts` rows by merge; they never
    #   write `_alert_acks`, so no refresh, however it races an acknowledgement
    #   (even one by a writer that did not take our lock), can write an old "not
    #   acknowledged" over a new acknowledgement: there is no ack column for a
    #   merge to copy;
    # - `_alert_acks` is insert-only (a merge that only inserts unmatched keys), so
    #   the first acknowledgement wins by construction and is never rewritten;
    # - it stays tiny and changes only when a person clicks, while `_alerts` is
    #   rewritten on every evaluation; reading both and joining thousands of rows
    #   by key costs about a millisecond.
    # Reads open each table at its latest snapshot; acks only ever grow, so the
    # worst a reader between two commits sees is an ack one refresh late.

    def put_alerts(self, findings: gpd.GeoDataFrame, *, now: datetime | None = None) -> AlertWriteReport:
        now_ts = _when(now, "put_alerts now")
        table = alerts_to_arrow(findings, now_ts)
        n = table.num_rows
        if n == 0:
            return AlertWriteReport(0, 0, 0)
        with self._lock:
            dt = self._open(ALERTS_TABLE)
            if dt is None:
                write_deltalake(str(self._path(ALERTS_TABLE)), table, mode="append")
                return AlertWriteReport(n, 0, 0)
            # What the stored rows are, to tell new / changed / same (the merge's own
            # metrics count every last_seen bump as an update).
            old = dt.to_pyarrow_dataset().to_table(
                filter=_sfield("key").isin(table.column("key")),
                columns=["key", "_hash", "status", "last_seen"]).to_pandas()
            (dt.merge(table, predicate="t.key = s.key", source_alias="s", target_alias="t")
             .when_matched_update(
                 updates={**{c: f"s.{c}" for c in ALERT_CONTENT}, "last_seen": "s.last_seen",
                          "_hash": "s._hash", "status": "'open'"},
                 predicate="s.last_seen >= t.last_seen")
             .when_not_matched_insert_all()
             .execute())
            self._maybe_compact(ALERTS_TABLE)
            self._maybe_vacuum(ALERTS_TABLE)
        if old.empty:
            return AlertWriteReport(n, 0, 0)
        new_hash = dict(zip(table.column("key").to_pylist(), table.column("_hash").to_pylist()))
        applies = old["last_seen"] <= now_ts
        changed = applies & ((old["_hash"] != old["key"].map(new_hash)) | (old["status"] != "open"))
        updated = int(changed.sum())
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
        parts: list[pds.Expression] = []
        if since is not None:
            parts.append(pds.field("time") >= _ts(since))
        if rules is not None:
            parts.append(_sfield("rule").isin(rules))
        if states is not None and "resolved" not in states:
            parts.append(_sfield("status") == "open")
        elif states is not None and set(states) == {"resolved"}:
            parts.append(_sfield("status") == "resolved")
        expr = None
        for p in parts:
            expr = p if expr is None else expr & p
        wanted = [c for c in ALERTS_SCHEMA.names if c not in ("lon", "lat", "_hash")]
        table = self._scan(ALERTS_TABLE, expr, wanted)
        if table is None or table.num_rows == 0:
            return empty_alerts()
        acks = self._scan(ACKS_TABLE, None, ACKS_SCHEMA.names)
        if acks is None:
            acks = ACKS_SCHEMA.empty_table()
        table = table.join(acks.cast(ACKS_SCHEMA), keys="key", join_type="left outer")
        status = table.column("status")
        acked = pc.is_valid(table.column("acknowledged_at"))
        state = pc.if_else(pc.equal(status, "resolved"), "resolved",
                           pc.if_else(acked, "acknowledged", "open"))
        table = table.append_column("state", state.cast(pa.string()))
        if states is not None:
            table = table.filter(pc.is_in(table.column("state"), pa.array(states, pa.string())))
        table = table.sort_by([("time", "descending"), ("key", "ascending")])
        if limit is not None:
            table = table.slice(0, limit)
        return alerts_from_arrow(table)

    def acknowledge(self, key: str, by: str, *, at: datetime | None = None) -> bool:
        at_ts = _when(at, "acknowledge at")
        if not str(by or "").strip():
            raise StoreQueryError("acknowledge by", "who acknowledged (a non-empty name)", by)
        row = pa.table({"key": [str(key)], "acknowledged_by": [str(by)],
                        "acknowledged_at": [at_ts.to_pydatetime()]}, schema=ACKS_SCHEMA)
        with self._lock:
            alerts = self._open(ALERTS_TABLE)
            match = _sfield("key") == str(key)
            if alerts is None or alerts.to_pyarrow_dataset().count_rows(filter=match) == 0:
                return False
            dt = self._open(ACKS_TABLE)
            if dt is None:
                write_deltalake(str(self._path(ACKS_TABLE)), row, mode="append")
                return True
            if dt.to_pyarrow_dataset().count_rows(filter=match):
                return True  # acknowledged before: the first acknowledgement stands
            (dt.merge(row, predicate="t.key = s.key", source_alias="s", target_alias="t")
             .when_not_matched_insert_all().execute())
            self._maybe_compact(ACKS_TABLE)
        return True

    def resolve_missing(self, active_keys: set[str], *, rules: list[str] | None = None,
                        now: datetime | None = None) -> int:
        now_ts = _when(now, "resolve_missing now")
        expr = (_sfield("status") == "open") & (pds.field("last_seen") < _ts(now_ts))
        if rules is not None:
            rules = [rules] if isinstance(rules, str) else list(rules)
            expr = expr & _sfield("rule").isin(rules)
        active = pa.array(sorted({str(k) for k in active_keys}), pa.string())
        with self._lock:
            dt = self._open(ALERTS_TABLE)
            if dt is None:
                return 0
            live = dt.to_pyarrow_dataset().to_table(filter=expr, columns=["key"]).column("key")
            live = live.cast(pa.string())
            gone = live.filter(pc.invert(pc.is_in(live, active)))
            if len(gone) == 0:
                return 0
            src = pa.table({"key": gone, "last_seen": pa.array([now_ts.to_pydatetime()] * len(gone), _TS)})
            m = (dt.merge(src, predicate="t.key = s.key", source_alias="s", target_alias="t")
                 .when_matched_update(updates={"status": "'resolved'"},
                                      predicate="t.status = 'open' AND t.last_seen < s.last_seen")
                 .execute())
            self._maybe_compact(ALERTS_TABLE)
            self._maybe_vacuum(ALERTS_TABLE)
        return int(m["num_target_rows_updated"])

    def prune_alerts(self, resolved_before: datetime) -> int:
        cutoff = _when(resolved_before, "prune_alerts resolved_before")
        expr = (_sfield("status") == "resolved") & (pds.field("last_seen") < _ts(cutoff))
        with self._lock:
            dt = self._open(ALERTS_TABLE)
            if dt is None:
                return 0
            gone = dt.to_pyarrow_dataset().to_table(filter=expr, columns=["key"]).column("key").cast(pa.string())
            if len(gone) == 0:
                return 0
            src = pa.table({"key": gone})
            # by key, and only if still resolved: an evaluation that re-opened one in between keeps it
            (dt.merge(src, predicate="t.key = s.key", source_alias="s", target_alias="t")
             .when_matched_delete(predicate="t.status = 'resolved'").execute())
            acks = self._open(ACKS_TABLE)
            if acks is not None:
                (acks.merge(src, predicate="t.key = s.key", source_alias="s", target_alias="t")
                 .when_matched_delete().execute())
            self._maybe_vacuum(ALERTS_TABLE)
        return len(gone)

    def version(self, layer: str) -> int:
        """The table version: changes whenever the layer does (a cheap cache key)."""
        dt = self._open(layer)
        return -1 if dt is None else dt.version()

    # -- helpers ----------------------------------------------------------------
    def _scan(self, name: str, expr: pds.Expression | None, columns: list[str] | None) -> pa.Table | None:
        """The rows of table `name` meeting `expr`, or None if there is no table yet."""
        for attempt in range(READ_RETRIES):
            dt = self._open(name)
            if dt is None:
                return None
            try:
                return dt.to_pyarrow_dataset().to_table(filter=expr, columns=columns)
            except (FileNotFoundError, OSError) as exc:  # a vacuum removed an old snapshot's file
                if attempt == READ_RETRIES - 1:
                    raise StoreError(f"reading {name}: {exc}") from exc
                _time.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")

    def _maybe_vacuum(self, name: str) -> None:
        """Delete files that commits replaced, every ALERT_VACUUM_EVERY versions of
        a table that is rewritten in place (the alerts)."""
        dt = DeltaTable(str(self._path(name)))
        if dt.version() % ALERT_VACUUM_EVERY:
            return
        dt.vacuum(retention_hours=VACUUM_RETENTION_HOURS, enforce_retention_duration=False, dry_run=False)

    def _path(self, name: str) -> Path:
        return self.root / name

    def _open(self, name: str) -> DeltaTable | None:
        path = self._path(name)
        if not (path / "_delta_log").is_dir():
            return None
        try:
            return DeltaTable(str(path))
        except TableNotFoundError:
            return None


def to_arrow(frame: gpd.GeoDataFrame, ls: LayerSpec) -> pa.Table:
    """A conformed frame as the layer's Arrow table, with envelope, version and hash."""
    missing = [c for c in ls.column_names if c not in frame]
    if missing:
        raise SchemaError(ls.name, f"the conformed columns {ls.column_names}", f"missing {missing}")
    n = len(frame)
    geoms = np.asarray(frame.geometry.values, dtype=object)
    arrays: dict[str, pa.Array] = {}
    for c in ls.all_columns:
        s = frame[c.name]
        if c.kind == "geometry":
            arrays[c.name] = pa.array(shapely.to_wkb(np.asarray(s.values, dtype=object)), pa.binary())
        elif c.kind == "time":
            arrays[c.name] = pa.array(pd.to_datetime(s, utc=True).astype("datetime64[us, UTC]"),
                                      ARROW_TYPES["time"])
        else:
            arrays[c.name] = pa.array(s, ARROW_TYPES[c.kind], from_pandas=True)
    wkb = shapely.to_wkb(geoms)
    arrays["geometry"] = pa.array(wkb, pa.binary())
    bounds = shapely.bounds(geoms) if n else np.empty((0, 4))
    for i, name in enumerate(ENVELOPE):
        arrays[name] = pa.array(bounds[:, i], pa.float64())
    # A record's version: its own update time, else its event time, else when we stored it.
    version = pd.to_datetime(frame["ingested_at"], utc=True)
    for col in (ls.time_column, ls.version_column):
        if col and col != "ingested_at" and col in frame:
            version = pd.to_datetime(frame[col], utc=True).fillna(version)
    arrays["_version"] = pa.array(version.astype("datetime64[us, UTC]"), pa.timestamp("us", tz="UTC"))
    table = pa.table(arrays)
    content = table.drop_columns(["ingested_at", "_version"])
    arrays["_hash"] = _row_hashes(content)
    return pa.table(arrays, schema=arrow_schema(ls))


def _row_hashes(table: pa.Table) -> pa.Array:
    """A content hash per row, so re-ingesting identical records changes nothing.

    The values are those of `pd.util.hash_pandas_object` per column (stored
    hashes must keep matching), computed with less work where that is exact:
    strings that repeat are factorized by Arrow and only the distinct values
    hashed; mostly distinct ones (ids) and binary values are hashed without
    categorizing them first (hash_array's categorize=True takes the same values,
    and gives missing ones the maximum, as here).
    """
    h = np.zeros(table.num_rows, dtype=np.uint64)
    for i, col in enumerate(table.columns):
        if (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)) and _repetitive(col):
            codes, uniques = pd.factorize(pd.Series(col.to_pandas(), copy=False))
            part = _hash_codes(codes, np.asarray(uniques, dtype=object))
        elif col.type == pa.binary() or pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            values = col.to_numpy(zero_copy_only=False)
            present = pc.is_valid(col).to_numpy(zero_copy_only=False)
            part = np.full(len(values), np.iinfo(np.uint64).max, dtype=np.uint64)
            part[present] = pd.util.hash_array(values[present], categorize=False)
        else:
            ser = pd.Series(col.to_pandas(), copy=False)
            part = pd.util.hash_pandas_object(ser, index=False).to_numpy(np.uint64)
        h = h * np.uint64(1_000_003) ^ (part + np.uint64(i))
    return _hex16(h)


def _repetitive(col: pa.ChunkedArray) -> bool:
    """Whether a column repeats its values (worth factorizing before hashing) or is
    mostly distinct (ids: hash each value), judged on its first thousand values."""
    head = col.slice(0, 1000)
    return len(head) == 0 or pc.count_distinct(head, mode="all").as_py() <= len(head) // 2


def _hash_codes(codes: np.ndarray, uniques: np.ndarray) -> np.ndarray:
    """hash_array(values) from the values' factorization (missing values: code -1)."""
    hashed = pd.util.hash_array(uniques, categorize=False) if len(uniques) else np.zeros(0, np.uint64)
    part = hashed.take(np.where(codes < 0, 0, codes)) if len(hashed) else np.zeros(len(codes), np.uint64)
    part[codes < 0] = np.iinfo(np.uint64).max
    return part


_HEX = np.array([f"{b:02x}".encode() for b in range(256)], dtype="S2")


def _hex16(values: np.ndarray) -> pa.Array:
    """Each uint64 as 16 lower-case hex digits (f"{v:016x}"), as an Arrow string array."""
    digits = _HEX[values.astype(">u8").view(np.uint8).reshape(-1, 8)]  # (n, 8) two-digit pieces
    data = np.ascontiguousarray(digits).view(np.uint8).reshape(-1)
    offsets = np.arange(0, 16 * len(values) + 1, 16, dtype=np.int32)
    return pa.StringArray.from_buffers(len(values), pa.py_buffer(offsets), pa.py_buffer(data))


def from_arrow(table: pa.Table, ls: LayerSpec) -> gpd.GeoDataFrame:
    table = table.drop_columns([c for c in INTERNAL if c in table.column_names])
    geom = table.column("geometry").to_numpy(zero_copy_only=False)
    rest = table.drop_columns(["geometry"])
    extra = [c for c in ls.extra_geometry_columns if c in rest.column_names]
    df = rest.drop_columns(extra).to_pandas(types_mapper=_pandas_type)
    for c in extra:
        df[c] = gpd.GeoSeries(shapely.from_wkb(rest.column(c).to_numpy(zero_copy_only=False)), crs=CRS)
    order = [c for c in ls.column_names if c in df.columns or c == "geometry"]
    out = gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(shapely.from_wkb(geom), crs=CRS), crs=CRS)
    return out[order]


def _pandas_type(t: pa.DataType):
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return pd.StringDtype()
    if pa.types.is_int64(t):
        return pd.Int64Dtype()
    if pa.types.is_boolean(t):
        return pd.BooleanDtype()
    return None


def empty_layer(ls: LayerSpec, columns: list[str] | None = None) -> gpd.GeoDataFrame:
    return from_arrow(arrow_schema(ls).empty_table(), ls)[columns or ls.column_names]


def _filter(ls: LayerSpec, start, end, bbox: BBox | None, where) -> pds.Expression | None:
    parts: list[pds.Expression] = []
    if start is not None:
        parts.append(pds.field(ls.end_column or ls.time_column) >= _ts(start))
    if end is not None:
        parts.append(pds.field(ls.time_column) <= _ts(end))
    if bbox is not None:
        minx, miny, maxx, maxy = bbox
        lat = (pds.field("_maxy") >= miny) & (pds.field("_miny") <= maxy)
        if minx <= maxx:
            lon = (pds.field("_maxx") >= minx) & (pds.field("_minx") <= maxx)
        else:  # crosses the antimeridian
            lon = (pds.field("_maxx") >= minx) | (pds.field("_minx") <= maxx)
        parts.append(lat & lon)
    for col, val in (where or {}).items():
        field = _field(ls, col)
        if isinstance(val, (list, tuple, set, frozenset)):
            parts.append(field.isin(list(val)))
        else:
            parts.append(field == val)
    if not parts:
        return None
    expr = parts[0]
    for p in parts[1:]:
        expr = expr & p
    return expr


def _field(ls: LayerSpec, col: str) -> pds.Expression:
    """A column in a filter. Files written by delta-rs's merge store strings as
    string_view, which pyarrow cannot compare with the string statistics of
    other files; a cast to string makes every file comparable."""
    field = pds.field(col)
    if col == "geometry" or ls.column(col).kind != "str":
        return field
    return field.cast(pa.string())


def _sfield(col: str) -> pds.Expression:
    """A string column in a filter of the internal tables (see `_field`)."""
    return pds.field(col).cast(pa.string())


def alerts_to_arrow(findings: gpd.GeoDataFrame, now: pd.Timestamp) -> pa.Table:
    """Findings as `_alerts` rows first and last seen at `now`, one per key (the
    newest `time` of a key wins, the last row on a tie)."""
    if findings is None or len(findings) == 0:
        return ALERTS_SCHEMA.empty_table()
    required = ["key", "rule", "severity", "time"]
    missing = [c for c in required if c not in findings]
    if missing:
        raise SchemaError("alerts", f"finding columns {required} (+ subjects, message, details, geometry)",
                          f"missing {missing}")
    n = len(findings)
    df = pd.DataFrame({"key": findings["key"], "rule": findings["rule"], "severity": findings["severity"]})
    if df[["key", "rule", "severity"]].isna().any().any():
        raise SchemaError("alerts", "a key, rule and severity on every finding", "missing values")
    df = df.astype(str)
    bad = sorted(set(df["severity"]) - set(ALERT_SEVERITIES))
    if bad:
        raise SchemaError("alerts", f"severity one of {list(ALERT_SEVERITIES)}", bad)
    try:
        df["time"] = pd.to_datetime(findings["time"], utc=True).astype("datetime64[us, UTC]")
    except (ValueError, TypeError) as exc:
        raise SchemaError("alerts", "a time on every finding", str(exc)) from exc
    if df["time"].isna().any():
        raise SchemaError("alerts", "a time on every finding", "missing times")
    for c, empty in (("subjects", "[]"), ("message", ""), ("details", "{}")):
        if c not in findings:
            df[c] = empty
        elif pd.api.types.is_string_dtype(findings[c]) and not findings[c].isna().any():
            df[c] = findings[c].astype(str)
        else:  # lists and dicts as JSON (they should already be JSON text)
            df[c] = [empty if _isna(v) else v if isinstance(v, str) else json.dumps(v, default=str)
                     for v in findings[c]]
    if isinstance(findings, gpd.GeoDataFrame) and findings._geometry_column_name in findings:
        geo = findings.geometry
        if geo.crs is not None and not geo.crs.equals(CRS):
            geo = geo.to_crs(CRS)
        geoms = np.asarray(geo.values, dtype=object)
    elif "geometry" in findings:
        geoms = np.asarray(findings["geometry"], dtype=object)
    else:
        geoms = np.full(n, None, dtype=object)
    df = df.reset_index(drop=True)
    # One row per key: the newest time, the last given on a tie.
    order = df.reset_index().sort_values(["time", "index"], kind="stable").drop_duplicates("key", keep="last")
    keep = order["index"].to_numpy()
    df, geoms = df.iloc[keep].reset_index(drop=True), geoms[keep]
    wkb = shapely.to_wkb(geoms)
    centre = shapely.point_on_surface(geoms)
    content = pa.table({
        "rule": pa.array(df["rule"], pa.string()), "severity": pa.array(df["severity"], pa.string()),
        "time": pa.array(df["time"], _TS), "subjects": pa.array(df["subjects"], pa.string()),
        "message": pa.array(df["message"], pa.string()), "details": pa.array(df["details"], pa.string()),
        "geometry": pa.array(wkb, pa.binary()),
    })
    m = len(df)
    seen = pa.array([now.to_pydatetime()] * m, _TS)
    return pa.table({
        "key": pa.array(df["key"], pa.string()), **{c: content.column(c) for c in content.column_names},
        "lon": pa.array(shapely.get_x(centre), pa.float64()),
        "lat": pa.array(shapely.get_y(centre), pa.float64()),
        "first_seen": seen, "last_seen": seen, "status": pa.array(["open"] * m, pa.string()),
        "_hash": _row_hashes(content),
    }, schema=ALERTS_SCHEMA)


def alerts_from_arrow(table: pa.Table) -> gpd.GeoDataFrame:
    geom = shapely.from_wkb(table.column("geometry").to_numpy(zero_copy_only=False))
    rest = table.select([c for c in ALERT_COLUMNS if c != "geometry"])
    # merge-written files may come back as string_view (see `_field`): plain strings for pandas
    plain = pa.schema([pa.field(f.name, pa.string() if pa.types.is_string_view(f.type) else f.type)
                       for f in rest.schema])
    df = rest.cast(plain).to_pandas(types_mapper=_pandas_type)
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geom, crs=CRS), crs=CRS)[ALERT_COLUMNS]


def empty_alerts() -> gpd.GeoDataFrame:
    acks = ACKS_SCHEMA.empty_table()
    table = ALERTS_SCHEMA.empty_table()
    for f in acks.schema:
        if f.name != "key":
            table = table.append_column(f, acks.column(f.name))
    return alerts_from_arrow(table.append_column("state", pa.array([], pa.string())))


def _when(value: datetime | None, what: str) -> pd.Timestamp:
    """A tz-aware instant as UTC microseconds; None is now."""
    if value is None:
        return pd.Timestamp.now(tz="UTC").as_unit("us")
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:
        raise StoreQueryError(what, "a tz-aware time", value)
    return ts.tz_convert("UTC").as_unit("us")


def _bbox_geometry(bbox: BBox) -> shapely.Geometry:
    minx, miny, maxx, maxy = bbox
    if minx <= maxx:
        return shapely.box(minx, miny, maxx, maxy)
    return shapely.union(shapely.box(minx, miny, 180, maxy), shapely.box(-180, miny, maxx, maxy))


def _ts(value: datetime) -> pa.Scalar:
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:
        raise StoreQueryError("time window", "a tz-aware time", value)
    return pa.scalar(ts.tz_convert("UTC").as_unit("us"), pa.timestamp("us", tz="UTC"))


def _isna(v: object) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False
