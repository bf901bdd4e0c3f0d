"""File adapters: one module per input format, each returning a `base.ReadResult`.

`READERS` maps a short format name to (layer, reader); `detect` guesses the
name from a file's extension and first bytes, so the CLI and the upload page
need not ask. A reader whose layer is None (plain 'geojson', 'kml', 'gpkg')
needs `layer=`.

The STAC API search (`stac_api.search_stac_api`) takes a URL and search
parameters rather than a file, so it is not a READERS entry.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from ingest.adapters import kml as _kml
from ingest.adapters import ziputil
from ingest.adapters.acled_csv import read_acled_csv
from ingest.adapters.adsb import read_aircraft_json, read_opensky_states
from ingest.adapters.base import ReadResult
from ingest.adapters.cot import is_data_package, read_cot_layers
from ingest.adapters.exported import FORMAT as EXPORT_FORMAT
from ingest.adapters.exported import read_export
from ingest.adapters.exported import sniff as sniff_export
from ingest.adapters.gdalpath import check_path_text
from ingest.adapters.geojson import read_geojson
from ingest.adapters.georss import read_georss
from ingest.adapters.gpkg import read_gpkg
from ingest.adapters.gpx import read_gpx
from ingest.adapters.kml import read_kml
from ingest.adapters.layer_csv import read_layer_csv
from ingest.adapters.osm import read_osm
from ingest.adapters.raster import SUFFIXES as RASTER_SUFFIXES
from ingest.adapters.raster import read_raster
from ingest.adapters.stac import read_stac
from ingest.adapters.tracks_csv import DEFAULT_HEADERS, read_tracks_csv
from ingest.adapters.ulog import MAGIC as ULOG_MAGIC
from ingest.adapters.ulog import read_ulog
from ingest.adapters.usgs import read_usgs
from ingest.errors import UnreadableInputError

Reader = Callable[..., ReadResult]


def _lazy(module: str, name: str) -> Reader:
    """A reader whose module is imported on first use (pymavlink loads a whole MAVLink dialect)."""

    def reader(path: Path, **options: Any) -> ReadResult:
        return getattr(importlib.import_module(module), name)(path, **options)

    reader.__name__ = reader.__qualname__ = name
    reader.target = (module, name)  # type: ignore[attr-defined]  # options.declared looks there
    return reader


READERS: dict[str, tuple[str | None, Reader]] = {
    "cot": ("track_points", read_cot_layers),  # drawings -> overlays, our records back: a list
    "gpx": ("track_points", read_gpx),
    "tracks-csv": ("track_points", read_tracks_csv),
    "geojson-incidents": ("incidents", partial(read_geojson, layer="incidents")),
    "geojson-deployments": ("deployments", partial(read_geojson, layer="deployments")),
    "geojson-track-points": ("track_points", partial(read_geojson, layer="track_points")),
    "geojson": (None, read_geojson),
    "acled-csv": ("incidents", read_acled_csv),
    "stac": ("imagery", read_stac),
    "kml-tracks": ("track_points", partial(read_kml, layer="track_points")),
    "kml-deployments": ("deployments", partial(read_kml, layer="deployments")),
    "kml-infrastructure": ("infrastructure", partial(read_kml, layer="infrastructure")),
    "kml": (None, read_kml),
    "georss": ("incidents", read_georss),
    "usgs-geojson": ("incidents", read_usgs),
    "deployments-csv": ("deployments", partial(read_layer_csv, layer="deployments")),
    "infrastructure-csv": ("infrastructure", partial(read_layer_csv, layer="infrastructure")),
    "gpkg-deployments": ("deployments", partial(read_gpkg, layer="deployments")),
    "gpkg-infrastructure": ("infrastructure", partial(read_gpkg, layer="infrastructure")),
    "gpkg": (None, read_gpkg),
    "osm": ("infrastructure", read_osm),
    "raster": ("imagery", read_raster),
    "ulog": ("track_points", read_ulog),
    "mavlink-tlog": ("track_points", _lazy("ingest.adapters.mavlink", "read_tlog")),
    "adsb-aircraft-json": ("track_points", read_aircraft_json),
    "opensky-states": ("track_points", read_opensky_states),
    EXPORT_FORMAT: (None, read_export),
}
# Formats whose reader returns one ReadResult per layer it finds (a list), so they need no --layer.
MULTI_LAYER: frozenset[str] = frozenset({EXPORT_FORMAT, "cot"})

_PEEK = 64 * 1024


def _kmz_head(path: Path) -> str:
    """The first 64 KiB of a KMZ's main KML, read through ziputil's checks."""
    found = ziputil.read_member(path, _kml._main_kml)
    if found is None:
        raise UnreadableInputError(path, "KMZ archive holds no .kml document")
    return found[1][:_PEEK].decode("utf-8", errors="replace")


def _kml_format(head: str) -> str:
    layer = _kml.sniff(head)
    return {"track_points": "kml-tracks", "deployments": "kml-deployments",
            "infrastructure": "kml-infrastructure"}.get(layer or "", "kml")


def _csv_header(head: str) -> set[str]:
    line = head.split("\n", 1)[0]
    return {h.strip().strip('"').strip().lower().replace(" ", "_") for h in line.split(",")}


def detect(path: Path) -> str:
    """Format name for `path`, from its extension and its first 64 KiB.

    A folder is 'raster' (a folder of GeoTIFFs). Raises UnreadableInputError
    when the file is missing or the format cannot be told (the message lists
    what was looked for), HostileInputError for GDAL path syntax or a hostile
    KMZ.
    """
    check_path_text(str(path))
    path = Path(path)
    if path.is_dir():
        return "raster"
    try:
        with path.open("rb") as fh:
            raw = fh.read(_PEEK)
    except OSError as exc:
        raise UnreadableInputError(path, f"cannot open: {exc.strerror or exc}") from None
    head = raw.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    name = path.name.lower()
    ext = path.suffix.lower()
    if sniff_export(path, raw, head):  # our own export: every layer it holds, by name
        return EXPORT_FORMAT
    if raw.startswith(b"PK\x03\x04") and is_data_package(path):
        return "cot"  # a TAK data package: its .cot members
    if ext == ".gpx":
        return "gpx"
    if ext == ".cot":
        return "cot"
    if raw.startswith(ULOG_MAGIC) or ext == ".ulg":
        return "ulog"
    if ext == ".tlog" or (len(raw) > 8 and raw[8] in (0xFE, 0xFD)
                          and 10**15 <= int.from_bytes(raw[:8], "big") < 4 * 10**15):
        return "mavlink-tlog"  # 8-byte microsecond Unix time, then a MAVLink 1 or 2 packet
    if raw.startswith(b"PK\x03\x04") and ext in (".kmz", ".kml"):
        return _kml_format(_kmz_head(path))
    if ext in RASTER_SUFFIXES or raw[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "raster"  # the raster reader checks the TIFF magic itself
    if raw.startswith(b"SQLite format 3\x00") or ext == ".gpkg":
        return "gpkg"
    if name.endswith((".osm.pbf", ".pbf")) or raw[4:15] == b"\x0a\x09OSMHeader":
        return "osm"
    if head.startswith("<"):
        if re.search(r"<event[\s/>]", head):
            return "cot"
        if re.search(r"<gpx[\s>]", head):
            return "gpx"
        if re.search(r"<kml[\s>]", head) or ext == ".kml":
            return _kml_format(head)
        if re.search(r"<rss[\s>]", head):
            return "georss"
        if re.search(r"<osm[\s>]", head) or ext == ".osm":
            return "osm"
    if head.startswith(("{", "[")):
        if re.search(r'"aircraft"\s*:\s*\[', head) and re.search(r'"now"\s*:', head):
            return "adsb-aircraft-json"
        if re.search(r'"states"\s*:\s*(\[|null)', head) and re.search(r'"time"\s*:', head):
            return "opensky-states"
        if '"stac_version"' in head:
            return "stac"
        if '"metadata"' in head and re.search(r'"(tsunami|magType)"\s*:', head):
            return "usgs-geojson"
        if re.search(r'"(occurred_at|severity)"\s*:', head):
            return "geojson-incidents"
        if re.search(r'"unit_name"\s*:', head):
            return "geojson-deployments"
        if re.search(r'"track_id"\s*:', head):
            return "geojson-track-points"
        return "geojson"
    if ext in (".csv", ".txt", ".tsv") or "," in head.split("\n", 1)[0]:
        header = _csv_header(head)
        if "event_type" in header:
            return "acled-csv"
        # Before the track test: "id" + lat/lon also fits a track CSV.
        if "unit_name" in header or ("nation" in header and "unit" in header):
            return "deployments-csv"
        if header & {"kind", "facility_type", "category"} and "name" in header and not (
            header & set(DEFAULT_HEADERS["time"])
        ):
            return "infrastructure-csv"
        names = {
            f: bool(header & set(DEFAULT_HEADERS[f])) for f in ("track_id", "lat", "lon", "mgrs")
        }
        if names["track_id"] and ((names["lat"] and names["lon"]) or names["mgrs"]):
            return "tracks-csv"
    raise UnreadableInputError(
        path,
        "cannot tell the format: expected CoT XML (<event>), GPX, KML/KMZ, GDACS GeoRSS, OSM "
        "(.osm.pbf/.osm), a TAK data package (zip with MANIFEST/manifest.xml), a PX4 ULog (.ulg), a MAVLink telemetry log (.tlog), a readsb/dump1090 "
        "aircraft.json or OpenSky state vectors, "
        "STAC, USGS or other GeoJSON, a GeoTIFF, a GeoPackage, an ACLED CSV "
        "(event_type column), a track CSV (track id, lat, lon columns), or a deployments "
        "(unit_name) or infrastructure (kind, name) CSV",
    )


def read(path: Path, *, source: str, fmt: str | None = None, **options: Any) -> ReadResult | list[ReadResult]:
    """Read `path` with the reader for `fmt` (detected when None): a ReadResult, or one per layer
    (a list) for a format in MULTI_LAYER (our own exports)."""
    name = fmt or detect(Path(path))
    try:
        _, reader = READERS[name]
    except KeyError:
        raise UnreadableInputError(
            path, f"unknown format {name!r}: expected one of {sorted(READERS)}"
        ) from None
    from ingest.adapters.options import call

    return call(name, reader, options.pop("layer", None), Path(path), source=source, **options)
