"""Export exactly what is on screen: `export_view` for files, `export_bytes` for download buttons.

Releasability first: both take the signed-in `viewer` (required) and pass the picture and the
track points through `layers.access.restrict` before anything else, so no caller, careful or
not, can write a record the viewer may not see. restrict is idempotent, so an already restricted
picture loses nothing. After it, alerts carry the marking of their subjects, so every layer is
marked and the export's marking is `ingest.markings.highest_marking` of what was written.

What "on screen" means is decided in one place, `selected_layers`: the picture goes through
`layers.filters.apply_view` with the same `now` the page used (apply_view is idempotent, so an
already-filtered picture is fine), and only the view's layers are kept, in the view's order. The
optional `track_points` (raw fixes, not part of the picture) are reduced to the fixes of the tracks
on screen, inside the view's time window; they feed KML's gx:Track and are their own
`track_points` layer in the tabular formats. Nothing else is ever written.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from ingest.errors import WatchfloorError
from ingest.markings import highest_marking
from layers.access import Viewer, require, restrict
from layers.export.atomic import atomic_output
from layers.export.constants import MAX_SOURCES_LISTED, PROVENANCE_SIDECAR_SUFFIX
from layers.export.cot import write_cot_package
from layers.export.cot import written as cot_written
from layers.export.csvfile import write_csv
from layers.export.geojson import write_geojson
from layers.export.geopackage import write_geopackage
from layers.export.geoparquet import write_geoparquet
from layers.export.html_snapshot import write_html
from layers.export.job import ExportJob
from layers.export.kml import write_kml, write_kmz
from layers.export.png_snapshot import write_png
from layers.export.provenance import Provenance
from layers.export.shapefile import write_shapefile_zip
from layers.filters import View, apply_view, area_of_interest

Writer = Callable[[ExportJob, Path], None]


class ExportError(WatchfloorError):
    """An export that cannot be made as asked (unknown format, nothing on screen, bad option)."""


@dataclass(frozen=True)
class ExportFormat:
    name: str
    writer: Writer
    extension: str  # of one plain file; a zip of such files is named "<extension>.zip"
    mime: str  # of one plain file
    label: str = ""
    # When the export is a zip archive: "never" (one file holds every layer), "several" (more
    # than one layer, or a name ending in .zip asked for), "always" (one layer is several files).
    zips: str = "never"
    # A plain file with no place for metadata (CSV): the provenance is written beside it.
    provenance_sidecar: bool = False
    # Other names a plain file of this format may end with.
    also: tuple[str, ...] = ()
    # The records of the selected layers the format writes (None: all of them). Counts, marking and
    # provenance are of exactly these: a TAK package holds no imagery, and a track's latest fix only.
    holds: Callable[[Mapping[str, gpd.GeoDataFrame]], dict[str, gpd.GeoDataFrame]] | None = None

    def zipped(self, n_layers: int, *, zip_asked: bool = False) -> bool:
        return self.zips == "always" or (self.zips == "several" and (n_layers > 1 or zip_asked))

    def extension_for(self, zipped: bool) -> str:
        return f"{self.extension}.zip" if zipped else self.extension


FORMATS: dict[str, ExportFormat] = {f.name: f for f in (
    ExportFormat("geojson", write_geojson, "geojson", "application/geo+json",
                 "GeoJSON (RFC 7946; several layers: a zip of one file each)", zips="several", also=("json",)),
    ExportFormat("gpkg", write_geopackage, "gpkg", "application/geopackage+sqlite3",
                 label="GeoPackage (one table per layer)"),
    ExportFormat("kml", write_kml, "kml", "application/vnd.google-earth.kml+xml", label="KML (Google Earth, ATAK)"),
    ExportFormat("kmz", write_kmz, "kmz", "application/vnd.google-earth.kmz", label="KMZ (Google Earth, ATAK)"),
    ExportFormat("csv", write_csv, "csv", "text/csv",
                 label="CSV for spreadsheets (a zip of one CSV per layer and PROVENANCE.txt; one layer "
                       "written to a file: a plain .csv)", zips="several", provenance_sidecar=True),
    ExportFormat("parquet", write_geoparquet, "parquet", "application/vnd.apache.parquet",
                 "GeoParquet (several layers: a zip of one file each)", zips="several"),
    ExportFormat("shp", write_shapefile_zip, "shp", "application/zip",
                 label="Shapefile (zip: one per layer and geometry type, FIELDS.txt and .json, PROVENANCE.txt)",
                 zips="always"),
    ExportFormat("cot", write_cot_package, "zip", "application/zip",
                 label="TAK data package (zip: MANIFEST/manifest.xml and one .cot per record; ATAK, WinTAK)",
                 holds=cot_written),
    ExportFormat("html", write_html, "html", "text/html", label="Map snapshot, HTML (opens offline)",
                 also=("htm",)),
    ExportFormat("png", write_png, "png", "image/png", label="Map snapshot, PNG"),
)}
ALIASES = {"tak": "cot", "geopackage": "gpkg", "geoparquet": "parquet", "shapefile": "shp", "json": "geojson"}


@dataclass(frozen=True)
class ExportResult:
    path: Path | None  # where the file is (None from export_bytes)
    data: bytes | None  # the file's bytes (export_bytes only)
    filename: str  # the provenance-stamped name, for downloads
    counts: Mapping[str, int]
    marking: str
    mime: str
    format: str
    provenance: dict = field(default_factory=dict, compare=False)

    @property
    def total(self) -> int:
        return int(sum(self.counts.values()))


def resolve_format(fmt: str) -> ExportFormat:
    key = ALIASES.get(fmt.strip().lower(), fmt.strip().lower())
    try:
        return FORMATS[key]
    except KeyError:
        raise ExportError(f"unknown export format {fmt!r}: expected one of {', '.join(FORMATS)}") from None


def selected_layers(picture: Mapping[str, gpd.GeoDataFrame], view: View, now: datetime,
                    track_points: gpd.GeoDataFrame | None = None) -> dict[str, gpd.GeoDataFrame]:
    """The features on screen for `view` at `now`, by layer, in the view's order."""
    shown = apply_view({k: v for k, v in picture.items() if v is not None}, view, now)
    out = {name: shown[name] for name in view.layers if name in shown}
    if track_points is not None and "tracks" in out:
        out["track_points"] = _fixes_on_screen(track_points, out["tracks"], view, now)
    return out


