"""What an export says about itself: where it came from, what it holds, who may read it.

An analyst's file outlives the screen it came from: it is mailed, merged and reopened weeks later.
Every writer therefore stamps the same `Provenance` into the file (its metadata where the format
has a place, a PROVENANCE.txt inside zips, visible banner text on snapshots) and into its name, so
the marking is seen before the file is even opened.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pandas as pd

from ingest.markings import classification_word, filename_tag, parse_marking, render_marking
from layers.export.constants import (
    BANNER_COLOURS,
    BANNER_DEFAULT,
    CRS_TEXT,
    FILENAME_TIME_FORMAT,
    MAX_LAYER_PART,
    MAX_MARKING_PART,
    PRODUCT,
)
from layers.filters import View


def iso_utc(value: datetime | pd.Timestamp | None) -> str | None:
    """'2026-11-21T12:00:00Z' (fractional seconds only when present)."""
    if value is None or pd.isna(value):
        return None
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    text = ts.strftime("%Y-%m-%dT%H:%M:%S")
    if ts.microsecond:
        text += f".{ts.microsecond:06d}".rstrip("0")
    return text + "Z"


@dataclass(frozen=True)
class Provenance:
    fmt: str
    layers: tuple[str, ...]
    counts: Mapping[str, int]
    window_start: datetime
    window_end: datetime
    view_time: datetime
    generated_at: datetime
    filters: Mapping[str, str]
    marking: str
    # Layer -> the feeds its records came from (the `source` column), for tracing a record back.
    sources: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    notes: tuple[str, ...] = field(default=())

    @classmethod
    def for_view(cls, *, fmt: str, view: View, now: datetime, counts: Mapping[str, int], marking: str,
                 sources: Mapping[str, tuple[str, ...]] | None = None, generated_at: datetime | None = None,
                 notes: tuple[str, ...] = ()) -> Provenance:
        start, end = view.span(now)
        return cls(fmt=fmt, layers=tuple(counts), counts=dict(counts), window_start=start, window_end=end,
                   view_time=now, generated_at=generated_at or datetime.now(UTC),
                   filters=dict(view.to_params()), marking=marking, sources=dict(sources or {}), notes=notes)

    @property
    def total(self) -> int:
        return int(sum(self.counts.values()))

    @property
    def query(self) -> str:
        """The view as a URL query string: pasted after the dashboard's address it reopens the view."""
        return urlencode(sorted(self.filters.items()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "product": PRODUCT,
            "marking": self.marking,
            "format": self.fmt,
            "generated_at": iso_utc(self.generated_at),
            "view_time": iso_utc(self.view_time),
            "window": {"start": iso_utc(self.window_start), "end": iso_utc(self.window_end)},
            "filters": dict(sorted(self.filters.items())),
            "filters_query": self.query,
            "layers": list(self.layers),
            "counts": {k: int(v) for k, v in self.counts.items()},
            "total": self.total,
            "sources": {k: list(v) for k, v in self.sources.items()},
            "crs": CRS_TEXT,
            "notes": list(self.notes),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))

    def lines(self) -> list[str]:
        """Human-readable lines (PROVENANCE.txt, KML and snapshot captions): plain text, unescaped."""
        counts = ", ".join(f"{k} {v:,}" for k, v in self.counts.items()) or "none"
        filters = "; ".join(f"{k}={v}" for k, v in sorted(self.filters.items())) or "none (default view)"
        out = [
            f"Marking: {self.marking}",
            f"{PRODUCT} export ({self.fmt})",
            f"Generated: {iso_utc(self.generated_at)}",
            f"Time window (UTC): {iso_utc(self.window_start)} to {iso_utc(self.window_end)}",
            f"Filters (view URL parameters): {filters}",
            f"Records: {counts} (total {self.total:,})",
            f"Coordinates: {CRS_TEXT}",
        ]
        if self.sources:
            out.append("Sources: " + "; ".join(f"{k}: {', '.join(v)}" for k, v in self.sources.items() if v))
        out += [f"Note: {n}" for n in self.notes]
        return out

    def text(self) -> str:
        return "\n".join([*self.lines(), f"Marking: {self.marking}", ""])

    @property
    def banner_colours(self) -> tuple[str, str]:
        """(background, text) colours of the snapshot banners: those of the marking's classification,
        the loud unmarked default when it names none ('UNMARKED DATA PRESENT')."""
        return BANNER_COLOURS.get(classification_word(self.marking) or "", BANNER_DEFAULT)

    def filename(self, extension: str) -> str:
        """`watchfloor_incidents-tracks_20261121T1200Z_RESTRICTED-REL-TO-FRA-GBR.gpkg`: safe on
        Windows, macOS and Linux (ASCII letters, digits, '-', '_' and '.')."""
        named = [n for n in self.layers if self.counts.get(n)] or list(self.layers)
        layer_part = "-".join(named) or "empty"
        if len(layer_part) > MAX_LAYER_PART:
            layer_part = f"picture-{len(named)}layers"
        stamp = pd.Timestamp(self.view_time).tz_convert("UTC").strftime(FILENAME_TIME_FORMAT)
        return f"{PRODUCT}_{safe_name(layer_part)}_{stamp}_{marking_slug(self.marking)}.{extension}"


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "x"


def marking_slug(marking: str) -> str:
    """'UNCLASSIFIED//REL TO USA, GBR' -> 'UNCLASSIFIED-REL-TO-USA-GBR': `filename_tag` with '-'
    (the file name's fields are separated by '_').

    At most MAX_MARKING_PART characters, so the whole name stays under the 255 bytes file
    systems allow. A nation list too long for that is written as its coalition's name where one
    matches exactly ('REL-TO-NATO'), else cut and ended with '-ETC'; the trailing
    'UNMARKED-DATA-PRESENT' is never cut off. The file's metadata always has the full text."""
    body, plus, rest = marking.upper().partition(" + ")
    tail = "-" + _slug(rest) if plus else ""
    budget = MAX_MARKING_PART - len(tail)
    slug = _slug(body)
    if len(slug) > budget:
        parsed = parse_marking(body)
        if parsed is not None:
            slug = _slug(render_marking(parsed.level, parsed.rel_to, abbreviate=True))
    if len(slug) > budget:
        slug = slug[:budget - len("-ETC")].rsplit("-", 1)[0] + "-ETC"
    return slug + tail


def _slug(text: str) -> str:
    return filename_tag(text).replace("_", "-")
