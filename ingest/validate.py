"""Split any incoming frame into rows that meet a layer's schema and rows that do not.

Adapters hand over rows with canonical column names but raw values (time
strings as found, geometries as built). This module is the one place where
loose input is normalised and judged, so every feed gets the same rules:

- geometry: present, not empty, no NaN, in lon/lat range (a point whose lat is
  beyond 90 while its lon would fit is called out as swapped), of the layer's
  type, valid (or repaired with `make_valid` and flagged in `geometry_fix`);
- CRS: known, and reprojected to EPSG:4326;
- times: parsed to tz-aware UTC; naive local times are refused rather than
  guessed, since a wrong guess moves an incident by hours;
- required values present, closed vocabularies respected, numbers numeric.

Everything is vectorised: a million track points validate in a few seconds.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from pandas.api.types import infer_dtype
from pyproj import CRS as ProjCRS
from pyproj.exceptions import CRSError

from ingest import reasons
from ingest.errors import SchemaError
from ingest.precision import on_grid
from ingest.schema import (
    CRS,
    DEFAULT_EARLIEST_TIME,
    EARLIEST_TIME,
    PANDAS_DTYPES,
    QUARANTINE_COLUMNS,
    Conformed,
    LayerSpec,
    spec,
)

_TZ_SUFFIX = re.compile(r"(?:[zZ]|[+-]\d{2}(?::?\d{2})?|UTC|GMT)\s*$")  # RE2-compatible: runs in Arrow
_NUMERIC = re.compile(r"^\s*-?\d+(?:\.\d+)?\s*$")


def validate(
    frame: pd.DataFrame,
    layer: str,
    *,
    source: str | None = None,
    default_marking: str | None = None,
    now: datetime | None = None,
) -> Conformed:
    """Return the conforming rows (canonical columns and dtypes) and the quarantined ones.

    `source` fills a missing source column; `default_marking` fills records
    that carry no marking (the source's declared default). Every input row ends
    up in exactly one of the two outputs, except older duplicates of a key in
    the same batch, which are superseded by the newest (counted in `notes`).
    """
    ls = spec(layer)
    if not isinstance(frame, pd.DataFrame) or "geometry" not in frame:
        raise SchemaError(layer, "a GeoDataFrame with a 'geometry' column", type(frame).__name__)
    now = now or datetime.now(UTC)
    raw = frame
    # Copy-on-write (pandas 3): a shallow copy is enough, our edits never reach `frame`.
    df = pd.DataFrame(frame).copy(deep=False)
    df.index = pd.RangeIndex(len(df))
    n = len(df)
    reason = np.full(n, None, dtype=object)
    detail = np.full(n, None, dtype=object)
    flagged = np.zeros(n, dtype=bool)  # == pd.notna(reason), kept so each flag is cheap
    notes: list[str] = []

    def flag(mask: np.ndarray, code: str, text: str | np.ndarray) -> None:
        new = mask & ~flagged
        if not new.any():
            return
        flagged[new] = True
        reason[new] = code
        detail[new] = text[new] if isinstance(text, np.ndarray) else text

    # --- provenance ---------------------------------------------------------
    if "source" not in df:
        df["source"] = source
    elif source is not None:
        df["source"] = df["source"].where(df["source"].notna(), source)
    if "marking" not in df:
        df["marking"] = None
    if default_marking is not None:
        blank = df["marking"].isna() | (df["marking"].astype("string").str.strip() == "")
        df.loc[blank, "marking"] = default_marking
    df["ingested_at"] = pd.Timestamp(now).tz_convert("UTC") if pd.Timestamp(now).tzinfo else pd.Timestamp(now, tz="UTC")
    if "source_id" not in df:
        df["source_id"] = None
    sid = _as_string(df["source_id"]).str.strip()
    flag(np.asarray(sid.isna() | (sid == "")), reasons.MISSING_SOURCE_ID, "source_id is empty")
    df["source_id"] = sid

    # --- CRS ------------------------------------------------------------------
    geoms = _geometry_array(frame, "geometry")
    crs = getattr(frame, "crs", None)
    if crs is None:
        flag(np.ones(n, bool), reasons.MISSING_CRS, "the input declares no CRS; expected EPSG:4326 or a known CRS")
    else:
        geoms, bad = _to_4326(geoms, crs)
        if bad:
            flag(np.ones(n, bool), reasons.UNKNOWN_CRS, f"cannot transform from CRS {crs!s:.80}: {bad}")
    for extra in ls.extra_geometry_columns:
        if extra in df:
            eg = _geometry_array(frame, extra)
            ecrs = getattr(frame[extra], "crs", None) if isinstance(frame, gpd.GeoDataFrame) else None
            if ecrs is not None:
                eg, _ = _to_4326(eg, ecrs)
            df[extra] = eg

    # --- geometry -------------------------------------------------------------
    # A repair recorded earlier (our own export read back) is kept: it is part of the record.
    fix = (np.array(df["geometry_fix"].astype(object).where(df["geometry_fix"].notna(), None), dtype=object)
           if "geometry_fix" in df else np.full(n, None, dtype=object))  # a copy: repairs are written in
    geoms, fix = _check_geometry(geoms, ls, flag, fix, reason)

    # --- attributes -----------------------------------------------------------
    for col in ls.all_columns:
        if col.name in ("ingested_at", "geometry_fix") or col.kind == "geometry":
            continue
        if col.name not in df:
            df[col.name] = None
            if col.required:
                flag(np.ones(n, bool), reasons.MISSING_VALUE if col.kind != "time" else reasons.MISSING_TIME,
                     f"column {col.name!r} is absent")
            continue
        s = df[col.name]
        if col.kind == "time":
            parsed, why, what = parse_times(s)
            df[col.name] = parsed
            judged = (why != "").to_numpy(dtype=bool)
            if col.required:
                flag(parsed.isna().to_numpy() & ~judged, reasons.MISSING_TIME, f"{col.name} is empty")
            for code in (reasons.NAIVE_TIME, reasons.UNPARSEABLE_TIME) if judged.any() else ():
                m = np.asarray(why == code)
                if m.any():
                    flag(m, code, np.asarray(f"{col.name}: " + what.astype(str), dtype=object))
            earliest = EARLIEST_TIME.get(layer, DEFAULT_EARLIEST_TIME)
            early = (parsed < earliest).to_numpy(dtype=bool, na_value=False)
            if early.any():
                flag(early, reasons.IMPLAUSIBLE_TIME, np.asarray(
                    f"{col.name}: expected a time after {earliest:%Y-%m-%d}; found "
                    + parsed.dt.strftime("%Y-%m-%dT%H:%M:%SZ").fillna(""), dtype=object))
        elif col.kind in ("float", "int"):
            num = pd.to_numeric(s, errors="coerce")
            bad = (num.isna() & s.notna()).to_numpy(dtype=bool, copy=True)
            if bad.any():  # judge only what did not convert: text of a million floats costs seconds
                bad[bad] = (_as_string(s[bad]).str.strip() != "").to_numpy(dtype=bool)
            if bad.any():
                flag(bad, reasons.BAD_VALUE, np.asarray(f"{col.name}: not a number: " + s.astype(str), dtype=object))
            if col.kind == "int":
                whole = num.isna() | (num == np.round(num))
                flag(np.asarray(~whole), reasons.BAD_VALUE, f"{col.name}: not a whole number")
                num = num.where(whole)
            if col.required:
                flag(np.asarray(num.isna()), reasons.MISSING_VALUE, f"{col.name} is empty")
            df[col.name] = num
        elif col.kind == "bool":
            df[col.name] = s.astype("boolean")
        else:  # str
            txt = _as_string(s).str.strip()
            txt = txt.where(txt != "")
            if col.allowed is not None:
                low = txt.str.lower()
                bad = np.asarray(low.notna() & ~low.isin(col.allowed))
                if bad.any():
                    flag(bad, reasons.BAD_VALUE, np.asarray(
                        f"{col.name}: expected one of {', '.join(a for a in col.allowed if a)}; found " + txt.astype(str),
                        dtype=object))
                txt = low
            if col.required and col.name not in ("source_id",):
                flag(np.asarray(txt.isna()), reasons.MISSING_VALUE, f"{col.name} is empty")
            df[col.name] = txt
    _check_ranges(df, flag)
    if layer == "track_points":
        _check_same_time_elsewhere(df, geoms, flagged, flag)

    # --- split ---------------------------------------------------------------
    bad_rows = flagged
    quarantined = _quarantine_rows(raw, bad_rows, reason, detail, layer, df, now)
    good = df.loc[~bad_rows].copy() if bad_rows.any() else df
    good["geometry_fix"] = pd.array(fix[~bad_rows], dtype="string")
    good_geoms = on_grid(geoms[~bad_rows])  # the store's grid: what goes out in text comes back equal
    for extra in ls.extra_geometry_columns:
        if extra in good:
            good[extra] = on_grid(good[extra].to_numpy(dtype=object))
    dropped = [c for c in good.columns if c not in ls.column_names]
    if dropped:
        notes.append(f"columns not in the {layer} schema were not stored: {', '.join(map(str, dropped))}")
    out = _canonical(good, good_geoms, ls)
    before = len(out)
    out = dedupe_keys(out, ls)
    if len(out) < before:
        notes.append(f"{before - len(out)} older duplicate(s) of a key in this batch superseded by the newest")
    return Conformed(out, quarantined, repaired=int(pd.notna(out["geometry_fix"]).sum()), notes=notes)


def dedupe_keys(frame: gpd.GeoDataFrame, ls: LayerSpec) -> gpd.GeoDataFrame:
    """Keep one row per (source, source_id): the newest version, the last one on ties."""
    if frame.empty:
        return frame
    src = frame["source"]
    if src.notna().all() and (src == src.iloc[0]).all():  # one source (the usual case):
        dup = frame["source_id"].duplicated()            # no need to hash it a million times
    else:
        dup = frame[["source", "source_id"]].duplicated()
    if not dup.any():
        return frame
    order = frame.assign(_pos=np.arange(len(frame)))
    vcol = ls.version_column
    sort_cols = [vcol, "_pos"] if vcol in frame else ["_pos"]
    order = order.sort_values(sort_cols, na_position="first", kind="stable")
    order = order.drop_duplicates(["source", "source_id"], keep="last").sort_values("_pos")
    return order.drop(columns="_pos")


def parse_times(s: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Parse a column of times to UTC.

    Returns (parsed, why, what): `why` is "" for a good or empty value, else a
    reason code; `what` is the offending original text where `why` is set (""
    elsewhere: writing out a million good times cost seconds). Accepts ISO 8601 with
    Z or an offset, epoch seconds or milliseconds, tz-aware datetimes; refuses
    naive times rather than guessing their zone. Strings are handled as Arrow
    strings, so a million ISO times parse in well under a second.
    """
    idx = s.index
    why = pd.Series("", index=idx, dtype=object)
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return s.dt.tz_convert("UTC").astype("datetime64[us, UTC]"), why, why
    if pd.api.types.is_datetime64_dtype(s.dtype):
        why[s.notna()] = reasons.NAIVE_TIME
        return pd.Series(pd.NaT, index=idx, dtype="datetime64[us, UTC]"), why, s.astype(str)
    out = pd.Series(pd.NaT, index=idx, dtype="datetime64[us, UTC]")
    if len(s) == 0:
        return out, why, s.astype(str)
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        text = pd.Series(pd.NA, index=idx, dtype="string[pyarrow]")
        numbers = s.astype("float64")
    else:
        obj = s.astype(object) if s.dtype == object else s
        # Only text and missing values (not NaT, a datetime): nothing to pull out one by one.
        if s.dtype == object and infer_dtype(obj.to_numpy(), skipna=True) not in ("string", "empty"):
            # Python datetimes / Timestamps mixed into an object column.
            is_dt = np.fromiter((isinstance(v, datetime) for v in obj), dtype=bool, count=len(obj))
            if is_dt.any():
                dts = obj[is_dt]
                aware = np.fromiter((v.tzinfo is not None and v.utcoffset() is not None for v in dts),
                                    dtype=bool, count=len(dts))
                why[dts.index[~aware]] = reasons.NAIVE_TIME
                if aware.any():
                    out[dts.index[aware]] = pd.to_datetime(dts[aware].tolist(), utc=True).astype(
                        "datetime64[us, UTC]")
                obj = obj.where(~is_dt, None)
            is_num = np.fromiter((isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
                                  for v in obj), dtype=bool, count=len(obj))
            numbers = pd.Series(np.where(is_num, obj, np.nan), index=idx, dtype="float64") if is_num.any() \
                else pd.Series(np.nan, index=idx)
            obj = obj.where(~is_num, None)
        else:
            numbers = pd.Series(np.nan, index=idx)
        text = _arrow_text(obj)
        numeric = _matches(text, _NUMERIC.pattern)
        if numeric.any():
            numbers = numbers.where(~numeric, pd.to_numeric(text.where(numeric), errors="coerce"))
            text = text.where(~numeric)
    has_num = numbers.notna()
    if has_num.any():
        vals = numbers[has_num]
        secs = np.where(vals.abs() > 1e11, vals / 1000.0, vals)  # ms past 1973, or s before year 5138
        out[vals.index] = pd.to_datetime(secs, unit="s", utc=True).astype("datetime64[us, UTC]")
    present = text.notna()
    if present.any():
        txt = text[present]
        has_tz = _matches(txt, _TZ_SUFFIX.pattern)
        naive = txt[~has_tz]
        if len(naive):
            # A naive string that is not even a time is unparseable, not naive.
            probe = pd.to_datetime(naive.astype(object), format="mixed", errors="coerce")
            why[naive.index] = np.where(probe.isna(), reasons.UNPARSEABLE_TIME, reasons.NAIVE_TIME)
        tz_txt = txt[has_tz].astype(object)
        if len(tz_txt):
            parsed = pd.to_datetime(tz_txt, format="ISO8601", utc=True, errors="coerce")
            retry = parsed.isna()
            if retry.any():
                parsed[retry] = pd.to_datetime(tz_txt[retry], format="mixed", utc=True, errors="coerce")
            failed = parsed.isna()
            why[failed.index[failed]] = reasons.UNPARSEABLE_TIME
            out[parsed.index] = parsed.astype("datetime64[us, UTC]")
    flagged = why != ""
    out[flagged] = pd.NaT
    what = pd.Series("", index=idx, dtype=object)
    if flagged.any():
        what[flagged] = s[flagged].astype(object).astype(str)
    return out, why, what


def _as_string(s: pd.Series) -> pd.Series:
    """`s.astype("string")`, built by Arrow in one pass when `s` holds only text and
    missing values (astype converts value by value: 0.2 s for a million Nones)."""
    if s.dtype == object and infer_dtype(s.to_numpy(), skipna=True) in ("string", "empty"):
        arr = pa.array(s.to_numpy(), type=pa.string(), from_pandas=True)
        return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([arr])), index=s.index, name=s.name)
    return s.astype("string")


