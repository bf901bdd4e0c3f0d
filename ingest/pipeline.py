"""The one path every record takes into the store: validate, store or quarantine.

Adapters, the demo loader and (later) the live feeds all call `ingest`, so the
same checks, the same accounting and the same derived layers apply whatever
the input. The accounting is the promise that nothing is lost:
read == stored + superseded + quarantined.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import geopandas as gpd
import pandas as pd

from ingest.adapters.base import ReadResult
from ingest.store.base import Store
from ingest.track_ids import apply_track_ids
from ingest.tracks import derive_tracks
from ingest.validate import validate


@dataclass
class IngestSummary:
    layer: str
    source: str
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    superseded: int = 0  # older duplicates of a key within the same input
    quarantined: int = 0
    reasons: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    tracks_updated: int = 0

    @property
    def stored(self) -> int:
        return self.inserted + self.updated + self.unchanged

    def line(self) -> str:
        """`N stored, M quarantined: reason counts` — the closing line of an ingest."""
        text = f"{self.stored} stored, {self.quarantined} quarantined"
        if self.reasons:
            text += ": " + ", ".join(f"{k} {v}" for k, v in self.reasons.most_common())
        extra = []
        if self.superseded:
            extra.append(f"{self.superseded} superseded by a newer version in the same input")
        if self.stored:  # "0 new, 0 updated, N unchanged": the same input again changed nothing
            extra.append(f"{self.inserted} new, {self.updated} updated, {self.unchanged} unchanged")
        return text + (f" ({'; '.join(extra)})" if extra else "")

    def __add__(self, other: IngestSummary) -> IngestSummary:
        out = IngestSummary(self.layer if self.layer == other.layer else "*",
                            self.source if self.source == other.source else "*")
        for f in ("read", "inserted", "updated", "unchanged", "superseded", "quarantined", "tracks_updated"):
            setattr(out, f, getattr(self, f) + getattr(other, f))
        out.reasons = self.reasons + other.reasons
        out.notes = self.notes + other.notes
        return out


def ingest(store: Store, result: ReadResult, *, source: str, default_marking: str | None = None,
           now: datetime | None = None) -> IngestSummary:
    """Validate an adapter's output, store what conforms, quarantine the rest."""
    now = now or datetime.now(UTC)
    result = apply_track_ids(result, source)  # one platform, one track, whatever feed saw it
    marking = default_marking if default_marking is not None else result.default_marking
    summary = IngestSummary(result.layer, source, read=result.records_read)
    conformed = validate(result.frame, result.layer, source=source, default_marking=marking, now=now)
    rejected = result.rejected
    if not rejected.empty:
        rejected = rejected.assign(source=rejected["source"].fillna(source))
    quarantine = pd.concat([q for q in (rejected, conformed.quarantined) if not q.empty] or [rejected])
    if not quarantine.empty:
        store.quarantine(quarantine)
    summary.quarantined = len(quarantine)
    summary.reasons = Counter(quarantine["reason"].astype(str)) if len(quarantine) else Counter()
    report = store.write(result.layer, conformed.valid)
    summary.inserted, summary.updated, summary.unchanged = report.inserted, report.updated, report.unchanged
    summary.superseded = len(result.frame) - len(conformed.valid) - len(conformed.quarantined)
    summary.notes = conformed.notes
    if result.layer == "track_points" and (report.inserted or report.updated):
        written = conformed.valid if report.inserted == len(conformed.valid) else None
        summary.tracks_updated = refresh_tracks(store, conformed.valid["track_id"].unique().tolist(),
                                                written=written)
    return summary


def ingest_results(store: Store, results: ReadResult | list[ReadResult], *, source: str,
                   default_marking: str | None = None, now: datetime | None = None) -> IngestSummary:
    """`ingest` each layer a reader returned (a list for MULTI_LAYER formats), in order; the summed
    summary (its layer '*' when several)."""
    total: IngestSummary | None = None
    for result in results if isinstance(results, list) else [results]:
        summary = ingest(store, result, source=source, default_marking=default_marking, now=now)
        total = summary if total is None else total + summary
    return total if total is not None else IngestSummary("track_points", source, read=0)


def refresh_tracks(store: Store, track_ids: list[str], *, written: gpd.GeoDataFrame | None = None) -> int:
    """Re-derive the tracks whose points just changed.

    `written`: the points just written, if every one was new. When they are all the
    layer holds (a first load), they are exactly what reading the tracks' points back
    would return, and reading a million points back is skipped.
    """
    if not track_ids:
        return 0
    if written is not None and len(written) and store.stats("track_points").count == len(written):
        points = written
    else:
        points = store.read("track_points", where={"track_id": [str(t) for t in track_ids]})
    tracks = derive_tracks(points)
    if tracks.empty:
        return 0
    conformed = validate(tracks, "tracks", now=datetime.now(UTC))
    store.write("tracks", conformed.valid)
    return len(conformed.valid)


def ingest_frame(store: Store, layer: str, frame: gpd.GeoDataFrame, *, source: str,
                 default_marking: str | None = None) -> IngestSummary:
    return ingest(store, ReadResult(layer, frame), source=source, default_marking=default_marking)