def _fixes_on_screen(points: gpd.GeoDataFrame, tracks: gpd.GeoDataFrame, view: View, now: datetime
                     ) -> gpd.GeoDataFrame:
    if points.empty or tracks.empty or "track_id" not in points or "track_id" not in tracks:
        return points.iloc[0:0]
    start, end = view.span(now)
    keep = points["track_id"].isin(tracks["track_id"].dropna().unique())
    if "time" in points:
        keep &= (points["time"] >= start) & (points["time"] <= end)
    return points[keep.fillna(False).astype(bool)].sort_values(["track_id", "time"], kind="stable")


def _utc(now: datetime) -> datetime:
    """The view time as tz-aware UTC (a naive time is taken as UTC, as everywhere in the store)."""
    ts = pd.Timestamp(now)
    return (ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")).to_pydatetime()


def _sources(layers: Mapping[str, gpd.GeoDataFrame]) -> dict[str, tuple[str, ...]]:
    """Distinct feed names per layer (at most MAX_SOURCES_LISTED, then a count)."""
    out: dict[str, tuple[str, ...]] = {}
    for name, frame in layers.items():
        if "source" not in frame or not len(frame):
            continue
        names = sorted(str(v) for v in frame["source"].dropna().unique())
        if len(names) > MAX_SOURCES_LISTED:
            names = [*names[:MAX_SOURCES_LISTED], f"and {len(names) - MAX_SOURCES_LISTED} more"]
        out[name] = tuple(names)
    return out


def _markings(layers: Mapping[str, gpd.GeoDataFrame]) -> list[object]:
    """Each layer's distinct markings; a layer without a marking column counts as unmarked.
    Empty layers hold nothing to protect and add nothing."""
    out: list[object] = []
    for frame in layers.values():
        if not len(frame):
            continue
        if "marking" not in frame:
            out.append(None)
        else:
            out += [None if pd.isna(v) else v for v in frame["marking"].unique()]
    return out


def releasable_to(viewer: Viewer, picture: Mapping[str, gpd.GeoDataFrame],
                  track_points: gpd.GeoDataFrame | None = None,
                  extra_subjects: Mapping[str, object] | None = None
                  ) -> tuple[dict[str, gpd.GeoDataFrame], gpd.GeoDataFrame | None]:
    """The picture and track points as ``viewer`` may see them: the first step of every export.

    Raises ExportError unless ``viewer`` is a `Viewer`: without one nothing can be released;
    NotPermitted unless the viewer's role may export (layers.access.PERMISSIONS)."""
    if not isinstance(viewer, Viewer):
        raise ExportError(f"export: expected the signed-in viewer (a layers.access.Viewer), "
                          f"found {type(viewer).__name__}")
    require(viewer, "export")
    shown = restrict({k: v for k, v in picture.items() if v is not None}, viewer, extra_subjects=extra_subjects)
    if track_points is not None:
        track_points = restrict({"track_points": track_points}, viewer)["track_points"]
    return shown, track_points


def export_view(picture: Mapping[str, gpd.GeoDataFrame], view: View, *, viewer: Viewer, fmt: str,
                out: Path | None = None, now: datetime | None = None, track_points: gpd.GeoDataFrame | None = None,
                csv_geometry: str = "wkt", extra_subjects: Mapping[str, object] | None = None,
                one_file: bool = False) -> ExportResult:
    """Write what `view` shows `viewer` of `picture` at `now` as `fmt`; return where, what and its marking.

    The picture and `track_points` are restricted to `viewer` first (`releasable_to`);
    `extra_subjects` ("layer/source/source_id" -> marking, `layers.picture.subject_markings`)
    lets alerts about records outside the picture through to viewers who may see those records.
    `out`: None writes the provenance-stamped file name into the current folder; an existing
    folder gets that name inside it; anything else is the file path to write, and must name
    what is written (`check_output_name`: a zip ends in .zip). One layer of CSV is a plain CSV
    with its provenance beside it (`<name>.provenance.txt`), unless `one_file` (a download: one
    file must carry everything) makes it a zip. The file appears whole or not at all
    (`atomic_output`). Raises ExportError when the view shows nothing or the name cannot be honoured.
    """
    picture, track_points = releasable_to(viewer, picture, track_points, extra_subjects)
    spec = resolve_format(fmt)
    now = _utc(now or datetime.now(UTC))
    layers = selected_layers(picture, view, now, track_points)
    if spec.holds is not None:
        layers = spec.holds(layers)
    counts = {name: len(frame) for name, frame in layers.items()}
    if not any(counts.values()):
        raise ExportError("nothing to export: the view shows no features you may see "
                          f"(layers {', '.join(view.layers) or 'none'}; widen the time window or filters)")
    marking = highest_marking(_markings(layers))
    written = [name for name, n in counts.items() if n]
    asked = Path(out) if out is not None and not Path(out).is_dir() else None
    zip_asked = (one_file and spec.provenance_sidecar) or (asked is not None and asked.suffix.lower() == ".zip")
    zipped = spec.zipped(len(written), zip_asked=zip_asked)
    provenance = Provenance.for_view(fmt=spec.name, view=view, now=now, counts=counts, marking=marking,
                                     sources=_sources(layers))
    borders = picture.get("borders")
    aoi = area_of_interest(view, borders if borders is not None else gpd.GeoDataFrame())
    job = ExportJob(layers=layers, provenance=provenance, view=view, now=now,
                    aoi=aoi if isinstance(aoi, shapely.Geometry) else None, csv_geometry=csv_geometry,
                    archive=zipped)
    filename = provenance.filename(spec.extension_for(zipped))
    if asked is None:
        dest = (Path(out) if out is not None else Path.cwd()) / filename
    else:
        check_output_name(asked.name, spec, zipped, written)
        dest = asked
    if not dest.parent.is_dir():
        raise ExportError(f"cannot write {dest}: folder {dest.parent} does not exist")
    sidecars = [dest.name + PROVENANCE_SIDECAR_SUFFIX] if spec.provenance_sidecar and not zipped else []
    with atomic_output(dest, companions=sidecars) as tmp:
        spec.writer(job, tmp)
        for name in sidecars:
            (tmp.parent / name).write_text(provenance.text(), encoding="utf-8")
    return ExportResult(path=dest, data=None, filename=filename, counts=counts, marking=marking,
                        mime="application/zip" if zipped else spec.mime, format=spec.name,
                        provenance=provenance.to_dict())


# Endings of the files an export can write: a name ending in one of them that is not what is
# written would promise one format and hold another.
_KNOWN_ENDINGS = {"zip", *(e for f in FORMATS.values() for e in (f.extension, *f.also))}


def check_output_name(name: str, spec: ExportFormat, zipped: bool, layers: list[str]) -> None:
    """Refuse a file name that would misname the export (never rename it silently): a zip
    ends in .zip, and a plain file does not end in .zip or in another format's ending."""
    ending = Path(name).suffix.lower().lstrip(".")
    if zipped and ending != "zip":
        if spec.zips == "always":
            why = ("a Shapefile is several files (.shp, .shx, .dbf, .prj, .cpg), exported together with "
                   "FIELDS.txt and PROVENANCE.txt")
        else:
            why = f"{len(layers)} layers ({', '.join(layers)}) are one .{spec.extension} file each"
        better = f"{name}.zip" if ending else f"{name}.{spec.extension}.zip"
        one = " or export one layer at a time" if spec.zips == "several" else ""
        raise ExportError(f"cannot write {name}: {why}, so the export is a zip archive, and a zip's name "
                          f"must end in .zip; name it {better}{one}")
    if not zipped and ending in _KNOWN_ENDINGS and ending not in (spec.extension, *spec.also):
        kind = "a zip archive" if ending == "zip" else f"a .{ending} file"
        better = f"{Path(name).stem}.{spec.extension}"
        raise ExportError(f"cannot write {name}: a {spec.name} export of {', '.join(layers)} is one "
                          f".{spec.extension} file, not {kind}; name it {better}")


def export_bytes(picture: Mapping[str, gpd.GeoDataFrame], view: View, *, viewer: Viewer, fmt: str,
                 now: datetime | None = None, track_points: gpd.GeoDataFrame | None = None,
                 csv_geometry: str = "wkt", extra_subjects: Mapping[str, object] | None = None) -> ExportResult:
    """`export_view` into a private temporary folder, returning the file's bytes and name (for
    st.download_button(data=r.data, file_name=r.filename, mime=r.mime)). Restricted to `viewer`
    the same way; a download is one file, so provenance that would go beside it (one layer
    of CSV) makes it a zip instead. The temporary file is removed before returning; the bytes are the only copy kept."""
    tmpdir = Path(tempfile.mkdtemp(prefix="watchfloor-export-"))
    try:
        result = export_view(picture, view, viewer=viewer, fmt=fmt, out=tmpdir, now=now,
                             track_points=track_points, csv_geometry=csv_geometry, extra_subjects=extra_subjects,
                             one_file=True)
        data = result.path.read_bytes()
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return ExportResult(path=None, data=data, filename=result.filename, counts=result.counts,
                        marking=result.marking, mime=result.mime, format=result.format,
                        provenance=result.provenance)
