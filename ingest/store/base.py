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

from ingest.store.locks import Lease

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
    # The feed's releasability (its default marking): who may know the feed exists and how it
    # fares. None (not declared): administrators only, like any unmarked record.
    marking: str | None = None


FEED_STATUS_COLUMNS = [f for f in FeedStatus.__dataclass_fields__]


@dataclass(frozen=True)
class AlertWriteReport:
    """What `Store.put_alerts` did: `new` keys inserted; `updated` known keys whose
    content changed or that re-opened after being resolved; `unchanged` known keys
    seen again as they were (only their `last_seen` moved)."""

    new: int
    updated: int
    unchanged: int

    @property
    def written(self) -> int:
        return self.new + self.updated + self.unchanged


@dataclass(frozen=True)
class GeofenceQuery:
    """What the geofencing alert rules test a window of track fixes against, for a store that can
    pick out the fixes those rules need (`Store.geofence_fixes`): each reference layer as the
    picture reads it (its bounding box), and per rule whether it runs. Built by
    layers/alerts/refresh.py from the rules in force."""

    start: datetime
    end: datetime
    columns: tuple[str, ...] = ("track_id", "time", "callsign", "marking")
    borders: bool = False  # border crossings: against the borders in borders_bbox
    borders_bbox: BBox | None = None
    disputed_areas: bool = False  # entries into the disputed areas in areas_bbox
    restricted_zones: bool = False  # entries into the infrastructure's restricted_zone polygons in areas_bbox
    areas_bbox: BBox | None = None  # of the disputed areas and the infrastructure (zones, loitering targets)
    zones_wkb: tuple[bytes, ...] = ()  # more restricted zones (the rules file's, drawn ones), in lon/lat
    loiter_radius_m: float | None = None  # loitering: within this of the infrastructure of loiter_kinds
    loiter_kinds: tuple[str, ...] = ()  # () : every kind


ALERT_SEVERITIES = ("low", "medium", "high", "critical")
ALERT_STATES = ("open", "acknowledged", "resolved")
# The columns of a finding (layers/analysis/findings.py) that the store keeps.
FINDING_COLUMNS = ["rule", "severity", "time", "key", "subjects", "message", "details", "geometry"]
# The columns `Store.alerts` returns, in order.
ALERT_COLUMNS = ["key", "rule", "severity", "time", "subjects", "message", "details", "first_seen",
                 "last_seen", "state", "acknowledged_by", "acknowledged_at", "geometry"]


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

    # -- alerts ---------------------------------------------------------------------
    # An alert is a finding (see FINDING_COLUMNS) kept by its stable `key`, so the
    # same condition found again on the next refresh is the same alert, and an
    # acknowledgement made in one dashboard process is seen by every other one.
    #
    # Lifecycle. The store keeps two independent facts per alert:
    # - whether the condition is live: "open" after `put_alerts`, "resolved" after a
    #   `resolve_missing` that did not see it; a resolved key that is put again is
    #   live again;
    # - whether someone acknowledged it: the first acknowledgement, for good.
    # The reported `state` combines them: "resolved" if the condition is no longer
    # live (acknowledged or not: the ack stays in acknowledged_by/at), else
    # "acknowledged" if acknowledged, else "open". So a resolved alert that
    # re-appears is "open" again unless it was acknowledged, in which case it is
    # "acknowledged" again: nobody is asked twice about the same key.

    @abstractmethod
    def put_alerts(self, findings: gpd.GeoDataFrame, *, now: datetime | None = None) -> AlertWriteReport:
        """Upsert findings as alerts on `key` (the batch is de-duplicated by key, the
        newest `time` winning). A new key is inserted with first_seen = last_seen =
        `now` (default: the current time) and is live; a known key gets the
        finding's content (severity, time, subjects, message, details, geometry),
        last_seen = `now`, and is live again if it was resolved. first_seen and
        acknowledgements are never changed. A batch evaluated before the stored
        last_seen of a key (`now` older) leaves that key as it is."""

    @abstractmethod
    def alerts(
        self,
        *,
        since: datetime | None = None,
        states: list[str] | None = None,
        rules: list[str] | None = None,
        limit: int | None = None,
    ) -> gpd.GeoDataFrame:
        """Alerts with ALERT_COLUMNS, newest `time` first (then by key). `since`
        (tz-aware) keeps alerts whose `time` is at or after it; `states` and `rules`
        keep those listed; `limit` keeps the first n. No alerts: an empty frame with
        the columns."""

    @abstractmethod
    def acknowledge(self, key: str, by: str, *, at: datetime | None = None) -> bool:
        """Record that `by` acknowledged the alert `key` at `at` (default now).
        Returns False if there is no such alert, else True. The first
        acknowledgement of a key is kept: acknowledging again changes nothing."""

    @abstractmethod
    def resolve_missing(self, active_keys: set[str], *, rules: list[str] | None = None,
                        now: datetime | None = None) -> int:
        """Mark resolved the live alerts (of `rules`, default all) whose key is not
        in `active_keys`, the keys of the latest evaluation made at `now`
        (default: the current time). An alert last seen at or after `now` (put by a
        newer evaluation) is left live. Resolved alerts stay listed. Returns how
        many were resolved."""

    @abstractmethod
    def prune_alerts(self, resolved_before: datetime) -> int:
        """Forget alerts that were resolved and last seen before `resolved_before`
        (tz-aware), with their acknowledgements: a shift's history stays listed for the
        retention period, a year of resolved alerts does not slow every read. Open and
        acknowledged-but-live alerts are never pruned. Returns how many were removed."""

    # -- analysis in the store (optional) -------------------------------------------------
    # A store that can query space and time itself (PostGIS) does the heavy part of some
    # alert rules where the data is, so an evaluating process does not pull a day of track
    # fixes. The results must be exactly those of the rules over the whole data in memory
    # (tests/layers/alerts/test_pushdown.py); a store that cannot returns None and the
    # caller does it in memory.

    def geofence_fixes(self, query: GeofenceQuery) -> gpd.GeoDataFrame | None:
        """The fixes of the window (`query.columns`, sorted by track and time) that the
        geofencing rules can find something at: where a track's country or the areas it is
        in change, segments that pass through an area, fixes near a loitering target, each
        with what the rules need around it (the fix before; the last fix of the country a
        track left). Two columns say how the selection sits in the whole: `_joined` (the
        fix before this one in the selection is the fix before it in the track) and `_last`
        (no later fix in the window). None: not supported, read the window instead."""
        return None

    def near_pairs(self, left: str, left_keys: pd.DataFrame, right: str, right_keys: pd.DataFrame,
                   limits_m: object) -> tuple[object, object, object] | None:
        """The pairs of records of `left` and `right` (layers; `*_keys`: source and
        source_id of the records to pair) within `limits_m[j]` geodesic metres of right
        record j (NaN: never), as (left positions, right positions, distances in metres),
        sorted by left then right position. None: not supported, pair them in memory."""
        return None

    # -- leases -----------------------------------------------------------------------
    # Several processes may stand ready to do one duty (poll a feed, evaluate the alert
    # rules) on one or several machines; a lease makes one of them do it at a time, and
    # lets another take over when that one dies (ingest/store/locks.py).

    def scoped(self) -> bool:
        """Whether this store's credential sees only part of the records (a PostGIS reader login:
        README, "Database roles and credentials"). Work over all records, such as evaluating the
        alert rules, must not run on a scoped store: it would resolve what it cannot see."""
        return False

    @abstractmethod
    def exclusive(self, name: str) -> Lease:
        """The lease `name` (`locks.ALERTS`, `locks.feed_lease(feed)`) among every process
        using this store, not yet acquired. `acquire()` (or entering it as a context
        manager) tries once, never waits, and says whether this process now holds it;
        `held()` whether it still does (a holder asks between steps and stops on False);
        `release()` gives it up; it is released too when the process dies (PostGIS: when
        its connection is lost). A process that did not get it retries now and then: that
        is the failover."""

    def is_empty(self) -> bool:
        from ingest.schema import LAYERS

        return all(self.stats(name).count == 0 for name in LAYERS)


