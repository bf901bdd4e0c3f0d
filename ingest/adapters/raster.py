"""Local GeoTIFF / COG files (or a folder of them) -> `imagery`, via rasterio.

One record per file. What the record holds:

    footprint  the outline of the VALID pixels, not the bounding box: the
               dataset mask (GDAL's: nodata value, alpha band or internal mask)
               traced with rasterio.features.shapes, dissolved into one
               (Multi)Polygon, simplified by one mask pixel, densified so long
               straight edges follow the projection's curvature, and
               reprojected to EPSG:4326 with rasterio.warp.transform_geom,
               which cuts a footprint crossing the antimeridian into a
               MultiPolygon on either side of 180 degrees (GDAL's
               WRAPDATELINE), so its area and its drawing stay right. Large
               rasters are traced on a decimated mask (at most 1024 px on the
               long side), which is ample for a footprint.
    acquired_at  first found of:
               1. acquisition metadata: GDAL's IMAGERY domain ACQUISITIONDATETIME
                  (UTC by GDAL's convention), else a default-domain tag named
                  ACQUISITIONDATETIME, ACQUISITION_DATETIME, ACQUISITION_TIME,
                  DATETIME_ORIGINAL or datetime (STAC style), else Landsat MTL's
                  DATE_ACQUIRED + SCENE_CENTER_TIME;
               2. the file name: 20261120T101500 (Sentinel/ISO basic),
                  2026-11-20T10:15:00 / 2026-11-20_10-15-00, or a bare date
                  20261120 (Landsat product ids), the first that appears;
               3. TIFFTAG_DATETIME ("2026:11:20 10:15:00"), last because TIFF
                  defines it as the image's creation time, which for a
                  processed product is the processing time, not the acquisition.
               Times without a zone are taken as UTC (satellite metadata and
               file-name stamps are UTC by convention; TIFF has no zone field);
               a bare date becomes midnight UTC. Nothing found: null, and
               validate quarantines the record as missing its time.
    native_crs "EPSG:n" when the CRS matches an EPSG code exactly, else its WKT
    gsd        pixel size in metres: the resolution times the CRS's linear unit
               for projected CRSs; for geographic CRSs the geodesic size of the
               centre pixel
    platform, cloud_cover  GDAL IMAGERY domain SATELLITEID and CLOUDCOVER, if present
    quicklook  a PNG of at most 256 px on the long side (RGB from the bands
               GDAL labels red/green/blue, else the first three; one band as
               grey; 2-98 % stretch; invalid pixels transparent), written under
               $WATCHFLOOR_HOME/quicklooks/ with a generated name (a hash of
               source and source_id, so re-ingesting overwrites rather than piles up)
    source_id  the file name without its extension

A folder is read non-recursively (*.tif, *.tiff); a file in it that is not a
GeoTIFF, has no CRS or no valid pixel is one rejection, while a single file
given directly that is not a readable GeoTIFF raises UnreadableInputError.
Every path passes `gdalpath.guard` (plain local file, TIFF magic: a VRT named
.tif is HostileInputError, in a folder too), and GDAL runs with sidecar
discovery off (`gdalpath.rasterio_env`).
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyproj
import rasterio
import shapely
from rasterio import features, warp
from rasterio.enums import ColorInterp, Resampling
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from shapely.geometry import mapping, shape

from ingest import config, reasons
from ingest.adapters import gdalpath
from ingest.adapters.base import ReadResult, rejection, rejections
from ingest.adapters.common import frame_from_rows
from ingest.errors import UnreadableInputError

LAYER = "imagery"
MASK_MAX_PX = 1024
QUICKLOOK_MAX_PX = 256
SUFFIXES = (".tif", ".tiff")
_GEOD = pyproj.Geod(ellps="WGS84")
_META_KEYS = (
    "acquisitiondatetime",
    "acquisition_datetime",
    "acquisition_time",
    "datetime_original",
    "datetime",
)
_NAME_PATTERNS = (
    re.compile(r"(?<!\d)(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(?!\d)"),
    re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})[T_ ](\d{2})[:\-]?(\d{2})[:\-]?(\d{2})(?!\d)"),
    re.compile(r"(?<!\d)((?:19|20)\d{2})(\d{2})(\d{2})(?!\d)"),
)
_TIFF_DATETIME = re.compile(r"^(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})$")
_HAS_ZONE = re.compile(r"(?:[zZ]|[+-]\d{2}:?\d{2})$")


class SceneError(Exception):
    """A file that cannot become an imagery record: (reason code, detail)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def _utc_text(text: str) -> str:
    """Metadata time text as ISO, zone-less times taken as UTC (see module docstring)."""
    s = text.strip()
    m = _TIFF_DATETIME.match(s)
    if m:
        y, mo, d, h, mi, se = m.groups()
        return f"{y}-{mo}-{d}T{h}:{mi}:{se}Z"
    if re.match(r"^\d{4}-\d{2}-\d{2}$", s):
        return f"{s}T00:00:00Z"
    if re.match(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}", s) and not _HAS_ZONE.search(s):
        return s.replace(" ", "T", 1) + "Z"
    return s


