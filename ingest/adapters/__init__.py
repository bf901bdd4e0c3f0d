"""File adapters: one module per input format, each returning a `base.ReadResult`.

`READERS` maps a short format name to (layer, reader); `detect` guesses the
name from a file's extension and first bytes, so the CLI and the upload page
need not ask. A reader whose layer is None (plain 'geojson') needs `layer=`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from ingest.adapters.acled_csv import read_acled_csv
from ingest.adapters.base import ReadResult
from ingest.adapters.cot import read_cot
from ingest.adapters.geojson import read_geojson
from ingest.adapters.gpx import read_gpx
from ingest.adapters.stac import read_stac
from ingest.adapters.tracks_csv import DEFAULT_HEADERS, read_tracks_csv
from ingest.errors import UnreadableInputError

Reader = Callable[..., ReadResult]

READERS: dict[str, tuple[str | None, Reader]] = {
    "cot": ("track_points", read_cot),
    "gpx": ("track_points", read_gpx),
    "tracks-csv": ("track_points", read_tracks_csv),
    "geojson-incidents": ("incidents", partial(read_geojson, layer="incidents")),
    "geojson-deployments": ("deployments", partial(read_geojson, layer="deployments")),
    "geojson-track-points": ("track_points", partial(read_geojson, layer="track_points")),
    "geojson": (None, read_geojson),
    "acled-csv": ("incidents", read_acled_csv),
    "stac": ("imagery", read_stac),
}

_PEEK = 64 * 1024


def detect(path: Path) -> str:
    """Format name for `path`, from its extension and its first 64 KiB.

    Raises UnreadableInputError when the file is missing or the format cannot
    be told; the message lists what was looked for.
    """
    path = Path(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(_PEEK).decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    except OSError as exc:
        raise UnreadableInputError(path, f"cannot open: {exc.strerror or exc}") from None
    ext = path.suffix.lower()
    if ext == ".gpx":
        return "gpx"
    if ext == ".cot":
        return "cot"
    if head.startswith("<"):
        if re.search(r"<event[\s/>]", head):
            return "cot"
        if re.search(r"<gpx[\s>]", head):
            return "gpx"
    if head.startswith(("{", "[")):
        if '"stac_version"' in head:
            return "stac"
        if re.search(r'"(occurred_at|severity)"\s*:', head):
            return "geojson-incidents"
        if re.search(r'"unit_name"\s*:', head):
            return "geojson-deployments"
        if re.search(r'"track_id"\s*:', head):
            return "geojson-track-points"
        return "geojson"
    if ext in (".csv", ".txt", ".tsv") or "," in head.split("\n", 1)[0]:
        header = {h.strip().strip('"').lower() for h in head.split("\n", 1)[0].split(",")}
        if "event_type" in header:
            return "acled-csv"
        names = {
            f: bool(header & set(DEFAULT_HEADERS[f])) for f in ("track_id", "lat", "lon", "mgrs")
        }
        if names["track_id"] and ((names["lat"] and names["lon"]) or names["mgrs"]):
            return "tracks-csv"
    raise UnreadableInputError(
        path,
        "cannot tell the format: expected CoT XML (<event>), GPX, STAC or GeoJSON JSON, "
        "an ACLED CSV (event_type column) or a track CSV (track id, lat, lon columns)",
    )


def read(path: Path, *, source: str, fmt: str | None = None, **options: Any) -> ReadResult:
    """Read `path` with the reader for `fmt` (detected when None)."""
    name = fmt or detect(Path(path))
    try:
        _, reader = READERS[name]
    except KeyError:
        raise UnreadableInputError(
            path, f"unknown format {name!r}: expected one of {sorted(READERS)}"
        ) from None
    return reader(Path(path), source=source, **options)
