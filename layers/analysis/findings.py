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
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ingest.schema import CRS, SEVERITIES, TIME_DTYPE

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


def findings_frame(*, rule: str | Sequence[str], severity: str | Sequence[str], time: Any, key: Sequence[str],
                   subjects: Sequence[str], message: Sequence[str], details: Sequence[str],
                   geometry: Any = None, lon: Any = None, lat: Any = None) -> gpd.GeoDataFrame:
    """Findings from columns (already-encoded JSON strings): the fast path for rules with many findings.

    Give either ``geometry`` (shapely geometries) or ``lon``/``lat`` arrays.
    Severities outside low|medium|high|critical are a programming error and raise.
    """
    n = len(key)
    if n == 0:
        return empty_findings()
    if geometry is None:
        geometry = shapely.points(np.asarray(lon, dtype="float64"), np.asarray(lat, dtype="float64"))
    sev = pd.array([severity] * n if isinstance(severity, str) else list(severity), dtype="string")
    bad = set(pd.unique(sev[~pd.Series(sev).isin(SEVERITIES).to_numpy()]))
    if bad:
        raise ValueError(f"severity must be one of {SEVERITIES}; found {sorted(map(str, bad))}")
    times = pd.to_datetime(pd.Series(time), utc=True).astype(TIME_DTYPE).reset_index(drop=True)
    frame = gpd.GeoDataFrame(
        {
            "rule": pd.array([rule] * n if isinstance(rule, str) else list(rule), dtype="string"),
            "severity": sev,
            "time": times,
            "key": pd.array(list(key), dtype="string"),
            "subjects": pd.array(list(subjects), dtype="string"),
            "message": pd.array(list(message), dtype="string"),
            "details": pd.array(list(details), dtype="string"),
        },
        geometry=gpd.GeoSeries(list(geometry) if not isinstance(geometry, np.ndarray) else geometry, crs=CRS),
        crs=CRS,
    )
    return frame


def concat_findings(frames: Iterable[gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    """Concatenate findings and keep one row per key (the first), newest first then by key.

    Sorting makes the output deterministic, so two evaluations of the same
    picture compare equal row for row."""
    parts = [f[FINDING_COLUMNS] for f in frames if f is not None and not f.empty]
    if not parts:
        return empty_findings()
    out = pd.concat(parts, ignore_index=True)
    out = out[~out["key"].duplicated(keep="first")]
    out = out.sort_values(["time", "key"], ascending=[False, True], kind="stable").reset_index(drop=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=CRS)


# -- encoding helpers shared by the rules ---------------------------------------------

def json_list(items: Iterable[object]) -> str:
    return json.dumps([str(i) for i in items], ensure_ascii=False, separators=(",", ":"))


def json_object(values: Mapping[str, object]) -> str:
    return json.dumps(dict(values), ensure_ascii=False, sort_keys=True, default=_json_default,
                      separators=(",", ":"))


def json_columns(columns: Mapping[str, Any]) -> list[str]:
    """One JSON object per row from columns, without a json.dumps per row.

    Each column's distinct values are encoded once (names repeat a lot: 100k
    findings may involve only a few thousand facilities); float columns use
    Python's float repr, which is valid JSON for finite numbers. Keys come out
    sorted, matching `json_object`. This is what keeps 100k proximity findings
    near a tenth of a second instead of a second."""
    names = sorted(columns)
    if not names:
        return []
    acc: np.ndarray | None = None
    for i, name in enumerate(names):
        enc = _encode_column(columns[name])
        prefix = ("{" if i == 0 else ",") + json.dumps(name) + ":"
        acc = prefix + enc if acc is None else acc + (prefix + enc)
    assert acc is not None
    return (acc + "}").tolist()


def _encode_column(values: Any) -> np.ndarray:
    """JSON text of each value of a column, as an object array."""
    if isinstance(values, (pd.Series, pd.Index)):
        values = values.to_numpy(dtype=object) if values.dtype.kind not in "fiub" else values.to_numpy()
    arr = np.asarray(values)
    if arr.dtype.kind == "f":
        out = np.array([repr(v) for v in arr.tolist()], dtype=object)
        out[~np.isfinite(arr)] = "null"
        return out
    if arr.dtype.kind in "iu":
        return np.array([str(v) for v in arr.tolist()], dtype=object)
    codes, uniques = pd.factorize(pd.Series(arr, dtype=object), use_na_sentinel=True)
    table = np.array([json.dumps(_plain(v), ensure_ascii=False, default=_json_default) for v in uniques]
                     + ["null"], dtype=object)
    return table[codes]


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