def time_from_name(name: str) -> str | None:
    """An acquisition time found in a file name (UTC ISO text), or None."""
    for pattern in _NAME_PATTERNS:
        m = pattern.search(name)
        if not m:
            continue
        g = m.groups()
        if len(g) == 6:
            return f"{g[0]}-{g[1]}-{g[2]}T{g[3]}:{g[4]}:{g[5]}Z"
        return f"{g[0]}-{g[1]}-{g[2]}T00:00:00Z"
    return None


def acquisition_time(tags: Mapping[str, str], imagery: Mapping[str, str], name: str) -> str | None:
    """acquired_at by the rules in the module docstring (metadata, file name, TIFF DateTime)."""
    if imagery.get("ACQUISITIONDATETIME"):
        return _utc_text(imagery["ACQUISITIONDATETIME"])
    lower = {k.lower(): v for k, v in tags.items() if v and v.strip()}
    for key in _META_KEYS:
        if key in lower:
            return _utc_text(lower[key])
    if lower.get("date_acquired") and lower.get("scene_center_time"):
        t = lower["scene_center_time"].strip().strip('"')
        return _utc_text(f"{lower['date_acquired'].strip()}T{t}")
    from_name = time_from_name(name)
    if from_name:
        return from_name
    if lower.get("tifftag_datetime"):
        return _utc_text(lower["tifftag_datetime"])
    return None


def _native_crs(crs: rasterio.crs.CRS) -> str:
    epsg = crs.to_epsg(confidence_threshold=100)
    return f"EPSG:{epsg}" if epsg else crs.to_wkt()