def alert_query(states: object, rules: object, limit: int | None) -> tuple[list[str] | None, list[str] | None]:
    """Normalise and check `Store.alerts` arguments once, for every backend: a single state or
    rule may be given as a string; unknown states and negative limits are errors."""
    from ingest.errors import StoreQueryError

    if states is not None:
        states = [states] if isinstance(states, str) else list(states)
        unknown = [s for s in states if s not in ALERT_STATES]
        if unknown:
            raise StoreQueryError("alerts states", f"some of {list(ALERT_STATES)}", unknown)
    if rules is not None:
        rules = [rules] if isinstance(rules, str) else list(rules)
    if limit is not None and limit < 0:
        raise StoreQueryError("alerts limit", "a count >= 0", limit)
    return states, rules


def read_query(ls, start, end, bbox, where, columns) -> tuple[BBox | None, list[str] | None]:
    """Check `Store.read` arguments once, for every backend, and normalise them: the bbox as four
    floats, and the columns to fetch (always with the geometry) or None for all."""
    from ingest.errors import StoreQueryError

    if (start is not None or end is not None) and ls.time_column is None:
        raise StoreQueryError(f"time window on {ls.name}", "a layer with a time column", ls.name)
    if bbox is not None:
        if len(bbox) != 4:
            raise StoreQueryError("bbox", "(minx, miny, maxx, maxy)", bbox)
        bbox = tuple(map(float, bbox))
        if bbox[1] > bbox[3]:
            raise StoreQueryError("bbox", "miny <= maxy", bbox)
    for col in where or {}:
        if col not in ls.column_names:
            raise StoreQueryError(f"where on {ls.name}", f"a column of {ls.name}", col)
    wanted = None
    if columns is not None:
        unknown = [c for c in columns if c not in ls.column_names]
        if unknown:
            raise StoreQueryError(f"read {ls.name}", f"columns of {ls.name}", unknown)
        wanted = list(dict.fromkeys([*columns, "geometry"]))
    return bbox, wanted