def _arrow_text(values: pd.Series) -> pd.Series:
    """Trimmed strings as an Arrow-backed series; blanks become missing."""
    arr = pa.array(values.to_numpy(dtype=object, na_value=None), type=pa.string(), from_pandas=True) \
        if values.dtype == object else pa.array(values, type=pa.string(), from_pandas=True)
    arr = pc.utf8_trim_whitespace(arr)
    arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)
    return pd.Series(pd.arrays.ArrowStringArray(arr), index=values.index) if hasattr(pd.arrays, "ArrowStringArray") \
        else pd.Series(arr.to_pandas(), index=values.index, dtype="string[pyarrow]")


def _matches(text: pd.Series, pattern: str) -> pd.Series:
    """Regex match in Arrow (RE2), False for missing values."""
    arr = pa.array(text, type=pa.string(), from_pandas=True)
    hit = pc.fill_null(pc.match_substring_regex(arr, pattern), False)
    return pd.Series(hit.to_numpy(zero_copy_only=False), index=text.index, dtype=bool)


def _geometry_array(frame: pd.DataFrame, col: str) -> np.ndarray:
    values = frame[col]
    if isinstance(values.dtype, gpd.array.GeometryDtype):
        return np.asarray(values.values, dtype=object).copy()
    arr = np.asarray(values.values if hasattr(values, "values") else values, dtype=object)
    out = np.empty(len(arr), dtype=object)
    for i, g in enumerate(arr):  # usually already shapely geometries: cheap pass
        out[i] = g if (g is None or isinstance(g, shapely.Geometry)) else _coerce_geometry(g)
    return out


