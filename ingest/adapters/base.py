"""What every adapter returns, and the helpers they share.

An adapter's only job is to turn one input format into rows with the canonical
column names of one layer (see `ingest.schema`). It does not judge the rows:
coordinates, times, CRS and vocabularies are checked once, for every source,
by `ingest.validate.validate`. What an adapter cannot turn into a row at all
(an XML element with no point, a CSV line with the wrong number of fields) it
hands back in `rejected` with a reason, so nothing read is ever lost.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import geopandas as gpd
import pandas as pd

from ingest.schema import CRS, QUARANTINE_COLUMNS


@dataclass
class ReadResult:
    layer: str
    frame: gpd.GeoDataFrame
    rejected: pd.DataFrame = field(default_factory=lambda: empty_rejections())
    # Records read from the input, stored or not: len(frame) + len(rejected).
    records_read: int = 0
    # Marking the source declares for records that carry none (may be None).
    default_marking: str | None = None

    def __post_init__(self) -> None:
        if not self.records_read:
            self.records_read = len(self.frame) + len(self.rejected)


def empty_rejections() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in QUARANTINE_COLUMNS})


def rejection(layer: str, source: str, source_id: str | None, reason: str, detail: str, raw: Any) -> dict:
    """One quarantine row for a record that could not be turned into a row."""
    if not isinstance(raw, str):
        raw = json.dumps(raw, default=str, ensure_ascii=False)
    return {
        "layer": layer,
        "source": source,
        "source_id": source_id,
        "reason": reason,
        "detail": detail,
        "raw": raw,
        "quarantined_at": datetime.now(timezone.utc),
    }


def rejections(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=QUARANTINE_COLUMNS) if rows else empty_rejections()


def empty_frame() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"geometry": gpd.GeoSeries([], crs=CRS)}, geometry="geometry", crs=CRS)
