"""ACLED-style incident CSV -> `incidents`.

ACLED (Armed Conflict Location & Event Data) exports are the de facto format
for conflict-event tables, and partners' own incident sheets often copy its
headers. Headers are matched case-insensitively:

    event_id (else event_id_cnty) -> source_id
    event_date                    -> occurred_at   (see Times)
    event_type                    -> category
    sub_event_type                -> subcategory
    actor1, actor2                -> actors        "actor1; actor2" (empty ones left out)
    location                      -> location_name
    latitude, longitude / mgrs    -> geometry      (decimal, DMS, or MGRS; see `coords`)
    fatalities                    -> fatalities
    notes, source                 -> description   "Source: <source>\\n<notes>"
    timestamp (epoch s)           -> updated_at    (ACLED's last-modified time)
    title                         -> title; if absent "<sub_event_type> at <location>"
    severity                      -> severity;  if absent or empty, `derive_severity`
    status                        -> status;    if absent or empty, "reported"
    marking                       -> marking

The file's own `source` column names the report's origin (a newspaper, an NGO);
the watchfloor `source` of every row is the name given to the reader, so the
report's source goes into the description, where an analyst reads it.

Times: ACLED dates are calendar days without a time zone. "2024-03-15" and
"15 March 2024" become "2024-03-15T00:00:00Z" (midnight UTC of that day),
since treating them as naive local times would quarantine every ACLED row;
anything else is passed on as found for validate to judge.

Rows are read with the `csv` module (quoted commas and newlines in notes are
common); a row whose field count differs from the header is rejected, as is a
row whose coordinate text is not a coordinate (BAD_COORDINATE_TEXT).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import shapely

from ingest import reasons
from ingest.adapters import coords
from ingest.adapters.base import ReadResult, rejection, rejections
from ingest.adapters.common import (
    MAX_INPUT_BYTES,
    csv_records,
    decode_text,
    frame_from_rows,
    number_or_text,
    read_bytes,
    text_or_none,
)
from ingest.errors import UnreadableInputError

LAYER = "incidents"
FIELDS = (
    "event_id",
    "event_id_cnty",
    "event_date",
    "event_type",
    "sub_event_type",
    "actor1",
    "actor2",
    "location",
    "latitude",
    "longitude",
    "mgrs",
    "fatalities",
    "source",
    "notes",
    "timestamp",
    "title",
    "severity",
    "status",
    "marking",
)
# ACLED's political-violence event types: no deaths reported still means medium.
VIOLENT_EVENT_TYPES = frozenset(
    {"battles", "explosions/remote violence", "violence against civilians", "riots"}
)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATE_FORMATS = ("%d %B %Y", "%d-%B-%Y", "%d %b %Y")


def derive_severity(event_type: str | None, fatalities: Any) -> str:
    """Severity when the report gives none.

    fatalities >= 10 -> critical; >= 1 -> high; otherwise a political-violence
    event type (battles, explosions/remote violence, violence against civilians,
    riots) -> medium; anything else (protests, strategic developments) -> low.
    Non-numeric fatalities count as unknown (validate flags the value itself).
    """
    f = fatalities if isinstance(fatalities, float) else None
    if f is not None and not math.isnan(f):
        if f >= 10:
            return "critical"
        if f >= 1:
            return "high"
    if event_type and event_type.strip().lower() in VIOLENT_EVENT_TYPES:
        return "medium"
    return "low"


def acled_date(text: str | None) -> str | None:
    """An ACLED calendar date as midnight UTC ISO text; other text unchanged."""
    if text is None:
        return None
    s = text.strip()
    if _ISO_DATE.match(s):
        return f"{s}T00:00:00Z"
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(s, fmt).strftime("%Y-%m-%dT00:00:00Z")
        except ValueError:
            continue
    return s


def _epoch_text(text: str | None) -> str | None:
    """ACLED `timestamp` (Unix seconds) as ISO UTC text; other text unchanged."""
    if text is None:
        return None
    try:
        return datetime.fromtimestamp(int(text), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (ValueError, OverflowError, OSError):
        return text


def read_acled_csv(
    path: Path,
    *,
    source: str,
    columns: Mapping[str, str] | None = None,
    sep: str = ",",
    encoding: str = "utf-8-sig",
    max_bytes: int = MAX_INPUT_BYTES,
    **_: Any,
) -> ReadResult:
    """Read an ACLED-style CSV of incidents; see the module docstring for the rules.

    `columns` maps any of `FIELDS` to a differently named header.
    """
    path = Path(path)
    text = decode_text(path, read_bytes(path, max_bytes), encoding)
    header, records = csv_records(path, text, sep=sep, what="incidents")
    by_lower = {h.strip().lower(): i for i, h in reversed(list(enumerate(header)))}
    idx: dict[str, int] = {f: by_lower[f] for f in FIELDS if f in by_lower}
    for field, name in (columns or {}).items():
        if field not in FIELDS:
            raise UnreadableInputError(
                path, f"column mapping key {field!r}: expected one of {list(FIELDS)}"
            )
        if name.strip().lower() not in by_lower:
            raise UnreadableInputError(
                path, f"column mapping {field}={name!r}: no such header; found {header}"
            )
        idx[field] = by_lower[name.strip().lower()]
    missing = [f for f in ("event_date", "event_type") if f not in idx]
    # A latitude column alone may hold MGRS references (longitude then empty).
    if "latitude" not in idx and "mgrs" not in idx:
        missing.append("latitude/longitude (or mgrs)")
    if missing:
        raise UnreadableInputError(
            path, f"expected ACLED columns {', '.join(missing)}; found headers {header}"
        )

    rows: list[dict[str, Any]] = []
    geoms: list[Any] = []
    rejected: list[dict[str, Any]] = []
    count = 0
    for fields, problem in records:
        count += 1

        def get(name: str, fields: list[str] = fields) -> str | None:
            i = idx.get(name)
            return text_or_none(fields[i]) if i is not None and i < len(fields) else None

        sid = get("event_id") or get("event_id_cnty")
        if problem:
            rejected.append(rejection(LAYER, source, sid, reasons.MALFORMED_RECORD, problem, fields))
            continue
        try:
            lonlat = coords.parse_lon_lat(get("latitude"), get("longitude"), get("mgrs"))
        except coords.CoordinateTextError as exc:
            rejected.append(
                rejection(
                    LAYER,
                    source,
                    sid,
                    reasons.BAD_COORDINATE_TEXT,
                    str(exc),
                    dict(zip(header, fields)),
                )
            )
            continue

        event_type, sub_type, location = get("event_type"), get("sub_event_type"), get("location")
        fatalities = number_or_text(get("fatalities"))
        report_source, notes = get("source"), get("notes")
        description = "\n".join(
            p for p in (f"Source: {report_source}" if report_source else None, notes) if p
        )
        what = sub_type or event_type
        title = get("title") or (f"{what} at {location}" if what and location else what)
        rows.append(
            {
                "source": source,
                "source_id": sid,
                "marking": get("marking"),
                "occurred_at": acled_date(get("event_date")),
                "category": event_type,
                "subcategory": sub_type,
                "severity": get("severity") or derive_severity(event_type, fatalities),
                "status": get("status") or "reported",
                "title": title,
                "description": description or None,
                "actors": "; ".join(a for a in (get("actor1"), get("actor2")) if a) or None,
                "location_name": location,
                "fatalities": fatalities,
                "updated_at": _epoch_text(get("timestamp")),
            }
        )
        geoms.append(None if lonlat is None else shapely.Point(lonlat[0], lonlat[1]))

    frame = frame_from_rows(LAYER, rows, geoms)
    return ReadResult(LAYER, frame, rejections(rejected), records_read=count)