def _gsd(src: rasterio.io.DatasetReader) -> float | None:
    rx, ry = abs(src.res[0]), abs(src.res[1])
    crs = src.crs
    if crs.is_projected:
        _unit, factor = crs.linear_units_factor
        return float((rx + ry) / 2 * factor)
    # Geographic: the geodesic size of the centre pixel, in metres.
    cx, cy = src.xy(src.height // 2, src.width // 2)
    to_ll = pyproj.Transformer.from_crs(crs.to_wkt(), "EPSG:4326", always_xy=True)
    x0, y0 = to_ll.transform(cx, cy)
    x1, y1 = to_ll.transform(cx + rx, cy)
    x2, y2 = to_ll.transform(cx, cy + ry)
    w = _GEOD.inv(x0, y0, x1, y1)[2]
    h = _GEOD.inv(x0, y0, x2, y2)[2]
    return float((w + h) / 2) if math.isfinite(w + h) else None


def valid_outline(src: rasterio.io.DatasetReader) -> shapely.Geometry:
    """The valid-data outline of `src` in its own CRS: traced, dissolved, simplified.

    Simplification (Douglas-Peucker, tolerance one mask pixel) keeps a subset
    of the traced vertices, so every vertex is still a pixel corner.
    """
    scale = max(src.width, src.height) / MASK_MAX_PX
    if scale > 1:
        shape_out = (max(1, math.ceil(src.height / scale)), max(1, math.ceil(src.width / scale)))
    else:
        shape_out = (src.height, src.width)
    mask = src.dataset_mask(out_shape=shape_out)
    if not mask.any():
        raise SceneError(reasons.EMPTY_GEOMETRY, "no valid pixels: every pixel is nodata or masked")
    transform = src.transform @ rasterio.Affine.scale(
        src.width / shape_out[1], src.height / shape_out[0]
    )
    valid = (mask > 0).astype("uint8")
    polys = [
        shape(g)
        for g, v in features.shapes(valid, mask=valid.astype(bool), transform=transform)
        if v == 1
    ]
    outline = shapely.union_all(polys)
    pixel = max(abs(transform.a), abs(transform.e))
    return shapely.simplify(outline, pixel, preserve_topology=True)


def footprint(src: rasterio.io.DatasetReader) -> shapely.Geometry:
    """The valid-data outline of `src` in EPSG:4326 (see the module docstring)."""
    outline = valid_outline(src)
    minx, miny, maxx, maxy = outline.bounds
    # Densify so that long straight edges follow the curvature of the projection.
    outline = shapely.segmentize(outline, max(maxx - minx, maxy - miny) / 64)
    geom = shape(warp.transform_geom(src.crs, "EPSG:4326", mapping(outline)))
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    return geom


def _stretch(band: np.ma.MaskedArray) -> np.ndarray:
    data = band.compressed()
    if data.size == 0:
        return np.zeros(band.shape, "uint8")
    lo, hi = np.percentile(data.astype("float64"), (2, 98))
    if hi <= lo:
        hi = lo + 1
    scaled = (band.filled(lo).astype("float64") - lo) / (hi - lo) * 255.0
    return np.clip(scaled, 0, 255).astype("uint8")


def _rgb_indexes(src: rasterio.io.DatasetReader) -> list[int]:
    if src.count < 3:
        return [1]
    interp = list(src.colorinterp)
    want = [ColorInterp.red, ColorInterp.green, ColorInterp.blue]
    if all(w in interp for w in want):
        return [interp.index(w) + 1 for w in want]
    return [1, 2, 3]


def quicklook_path(source: str, source_id: str) -> Path:
    """Where the quicklook of a record goes: a generated name under $WATCHFLOOR_HOME/quicklooks."""
    digest = hashlib.sha256(f"{source}\x00{source_id}".encode()).hexdigest()[:32]
    folder = config.home() / "quicklooks"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{digest}.png"


def write_quicklook(src: rasterio.io.DatasetReader, target: Path) -> Path:
    """A small PNG of `src` at `target` (written atomically); see the module docstring."""
    scale = max(src.width, src.height) / QUICKLOOK_MAX_PX
    h = max(1, round(src.height / scale)) if scale > 1 else src.height
    w = max(1, round(src.width / scale)) if scale > 1 else src.width
    indexes = _rgb_indexes(src)
    bands = src.read(
        indexes, out_shape=(len(indexes), h, w), masked=True, resampling=Resampling.nearest
    )
    alpha = src.dataset_mask(out_shape=(h, w))
    planes = [_stretch(b) for b in bands]
    if len(planes) == 1:
        planes = planes * 3
    rgba = np.stack(planes + [np.where(alpha > 0, 255, 0).astype("uint8")])
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    with warnings.catch_warnings():
        # A quicklook is a picture, not a georeferenced raster: GDAL says so.
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(
            tmp, "w", driver="PNG", width=w, height=h, count=4, dtype="uint8"
        ) as dst:
            dst.write(rgba)
    os.replace(tmp, target)
    return target


def _scene(path: Path, source: str, make_quicklook: bool) -> tuple[dict[str, Any], Any]:
    try:
        src = rasterio.open(path)
    except RasterioError as exc:
        raise SceneError(reasons.MALFORMED_RECORD, f"not a readable GeoTIFF ({exc})") from None
    with src:
        if src.driver != "GTiff":
            raise SceneError(
                reasons.MALFORMED_RECORD, f"expected a GeoTIFF, GDAL opened it as {src.driver}"
            )
        if src.crs is None:
            raise SceneError(
                reasons.MISSING_CRS,
                "the raster has no coordinate reference system "
                "(georeferencing by GCPs or RPCs only is not supported)",
            )
        geom = footprint(src)
        tags = src.tags()
        imagery = src.tags(ns="IMAGERY")
        source_id = path.stem
        cloud = imagery.get("CLOUDCOVER")
        row: dict[str, Any] = {
            "source": source,
            "source_id": source_id,
            "marking": tags.get("WATCHFLOOR_MARKING"),
            "acquired_at": acquisition_time(tags, imagery, path.name),
            "collection": None,
            "platform": imagery.get("SATELLITEID"),
            "constellation": None,
            "cloud_cover": float(cloud) if cloud and re.match(r"^-?\d+(\.\d+)?$", cloud) else cloud,
            "gsd": _gsd(src),
            "thumbnail": None,
            "native_crs": _native_crs(src.crs),
            "quicklook": None,
        }
        if make_quicklook:
            try:
                row["quicklook"] = str(write_quicklook(src, quicklook_path(source, source_id)))
            except (RasterioError, ValueError, OSError):
                row["quicklook"] = None  # a record without a picture beats no record
        return row, geom


def _files(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.suffix.lower() in SUFFIXES and p.is_file())


def read_raster(
    path: Path,
    *,
    source: str,
    quicklook: bool = True,
    **_: Any,
) -> ReadResult:
    """Read a GeoTIFF, or every GeoTIFF in a folder, into imagery records.

    `quicklook=False` skips the PNG (e.g. for bulk catalogue loads).
    """
    p = gdalpath.guard(path, allow_dir=True)
    single = not p.is_dir()
    files = [p] if single else _files(p)
    rows: list[dict[str, Any]] = []
    geoms: list[Any] = []
    rejected: list[dict[str, Any]] = []
    with gdalpath.rasterio_env():
        for f in files:
            try:
                gdalpath.guard(f, "tiff")  # HostileInputError propagates, folder or not
                row, geom = _scene(f, source, quicklook)
            except UnreadableInputError as exc:
                if single or type(exc) is not UnreadableInputError:
                    raise
                rejected.append(
                    rejection(
                        LAYER,
                        source,
                        f.stem,
                        reasons.MALFORMED_RECORD,
                        exc.reason,
                        {"file": f.name},
                    )
                )
                continue
            except SceneError as exc:
                if single and exc.reason == reasons.MALFORMED_RECORD:
                    raise UnreadableInputError(f, exc.detail) from None
                rejected.append(
                    rejection(LAYER, source, f.stem, exc.reason, exc.detail, {"file": f.name})
                )
                continue
            rows.append(row)
            geoms.append(geom)
    frame = frame_from_rows(LAYER, rows, geoms)
    return ReadResult(LAYER, frame, rejections(rejected), records_read=len(files))
