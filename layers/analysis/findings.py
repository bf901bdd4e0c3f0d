"""The one contract every analysis rule returns: a GeoDataFrame of *findings*.

A finding is a condition worth a person's attention (an incident next to a
power plant, a drone crossing a border, a scene that never came). Every rule
returns the same columns so the rules engine can concatenate them, the store
can keep them as alerts keyed on `key`, and the dashboard can list them
without knowing which rule spoke:

- ``rule``      which rule found it (str);
- ``severity``  low | medium | high | critical;
- ``time``      when the condition happened (``datetime64[us, UTC]``), not when
                it was evaluated, so a refresh does not make it look new;
- ``key``       a STABLE de-duplication key: the rule, the involved features'
                ``layer/source/source_id`` and a time token that belongs to the
                situation (a crossing's fix time, a dwell's start, a coarse
                bucket). Evaluating again on the next refresh gives the same key
                for the same situation, which is what lets an acknowledgement
                stick;
- ``subjects``  JSON list of ``"layer/source/source_id"`` of the features involved;
- ``message``   one sentence a person understands;
- ``details``   JSON object of numbers behind the sentence (distances, dwell...);
- ``geometry``  the Point where it happened, EPSG:4326.

Text in ``message`` comes partly from feeds (incident titles): whoever renders
it must escape it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from ingest.schema import CRS, SEVERITIES, TIME_DTYPE
from layers.analysis import _text

FINDING_COLUMNS: list[str] = ["rule", "severity", "time", "key", "subjects", "message", "details", "geometry"]
SEVERITY_RANK: dict[str, int] = {s: i for i, s in enumerate(SEVERITIES)}


def empty_findings() -> gpd.GeoDataFrame:
    """No findings, with the right columns and dtypes (so concatenation and the store never guess)."""
    return gpd.GeoDataFrame(
        {
            "rule": pd.Series([], dtype="string"),
            "severity": pd.Series([], dtype="string"),
            "time": pd.Series([], dtype=TIME_DTYPE),
            "key": pd.Series([], dtype="string"),
            "subjects": pd.Series([], dtype="string"),
            "message": pd.Series([], dtype="string"),
            "details": pd.Series([], dtype="string"),
        },
        geometry=gpd.GeoSeries([], crs=CRS),
        crs=CRS,
    )


def make_findings(records: Iterable[Mapping[str, Any]]) -> gpd.GeoDataFrame:
    """Findings from dicts with the FINDING_COLUMNS keys.

    ``subjects`` may be a list (JSON-encoded here) or an already encoded string;
    ``details`` a dict (encoded here, keys sorted so the text is stable) or a
    string; ``geometry`` a shapely Point, or ``(lon, lat)``. Meant for rules that
    produce few findings; vectorised rules use `findings_frame`.
    """
    rows = list(records)
    if not rows:
        return empty_findings()
    missing = [c for c in FINDING_COLUMNS if any(c not in r for r in rows)]
    if missing:
        raise ValueError(f"finding records need {FINDING_COLUMNS}; missing {sorted(set(missing))}")
    geoms = [r["geometry"] if r["geometry"] is None or isinstance(r["geometry"], shapely.Geometry)
             else shapely.Point(*r["geometry"]) for r in rows]
    return findings_frame(
        rule=[r["rule"] for r in rows],
        severity=[r["severity"] for r in rows],
        time=[r["time"] for r in rows],
        key=[r["key"] for r in rows],
        subjects=[r["subjects"] if isinstance(r["subjects"], str) else json_list(r["subjects"]) for r in rows],
        message=[r["message"] for r in rows],
        details=[r["details"] if isinstance(r["details"], str) else json_object(r["details"]) for r in rows],
        geometry=geoms,
    )


def findings_frame(*, rule: str | Sequence[str], severity: str | Sequence[str], time: Any,
                   key: Sequence[str] | pa.Array, subjects: Sequence[str] | pa.Array,
                   message: Sequence[str] | pa.Array, details: Sequence[str] | pa.Array,
                   geometry: Any = None, lon: Any = None, lat: Any = None) -> gpd.GeoDataFrame:
    """Findings from columns (already-encoded JSON strings): the fast path for rules with many findings.

    Give either ``geometry`` (shapely geometries) or ``lon``/``lat`` arrays; text columns may be
    Arrow arrays (layers/analysis/_text.py), taken without a Python string per row.
    Severities outside low|medium|high|critical are a programming error and raise.
    """
    n = len(key)
    if n == 0:
        return empty_findings()
    if geometry is None:
        geometry = shapely.points(np.asarray(lon, dtype="float64"), np.asarray(lat, dtype="float64"))
    sev = _strings(severity, n)
    bad = set(pd.unique(sev[~pd.Series(sev).isin(SEVERITIES).to_numpy()]))
    if bad:
        raise ValueError(f"severity must be one of {SEVERITIES}; found {sorted(map(str, bad))}")
    times = pd.to_datetime(pd.Series(time), utc=True).astype(TIME_DTYPE).reset_index(drop=True)
    frame = gpd.GeoDataFrame(
        {
            "rule": _strings(rule, n),
            "severity": sev,
            "time": times,
            "key": _strings(key, n),
            "subjects": _strings(subjects, n),
            "message": _strings(message, n),
            "details": _strings(details, n),
        },
        geometry=gpd.GeoSeries(list(geometry) if not isinstance(geometry, np.ndarray) else geometry, crs=CRS),
        crs=CRS,
    )
    return frame


def _strings(values: str | Sequence[str] | pa.Array, n: int) -> pd.api.extensions.ExtensionArray:
    """A "string" column: one str for every row, a sequence, or Arrow text (taken as it is)."""
    if isinstance(values, str):
        values = _text.constant(values, n)
    if isinstance(values, pa.Array):
        return pd.arrays.ArrowStringArray(pa.chunked_array([values.cast(_text.TEXT)]))
    return pd.array(list(values), dtype="string")


def concat_findings(frames: Iterable[gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    """Concatenate findings and keep one row per key (the first), newest first then by key.

    Sorting makes the output deterministic, so two evaluations of the same
    picture compare equal row for row."""
    parts = [f[FINDING_COLUMNS] for f in frames if f is not None and not f.empty]
    if not parts:
        return empty_findings()
    out = pd.concat(parts, ignore_index=True)
    # In Arrow: dictionary codes number the keys in order of first appearance, so a row is a key's
    # first exactly where its code is new; then newest first, by key (unique by then: no ties).
    keys = _text.strings(out["key"])
    codes = pc.dictionary_encode(keys).indices.to_numpy(zero_copy_only=False)
    first = np.flatnonzero(codes > np.maximum.accumulate(np.r_[-1, codes[:-1]]))
    when = pd.DatetimeIndex(out["time"]).asi8[first]  # NaT is the smallest: last when newest come first
    order = pc.sort_indices(pa.table({"time": pa.array(when), "key": _text.take(keys, first)}),
                            sort_keys=[("time", "descending"), ("key", "ascending")])
    out = out.take(first[order.to_numpy()]).reset_index(drop=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=CRS)


# -- encoding helpers shared by the rules ---------------------------------------------

def json_list(items: Iterable[object]) -> str:
    return json.dumps([str(i) for i in items], ensure_ascii=False, separators=(",", ":"))


def json_lists(*columns: Sequence[str] | np.ndarray) -> pa.Array:
    """``json_list(row)`` for each row of str columns (the subjects of findings, built in Arrow)."""
    parts: list[str | pa.Array] = ["["]
    for i, col in enumerate(columns):
        parts += ([","] if i else []) + [_text.json_strings(_text.strings(col))]
    return _text.join(*parts, "]")


def json_object(values: Mapping[str, object]) -> str:
    return json.dumps(dict(values), ensure_ascii=False, sort_keys=True, default=_json_default,
                      separators=(",", ":"))


@dataclass(frozen=True)
class Taken:
    """A details column given per feature, with the feature of each finding: each feature's value is
    encoded once (100k proximity findings involve a few thousand facilities)."""

    values: Any
    index: np.ndarray


def json_columns(columns: Mapping[str, Any]) -> pa.Array:
    """One JSON object per row from columns, without a json.dumps per row.

    A column is an array, a Series, or `Taken`. Strings are quoted (json.dumps
    for the rare one that needs escaping), floats printed as Python's repr
    (valid JSON for finite numbers; NaN is null), other values json.dumps'ed
    once per distinct value, and the rows joined in Arrow (layers/analysis/_text.py).
    Keys come out sorted, matching `json_object`."""
    names = sorted(columns)
    if not names:
        return pa.array([], _text.TEXT)
    parts: list[str | pa.Array] = []
    i = 0
    while i < len(names):
        col = columns[names[i]]
        if not isinstance(col, Taken):
            parts += [("{" if i == 0 else ",") + json.dumps(names[i]) + ":", _encode_column(col)]
            i += 1
            continue
        # Neighbouring columns taken by the same index are joined per feature, then taken once.
        run: list[str | pa.Array] = []
        while i < len(names) and isinstance(columns[names[i]], Taken) and columns[names[i]].index is col.index:
            run += [("{" if i == 0 else ",") + json.dumps(names[i]) + ":", _encode_column(columns[names[i]].values)]
            i += 1
        parts.append(_text.take(_text.join(*run), col.index))
    return _text.join(*parts, "}")


def _encode_column(values: Any) -> pa.Array:
    """JSON text of each value of a column."""
    if isinstance(values, (pd.Series, pd.Index)):
        values = values.to_numpy(dtype=object) if values.dtype.kind not in "fiub" else values.to_numpy()
    if isinstance(values, pa.Array):
        return _json_strings(values)
    arr = np.asarray(values)
    if arr.dtype.kind == "f":
        return _text.float_repr(arr)
    if arr.dtype.kind in "iu":
        return pc.cast(pa.array(arr), _text.TEXT)
    if arr.dtype.kind == "b":
        return pc.if_else(pa.array(arr), pa.scalar("true", _text.TEXT), pa.scalar("false", _text.TEXT))
    if arr.dtype.kind in "OU":
        try:
            return _json_strings(_text.strings(arr))
        except (pa.ArrowTypeError, pa.ArrowInvalid):
            pass  # not all str: each distinct value through json.dumps, below
    codes, uniques = pd.factorize(pd.Series(arr, dtype=object), use_na_sentinel=True)
    table = pa.array([json.dumps(_plain(v), ensure_ascii=False, default=_json_default) for v in uniques]
                     + ["null"], type=_text.TEXT)
    return _text.take(table, np.where(codes < 0, len(uniques), codes))


def _json_strings(values: pa.Array) -> pa.Array:
    """JSON text of str values, each distinct value encoded once (kinds, severities repeat a lot)."""
    codes = pc.dictionary_encode(values)
    if len(codes.dictionary) * 2 > len(values):
        return _text.json_strings(values)
    table = pa.concat_arrays([_text.json_strings(codes.dictionary.cast(_text.TEXT)), pa.array(["null"], _text.TEXT)])
    return table.take(codes.indices.fill_null(len(codes.dictionary)))


def _plain(v: object) -> object:
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.bool_,)):
        return bool(v)
    return v


def _json_default(v: object) -> object:
    if isinstance(v, pd.Timestamp):
        return iso(v)
    if isinstance(v, (np.floating, np.integer, np.bool_)):
        return _plain(v)
    return str(v)


def iso(t: object) -> str:
    """A UTC instant as text for keys and details: seconds resolution unless it has a fraction."""
    ts = pd.Timestamp(t)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    text = ts.strftime("%Y-%m-%dT%H:%M:%S")
    if ts.microsecond:
        text += f".{ts.microsecond:06d}".rstrip("0")
    return text + "Z"


def iso_series(times: pd.Series) -> pd.Series:
    """Vectorised `iso` for a datetime column (the time tokens of keys)."""
    t = pd.Series(pd.to_datetime(times, utc=True)).reset_index(drop=True)
    base = t.dt.strftime("%Y-%m-%dT%H:%M:%S")
    us = t.dt.microsecond
    frac = pd.Series([("." + f"{u:06d}".rstrip("0")) if u else "" for u in us.tolist()], dtype=object)
    return base.astype(object) + frac + "Z"
