"""The operational picture: every layer for one time window and area, read from the store.

Event layers are read for the window; reference layers are read for the area
the operation covers (its data's extent plus a margin), since a wall screen
over the Balkans has no use for airports in Peru.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import geopandas as gpd
import pandas as pd

from ingest.schema import LAYERS
from ingest.store import Store

EVENT_LAYERS = ("incidents", "tracks", "imagery", "deployments", "overlays")
REFERENCE_LAYERS = ("borders", "disputed_areas", "infrastructure", "places")
MARGIN_DEG = 1.0


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    @classmethod
    def last(cls, hours: float, now: datetime) -> Window:
        return cls(now - timedelta(hours=hours), now)


def operational_bounds(store: Store) -> tuple[float, float, float, float] | None:
    """Extent of partner deployments and incidents: where the operation is."""
    parts = [store.read(layer, columns=["source_id"]) for layer in ("deployments", "incidents")]
    frames = [p for p in parts if not p.empty]
    if not frames:
        return None
    b = pd.concat([f.geometry.bounds for f in frames])
    return (float(b.minx.min()), float(b.miny.min()), float(b.maxx.max()), float(b.maxy.max()))


def reference_boxes(bounds: tuple[float, float, float, float] | None) -> dict[str, tuple | None]:
    """The bounding box each reference layer is read for, around the operation's `bounds`
    (None: everywhere): what the picture holds, and what the alert rules test against."""
    area = None
    if bounds is not None:
        area = (bounds[0] - MARGIN_DEG, bounds[1] - MARGIN_DEG, bounds[2] + MARGIN_DEG, bounds[3] + MARGIN_DEG)
    return {layer: area if layer != "borders" else _wide(area) for layer in REFERENCE_LAYERS}


def load_picture(store: Store, window: Window, bounds: tuple[float, float, float, float] | None
                 ) -> dict[str, gpd.GeoDataFrame]:
    out: dict[str, gpd.GeoDataFrame] = {}
    for layer in EVENT_LAYERS:
        # Deployments and TAK drawings are a standing picture: the latest version counts, however old.
        if layer in ("deployments", "overlays"):
            out[layer] = store.read(layer, end=window.end)
        else:
            out[layer] = store.read(layer, start=window.start, end=window.end)
    for layer, box in reference_boxes(bounds).items():
        out[layer] = store.read(layer, bbox=box)
    return out


def _wide(area):
    if area is None:
        return None
    return (area[0] - 10, max(-90, area[1] - 10), area[2] + 10, min(90, area[3] + 10))


def summary(store: Store) -> pd.DataFrame:
    """Per-layer record counts and the newest record's time."""
    rows = []
    for name, ls in LAYERS.items():
        s = store.stats(name)
        rows.append({"layer": ls.title, "records": s.count, "newest": s.newest, "last write": s.last_write})
    return pd.DataFrame(rows)


def newest_line(summary_frame: pd.DataFrame) -> str:
    """`Newest record — Incidents 11:58 UTC · Tracks 11:59 UTC ...` for the layers that have times."""
    parts = [f"{r.layer} {pd.Timestamp(r.newest):%d %b %H:%M} UTC" for r in summary_frame.itertuples()
             if r.newest is not None and not pd.isna(r.newest)]
    return "Newest record: " + (" · ".join(parts) if parts else "none yet")


def subject_markings(store: Store, alerts: pd.DataFrame, picture: dict[str, gpd.GeoDataFrame] | None = None
                     ) -> dict[str, object]:
    """``"layer/source/source_id"`` -> stored marking, for every record ``alerts`` name that is
    not already in ``picture``: what `layers.access.restrict` needs (``extra_subjects``) to show
    an alert about a record outside the window or area to viewers who may see that record.

    A subject that is not in the store at all is left out, so the alert stays hidden."""
    from layers.access import record_keys, subject_items

    wanted: dict[str, set[str]] = {}
    for text in pd.unique(alerts["subjects"].astype(object)) if "subjects" in alerts.columns else ():
        for item in subject_items(text):
            layer, _, _rest = item.partition("/")
            if layer in LAYERS:
                wanted.setdefault(layer, set()).add(item)
    out: dict[str, object] = {}
    for layer, keys in wanted.items():
        have = picture.get(layer) if picture else None
        if have is not None and not have.empty:
            keys = keys - set(record_keys(layer, have).tolist())
        if not keys:
            continue
        # a source may hold '/', so ask for every possible source_id and match whole keys afterwards
        ids = {k[len(layer) + 1:][pos + 1:] for k in keys for pos in _slashes(k[len(layer) + 1:])}
        found = store.read(layer, columns=["source", "source_id", "marking"], where={"source_id": sorted(ids)})
        for key, marking in zip(record_keys(layer, found).tolist(), found["marking"].astype(object).tolist()):
            if key in keys:
                out[key] = None if marking is None or marking is pd.NA else marking
    return out


def as_seen_by(picture: dict[str, gpd.GeoDataFrame], viewer, *, rules, now: datetime,
               extra_subjects: dict[str, object] | None = None) -> dict[str, gpd.GeoDataFrame]:
    """The picture, its alerts included, as ``viewer`` may see it, with every derived fact
    computed over only what they may see.

    `layers.access.restrict` filters records, and alerts by their subjects. That suffices for
    findings about exactly their subjects, not for those about what exists (AGGREGATE_RULES:
    a coverage gap says no clear scene was found, a hot spot counts incidents): a hidden scene
    would silence a gap, a hidden incident would raise a count. So when the viewer may not see
    every incident and scene, those rules are evaluated again over the restricted picture and
    their findings replace the stored ones (keeping the store's acknowledgements by key)."""
    from layers.access import restrict
    from layers.alerts import AGGREGATE_RULES, evaluate, findings_as_alerts

    shown = restrict(picture, viewer, extra_subjects=extra_subjects)
    alerts = picture.get("alerts")
    if alerts is None or all(len(shown.get(n, ())) == len(picture.get(n, ())) for n in ("incidents", "imagery")):
        return shown
    findings = evaluate({k: v for k, v in shown.items() if k != "alerts"}, rules, now, only=AGGREGATE_RULES)
    kept = alerts[~alerts["rule"].isin(AGGREGATE_RULES).to_numpy(dtype=bool)]
    derived = findings_as_alerts(findings, alerts, now)
    combined = pd.concat([kept, derived], ignore_index=True) if len(derived) else kept
    combined = gpd.GeoDataFrame(combined, geometry="geometry", crs=alerts.crs)
    return restrict({**{k: v for k, v in shown.items() if k != "alerts"}, "alerts": combined}, viewer,
                    extra_subjects=extra_subjects)


def _slashes(text: str) -> list[int]:
    return [i for i, c in enumerate(text) if c == "/"]
