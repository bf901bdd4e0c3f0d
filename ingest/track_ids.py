"""One track per platform across feeds: the site's table of track-id aliases.

The same drone reaches the picture under several ids: `mavlink:1` from its
ground station's telemetry, `adsb:4ca1f3` from its transponder, `ulog:<uuid>`
from the flight log pulled off its SD card. Left alone those are three tracks
on the map, and an alert on one says nothing about the others. A site names
them once, in `$WATCHFLOOR_HOME/track_ids.toml`:

    [track_ids]                         # for records of every source
    "mavlink:1" = "UAV-7"
    "adsb:4ca1f3" = "UAV-7"

    [sources."gcs-north".track_ids]     # only for records of source gcs-north;
    "mavlink:1" = "UAV-9"               # wins over the table above

Keys are the ids as the adapters write them, matched without regard to case
(ICAO addresses are hex; nobody should lose a mapping to "4CA1F3" vs "4ca1f3").
The mapping is applied in one place, `ingest.pipeline.ingest`, so every
adapter and every live feed gets it, and only to `track_points` (tracks are
derived from the points, so they follow). A fix keeps its `source_id`, which
the adapters build from the id they read, so the record key stays stable
when the table changes and the original id stays visible.

The file is read again when it changes (its size and modification time are
the cache key), so a running feed process picks up a new alias without a
restart. A file that cannot be used raises `ConfigError` naming the key.
"""

from __future__ import annotations

import os
import threading
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pandas as pd

from ingest.adapters.base import ReadResult
from ingest.errors import ConfigError

FILE_NAME = "track_ids.toml"
LAYER = "track_points"


@dataclass(frozen=True)
class TrackIdMap:
    """Aliases: id (case-folded) -> track id, for every source and per source."""

    common: Mapping[str, str] = field(default_factory=dict)
    by_source: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.common) or any(self.by_source.values())

    def table_for(self, source: str | None) -> dict[str, str]:
        """The aliases that apply to records of `source` (its own win over the common ones)."""
        table = dict(self.common)
        if source is not None:
            table.update(self.by_source.get(source, {}))
        return table

    def map_ids(self, ids: pd.Series, source: str | None) -> pd.Series:
        """`ids` with every alias replaced; ids without one are returned as they were."""
        table = self.table_for(source)
        if not table or ids.empty:
            return ids
        mapped = ids.astype("string").str.casefold().map(table)
        return ids.where(mapped.isna(), mapped.astype(object))


EMPTY = TrackIdMap()


def default_path() -> Path:
    """`$WATCHFLOOR_HOME/track_ids.toml`, without creating the folder (reading must not write)."""
    home = os.environ.get("WATCHFLOOR_HOME") or Path.home() / ".watchfloor"
    return Path(home).expanduser() / FILE_NAME


def _aliases(raw: Any, where: str) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        raise ConfigError(where, 'a table of "feed id" = "track id" pairs', raw)
    out: dict[str, str] = {}
    spelled: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{where}.{key!r}", "a non-empty track id (a string)", value)
        folded = str(key).strip().casefold()
        if not folded:
            raise ConfigError(where, "non-empty feed ids as keys", key)
        if folded in out and out[folded] != value.strip():
            raise ConfigError(f"{where}.{key!r}", f"one track id per feed id (it differs only in case "
                                                  f"from {spelled[folded]!r}, mapped to {out[folded]!r})",
                              value)
        out[folded], spelled[folded] = value.strip(), str(key)
    return out


def parse_track_ids(doc: Mapping[str, Any], *, origin: object = FILE_NAME) -> TrackIdMap:
    """Check a parsed track_ids.toml document and build the alias table."""
    unknown = sorted(set(doc) - {"track_ids", "sources"})
    if unknown:
        raise ConfigError(f"{origin}: top level", "only [track_ids] and [sources.NAME.track_ids] tables",
                          f"keys {unknown}")
    common = _aliases(doc.get("track_ids", {}), f"{origin}: [track_ids]")
    sources_raw = doc.get("sources", {})
    if not isinstance(sources_raw, Mapping):
        raise ConfigError(f"{origin}: sources", "[sources.NAME.track_ids] tables", sources_raw)
    by_source: dict[str, Mapping[str, str]] = {}
    for name, table in sources_raw.items():
        where = f"{origin}: [sources.{name!r}]"
        if not isinstance(table, Mapping) or set(table) - {"track_ids"}:
            found = sorted(table) if isinstance(table, Mapping) else table
            raise ConfigError(where, "only a track_ids table", found)
        by_source[str(name)] = MappingProxyType(_aliases(table.get("track_ids", {}), f"{where}.track_ids"))
    return TrackIdMap(MappingProxyType(common), MappingProxyType(by_source))


_cache: dict[Path, tuple[tuple[int, int], TrackIdMap]] = {}
_cache_lock = threading.Lock()


def load_track_ids(path: Path | str | None = None) -> TrackIdMap:
    """The alias table in `path` (default `$WATCHFLOOR_HOME/track_ids.toml`); empty if there is none."""
    p = Path(path).expanduser() if path is not None else default_path()
    try:
        st = p.stat()
    except FileNotFoundError:
        return EMPTY
    except OSError as exc:
        raise ConfigError(f"track id file {p}", "a readable file", str(exc)) from None
    stamp = (st.st_mtime_ns, st.st_size)
    with _cache_lock:
        hit = _cache.get(p)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    try:
        doc = tomllib.loads(p.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"track id file {p}", "a readable UTF-8 TOML file", str(exc)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"track id file {p}", "valid TOML", f"a syntax error: {exc}") from None
    table = parse_track_ids(doc, origin=p)
    with _cache_lock:
        _cache[p] = (stamp, table)
    return table


def apply_track_ids(result: ReadResult, source: str, table: TrackIdMap | None = None) -> ReadResult:
    """`result` with the site's aliases applied to its track ids (the same object if none apply)."""
    if result.layer != LAYER or "track_id" not in result.frame or result.frame.empty:
        return result
    table = load_track_ids() if table is None else table
    if not table:
        return result
    frame = result.frame
    sources = frame["source"] if "source" in frame else pd.Series(None, index=frame.index, dtype=object)
    sources = sources.where(sources.notna(), source)
    mapped = frame["track_id"].copy()
    for name in pd.unique(sources):
        rows = (sources == name).to_numpy()
        mapped[rows] = table.map_ids(frame["track_id"][rows], name)
    if mapped.equals(frame["track_id"]):
        return result
    frame = frame.copy()
    frame["track_id"] = mapped
    return ReadResult(result.layer, frame, result.rejected, records_read=result.records_read,
                      default_marking=result.default_marking)
