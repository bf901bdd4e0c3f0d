"""The store interface every backend implements (embedded Delta Lake, PostGIS).

The rest of the product sees only this: write conformed frames, quarantine
what could not be stored, and read a layer back by time window and bounding
box without loading everything. Tests of the store are written against this
interface so both backends pass the same suite.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime

import geopandas as gpd
import pandas as pd

BBox = tuple[float, float, float, float]  # minx, miny, maxx, maxy in lon/lat; minx > maxx crosses 180


@dataclass(frozen=True)
class WriteReport:
    layer: str
    inserted: int
    updated: int
    unchanged: int

    @property
    def written(self) -> int:
        return self.inserted + self.updated + self.unchanged


@dataclass(frozen=True)
class LayerStats:
    layer: str
    count: int
    newest: pd.Timestamp | None  # latest value of the layer's time column
    last_write: pd.Timestamp | None  # when the layer last changed in the store


@dataclass(frozen=True)
class FeedStatus:
    """The health of one live feed, written by the feed runner after every poll.

    Kept in the store (not in a process) so every dashboard process, on any
    machine, sees the same staleness."""

    feed: str
    kind: str  # "http-json", "cot-udp", "cot-tcp", "stac-api", ...
    state: str  # "ok", "stale", "failing", "stopped"
    last_attempt: pd.Timestamp | None = None
    last_success: pd.Timestamp | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    records_last: int = 0
    quarantined_last: int = 0
    interval_s: float | None = None
    next_attempt: pd.Timestamp | None = None


FEED_STATUS_COLUMNS = [f for f in FeedStatus.__dataclass_fields__]


class Store(ABC):
    """A place to keep layers. Implementations must be safe for one writer process
    and many reader processes at once, and leave the previous state intact when a
    writer dies mid-write."""

    @abstractmethod
    def write(self, layer: str, frame: gpd.GeoDataFrame) -> WriteReport:
        """Upsert conformed rows on (source, source_id): a newer version replaces the
        stored one; an identical or older one leaves it as it is."""

    @abstractmethod
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
        """Rows of `layer` whose time span meets [start, end] and whose geometry meets
        `bbox`. `where` maps a column to a value or a list of accepted values."""

    @abstractmethod
    def delete(self, layer: str, keys: pd.DataFrame) -> int:
        """Remove rows by (source, source_id); returns how many were removed."""

    @abstractmethod
    def quarantine(self, records: pd.DataFrame) -> int:
        """Keep records that could not be stored, with their reason; returns how many
        were new (the same record quarantined twice is kept once)."""

    @abstractmethod
    def quarantined(self, layer: str | None = None, source: str | None = None,
                    limit: int | None = None) -> pd.DataFrame:
        """Quarantined records, newest first."""

    @abstractmethod
    def stats(self, layer: str) -> LayerStats: ...

    @abstractmethod
    def put_feed_status(self, status: FeedStatus) -> None:
        """Record the latest status of a feed (one row per feed, replaced)."""

    @abstractmethod
    def feed_status(self) -> pd.DataFrame:
        """One row per feed with the `FeedStatus` fields."""

    def is_empty(self) -> bool:
        from ingest.schema import LAYERS

        return all(self.stats(name).count == 0 for name in LAYERS)