def _coerce_geometry(value: object) -> shapely.Geometry | None:
    if isinstance(value, float) and np.isnan(value):
        return None
    try:
        if isinstance(value, (bytes, bytearray)):
            return shapely.from_wkb(bytes(value))
        if isinstance(value, str):
            return shapely.from_wkt(value)
        if isinstance(value, dict):
            return shapely.geometry.shape(value)
    except (shapely.errors.GEOSException, ValueError, TypeError, AttributeError):
        return shapely.Point()  # judged below as empty/invalid, never silently dropped
    return None


def _to_4326(geoms: np.ndarray, crs: object) -> tuple[np.ndarray, str]:
    try:
        src = ProjCRS.from_user_input(crs)
    except CRSError as exc:
        return geoms, str(exc)
    if src.equals(ProjCRS.from_epsg(4326), ignore_axis_order=True) or src.to_epsg() in (4326,) or src.name == "WGS 84 (CRS84)":
        return geoms, ""
    try:
        gs = gpd.GeoSeries(geoms, crs=src).to_crs(CRS)
    except Exception as exc:  # noqa: BLE001 - pyproj raises several unrelated types for unusable CRSs
        return geoms, str(exc)
    return np.asarray(gs.values, dtype=object), ""


def _check_geometry(geoms: np.ndarray, ls: LayerSpec, flag, fix: np.ndarray,
                    reason: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = len(geoms)
    missing = shapely.is_missing(geoms)
    flag(missing, reasons.MISSING_GEOMETRY, "no geometry")
    ga = geoms.copy()
    if missing.any():
        ga[missing] = shapely.Point()
    empty = shapely.is_empty(ga) & ~missing
    flag(empty, reasons.EMPTY_GEOMETRY, "geometry is empty")
    usable = ~missing & ~empty
    coords, owner = shapely.get_coordinates(ga, return_index=True)
    if len(coords):
        nan_rows = np.zeros(n, bool)
        np.logical_or.at(nan_rows, owner, np.isnan(coords).any(axis=1))
        flag(nan_rows & usable, reasons.NAN_COORDINATES, "a coordinate is NaN")
        x, y = coords[:, 0], coords[:, 1]
        out_x = np.zeros(n, bool)
        out_y = np.zeros(n, bool)
        swappable = np.ones(n, bool)
        np.logical_or.at(out_x, owner, np.abs(x) > 180)
        np.logical_or.at(out_y, owner, np.abs(y) > 90)
        np.logical_and.at(swappable, owner, (np.abs(y) <= 180) & (np.abs(x) <= 90))
        swapped = out_y & ~out_x & swappable
        bad_xy = (out_x | out_y) & usable
        if bad_xy.any():
            first_xy = np.full((n, 2), np.nan)
            first_xy[owner[::-1]] = coords[::-1, :2]
            txt = np.full(n, "", dtype=object)
            txt[bad_xy] = [f"lon={a:.6f}, lat={b:.6f}" for a, b in first_xy[bad_xy]]
            flag(swapped & usable, reasons.SWAPPED_LAT_LON,
                 "latitude beyond 90 but would fit as longitude (lat/lon swapped?): " + txt)
            flag(bad_xy, reasons.COORDINATES_OUT_OF_RANGE,
                 "expected lon in -180..180 and lat in -90..90; found " + txt)
    # Types: a Polygon where MultiPolygon is allowed is fine, and vice versa.
    types = shapely.get_type_id(ga)
    names = np.array(["Point", "LineString", "LinearRing", "Polygon", "MultiPoint", "MultiLineString",
                      "MultiPolygon", "GeometryCollection"], dtype=object)
    tnames = np.where(types >= 0, names[np.clip(types, 0, 7)], "None")
    wrong = ~np.isin(tnames, ls.geometry_types) & usable
    if wrong.any():
        flag(wrong, reasons.WRONG_GEOMETRY_TYPE, f"expected {'/'.join(ls.geometry_types)}; found " + tnames.astype(object))
    invalid = ~shapely.is_valid(ga) & usable & pd.isna(reason)
    for i in np.flatnonzero(invalid):
        g = ga[i]
        repaired = shapely.make_valid(g)
        if repaired.geom_type == "GeometryCollection" or repaired.geom_type not in ls.geometry_types:
            parts = [p for p in getattr(repaired, "geoms", [repaired]) if p.geom_type in ls.geometry_types
                     or (p.geom_type == "Polygon" and "MultiPolygon" in ls.geometry_types)]
            if parts and all(p.geom_type in ("Polygon", "MultiPolygon") for p in parts):
                repaired = shapely.union_all(parts)
            elif len(parts) == 1:
                repaired = parts[0]
            else:
                repaired = None
        if repaired is not None and not repaired.is_empty and repaired.is_valid and \
                repaired.geom_type in ls.geometry_types:
            ga[i] = repaired
            fix[i] = f"make_valid ({shapely.is_valid_reason(g)})"
        else:
            m = np.zeros(n, bool)
            m[i] = True
            flag(m, reasons.INVALID_GEOMETRY, f"invalid and not repairable: {shapely.is_valid_reason(g)}")
    return ga, fix


def _check_same_time_elsewhere(df: pd.DataFrame, geoms: np.ndarray, flagged: np.ndarray, flag) -> None:
    """Two fixes of one track at one time but at different positions are not versions of one fix
    (where only the newest would be kept): one of them is wrong and neither can be told apart.
    The first is kept, the others are quarantined and named; fixes repeated exactly stay
    duplicates, superseded as usual."""
    live = ~flagged
    if live.sum() < 2:
        return
    keys = df["source"].astype("string").fillna("") + "\x1f" + df["source_id"].astype("string").fillna("")
    keyed = keys[live]
    dup_key = keyed.duplicated(keep=False)
    if not dup_key.any():
        return
    idx = np.flatnonzero(live)[dup_key.to_numpy()]
    wkb = pd.Series(shapely.to_wkb(geoms[idx]), index=idx)
    pairs = pd.DataFrame({"key": keys.iloc[idx].to_numpy(), "wkb": wkb.to_numpy()}, index=idx)
    distinct = pairs.drop_duplicates(["key", "wkb"])
    later = distinct.index[distinct["key"].duplicated(keep="first")]
    if len(later) == 0:
        return
    first = distinct.drop_duplicates("key").set_index("key")
    mask = np.zeros(len(df), dtype=bool)
    mask[later] = True
    text = np.full(len(df), None, dtype=object)
    for i in later:
        there = shapely.from_wkb(first.loc[pairs.at[i, "key"], "wkb"])
        here = geoms[i]
        text[i] = (f"track {df.at[i, 'track_id']!s} already has a fix at {df.at[i, 'time']:%Y-%m-%dT%H:%M:%SZ} "
                   f"at ({there.x:.6f}, {there.y:.6f}); this one is at ({here.x:.6f}, {here.y:.6f})")
    flag(mask, reasons.DUPLICATE_TIME, text)


def _check_ranges(df: pd.DataFrame, flag) -> None:
    if "cloud_cover" in df:
        cc = df["cloud_cover"]
        flag(np.asarray((cc < 0) | (cc > 100)), reasons.BAD_VALUE, "cloud_cover: expected 0..100 percent")
    for col in ("speed_mps", "strength", "fatalities", "gsd"):
        if col in df:
            v = df[col]
            flag(np.asarray(v < 0), reasons.BAD_VALUE, f"{col}: expected a value >= 0")
    for col in ("heading_deg", "last_heading_deg"):
        if col in df:
            df[col] = df[col] % 360


def _canonical(df: pd.DataFrame, geoms: np.ndarray, ls: LayerSpec) -> gpd.GeoDataFrame:
    data: dict[str, object] = {}
    for col in ls.all_columns:
        if col.kind == "geometry":
            data[col.name] = gpd.GeoSeries(df[col.name].values if col.name in df else [None] * len(df),
                                           index=df.index, crs=CRS)
            continue
        s = df[col.name] if col.name in df else pd.Series(None, index=df.index, dtype=object)
        dtype = PANDAS_DTYPES[col.kind]
        if col.kind == "time":
            data[col.name] = s.astype(dtype) if len(s) else pd.Series([], dtype=dtype)
        elif col.kind == "int":
            data[col.name] = pd.to_numeric(s, errors="coerce").astype("Float64").round().astype(dtype)
        else:
            data[col.name] = s.astype(dtype)
    out = gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(geoms, index=df.index, crs=CRS), crs=CRS)
    return out.reset_index(drop=True)


def _quarantine_rows(raw: pd.DataFrame, bad: np.ndarray, reason: np.ndarray, detail: np.ndarray,
                     layer: str, df: pd.DataFrame, now: datetime) -> pd.DataFrame:
    if not bad.any():
        return pd.DataFrame({c: pd.Series(dtype=object) for c in QUARANTINE_COLUMNS})
    rows = raw.iloc[np.flatnonzero(bad)]
    records = []
    for (_, rec) in rows.iterrows():
        records.append(json.dumps({k: _jsonable(v) for k, v in rec.items()}, ensure_ascii=False, default=str))
    return pd.DataFrame({
        "layer": layer,
        "source": df.loc[bad, "source"].astype(object).values,
        "source_id": df.loc[bad, "source_id"].astype(object).values,
        "reason": reason[bad],
        "detail": detail[bad],
        "raw": records,
        "quarantined_at": pd.Timestamp(now),
    })[QUARANTINE_COLUMNS]


def _jsonable(v: object) -> object:
    if isinstance(v, shapely.Geometry):
        return v.wkt
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    if v is pd.NaT or v is pd.NA:
        return None
    if isinstance(v, (pd.Timestamp, datetime)):
        return v.isoformat()
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    return v
