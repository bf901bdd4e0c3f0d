"""KML and KMZ for Google Earth and ATAK: styled like the map, placed in time, untrusted text escaped.

Written as a stream (layer by layer, CHUNK_ROWS placemarks at a time) rather than with simplekml,
which builds the whole document as objects in memory first; the KML needed here is small and fixed.

Structure: one Folder per layer, `track_points` too (named by the layer, as the other formats name
their tables, so GDAL's KML/LIBKML drivers read each back as that layer), every attribute as
ExtendedData `<Data>` (untyped: GDAL's LIBKML driver drops typed SchemaData when it reads a KMZ,
while `<Data>` survives in KML and KMZ alike, and Google Earth and ATAK show both), the Document's
description, Snippet and ExtendedData carrying the provenance and marking. What goes out comes back
in (`watchfloor ingest auto`, ingest/adapters/exported.py): each layer is declared as a KML 2.2
`<Schema>` (its columns and their KML types), and each folder of records names its layer and that
Schema in its own ExtendedData (ingest/exchange.py's KML_* names), so the reader maps folders to
layers by what they say, not by their names. The tracks' records are the `tracks_path` folder (the
stored path of each track); the `tracks` folder animates them as gx:Track for viewers; the fixes'
own folder starts hidden (`<visibility>0`), since the gx:Tracks draw them already.

- Styles: colours from layers/style.py: incidents and alerts by severity, tracks active/stale,
  imagery clear/cloudy, deployments by nation, infrastructure by kind, borders and disputed areas.
  No icon is fetched from the internet: KML uses the viewer's default icon tinted with the colour;
  KMZ carries its own white dot (files/dot.png) to tint.
- Time: incidents, imagery and alerts get a TimeStamp, deployments a TimeSpan from their report
  on (a standing picture), so Google Earth's time slider works. Each track is a gx:Track built
  from its fixes (`track_points`) inside the window, or, when there are none, from the track's
  path with times spread from first_seen to last_seen in proportion to distance (constant speed;
  said in the track's `track_times` field). The plain path of each track is also in the folder
  `tracks_path`, for readers without gx:Track (GDAL's KML driver, older tools).
- Escaping: the description balloon is HTML that Google Earth renders, so every feed value is
  HTML-escaped first and the whole balloon then XML-escaped (double escaping is what keeps a feed's
  `<script>` inert in the balloon); `<Data>` values are XML-escaped once (they are data, shown as
  text). Characters XML 1.0 cannot carry at all (NUL and most control characters) are removed.
- Coordinates are lon,lat in that order (KML's own order), rounded to COORD_DIGITS decimals.
"""

from __future__ import annotations

import html
import io
import re
import struct
import zipfile
import zlib
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import IO
from xml.sax.saxutils import escape as _xml_escape
from xml.sax.saxutils import quoteattr

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from lxml import etree
from lxml.builder import ElementMaker

from ingest.exchange import (
    KML_COLUMN_DATA,
    KML_LAYER_DATA,
    KML_MARKING_DATA,
    KML_PROVENANCE_DATA,
    KML_SCHEMA_DATA,
)
from ingest.schema import LAYERS
from layers import style
from layers.export.constants import (
    COORD_DIGITS,
    GX_NS,
    KML_ICON_SCALE,
    KML_LINE_WIDTH,
    KML_NS,
    KML_TRACK_PATH_FOLDER,
    PROVENANCE_KEY,
    TIME_COLUMN,
)
from layers.export.frames import (
    chunks,
    extra_geometry_columns,
    is_time,
    iso_strings,
    needs_zip64,
    python_values,
    round_geometries,
)
from layers.export.job import ExportJob

# Elements built whole (a Schema, a folder's ExtendedData) are built and serialised by lxml; they sit
# inside the Document, so they take its default namespace (KML 2.2) without restating it.
_E = ElementMaker()
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
KMZ_ICON = "files/dot.png"
CLOUDY_PERCENT = 30  # as layers.map.deck.imagery / layers.map.leaflet.overlays

# Which columns name a placemark, first non-empty wins.
TITLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "incidents": ("title", "category"),
    "tracks": ("callsign", "track_id"),
    "track_points": ("callsign", "track_id"),
    "imagery": ("platform", "collection", "source_id"),
    "deployments": ("unit_name",),
    "overlays": ("label", "kind"),
    "infrastructure": ("name", "kind"),
    "borders": ("name",),
    "disputed_areas": ("name",),
    "places": ("name",),
    "alerts": ("rule", "key"),
}


def xml_text(value: object) -> str:
    """Text safe inside an XML element: escaped, and without characters XML cannot carry."""
    return _xml_escape(_INVALID_XML.sub("", str(value)))


def kml_colour(rgba: list[int] | tuple[int, ...]) -> str:
    """KML's aabbggrr from [r, g, b, a]."""
    r, g, b = rgba[:3]
    a = rgba[3] if len(rgba) > 3 else 255
    return f"{a:02x}{b:02x}{g:02x}{r:02x}"


# --- entry points --------------------------------------------------------------------------------


def write_kml(job: ExportJob, path: Path) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        write_document(out, job, icon_href=None)


def write_kmz(job: ExportJob, path: Path) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        # doc.kml first: Google Earth and ATAK open the first .kml entry of a KMZ.
        with (zf.open("doc.kml", "w", force_zip64=needs_zip64(*job.non_empty().values())) as raw,
              io.TextIOWrapper(raw, encoding="utf-8", newline="\n") as out):
            write_document(out, job, icon_href=KMZ_ICON)
        zf.writestr(KMZ_ICON, dot_png())


# --- document ------------------------------------------------------------------------------------


def write_document(out: IO[str], job: ExportJob, icon_href: str | None) -> None:
    prov = job.provenance
    layers = job.non_empty()
    points = layers.get("track_points")
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    out.write(f'<kml xmlns="{KML_NS}" xmlns:gx="{GX_NS}">\n<Document>\n')
    out.write(f"<name>{xml_text(f'watchfloor export - {prov.marking}')}</name>\n<open>1</open>\n")
    out.write(f'<Snippet maxLines="2">{xml_text(prov.marking)}</Snippet>\n')
    balloon = "<br/>".join(html.escape(line) for line in prov.lines())
    out.write(f"<description>{xml_text(balloon)}</description>\n")
    out.write(_styles(layers, icon_href))  # KML's order: styles, then ExtendedData, then folders
    out.write("<ExtendedData>\n")
    out.write(f'<Data name="{KML_MARKING_DATA}"><value>{xml_text(prov.marking)}</value></Data>\n')
    out.write(f'<Data name="{KML_PROVENANCE_DATA}"><value>{xml_text(prov.to_json())}</value></Data>\n')
    out.write("</ExtendedData>\n")
    for name, frame in layers.items():  # KML 2.2: a Document's Schemas come before its Folders
        out.write(_schema(name, frame))
    for name, frame in layers.items():
        title = LAYERS[name].title if name in LAYERS else name.replace("_", " ").capitalize()
        if name == "tracks":  # for viewers: each track animated from its fixes; the records are below
            _open_folder(out, name, f"{title}: {len(frame):,} tracks as gx:Track (their records: folder "
                                    f"{KML_TRACK_PATH_FOLDER}). {prov.marking}")
            _write_tracks(out, frame, points, job.now)
            out.write("</Folder>\n")
            _open_folder(out, KML_TRACK_PATH_FOLDER, f"{title}: {len(frame):,} records, each track's path "
                                                     f"without time (for readers without gx:Track). {prov.marking}",
                         layer=name)
            _write_placemarks(out, name, frame, job.now, timeless=True)
            out.write("</Folder>\n")
        else:
            # the fixes are drawn by the tracks' gx:Track already: their own folder starts hidden
            _open_folder(out, name, f"{title}: {len(frame):,} records. {prov.marking}", layer=name,
                         visible=name != "track_points")
            _write_placemarks(out, name, frame, job.now)
            out.write("</Folder>\n")
        for column in extra_geometry_columns(frame):
            _open_folder(out, name + "_" + column, f"{title}: {column} of each record. {prov.marking}",
                         layer=name, column=column)
            _write_areas(out, frame, column, job.now)
            out.write("</Folder>\n")
    out.write("</Document>\n</kml>\n")


def _open_folder(out: IO[str], name: str, description: str, *, layer: str | None = None,
                 column: str | None = None, visible: bool = True) -> None:
    """A Folder's head in KML 2.2's order (name, visibility, description, ExtendedData). A folder of
    records names its layer (and a second geometry's column) in ExtendedData, and that layer's
    Schema, so the reader of our exports maps it back whatever the folder is called."""
    out.write(f"<Folder>\n<name>{xml_text(name)}</name>\n")
    if not visible:
        out.write("<visibility>0</visibility>\n")
    out.write(f"<description>{xml_text(html.escape(description))}</description>\n")
    if layer is not None:
        data = {KML_LAYER_DATA: layer, KML_SCHEMA_DATA: "#" + _schema_id(layer)}
        if column is not None:
            data[KML_COLUMN_DATA] = column
        ext = _E.ExtendedData(*(_E.Data(_E.value(v), name=k) for k, v in data.items()))
        out.write(etree.tostring(ext, encoding="unicode") + "\n")


def _schema_id(layer: str) -> str:
    return f"{PROVENANCE_KEY}-{_safe_name(layer)}"


def _schema(layer: str, frame: gpd.GeoDataFrame) -> str:
    """The layer's columns as a KML Schema (name: the layer), with KML's types: every record's
    values are in `<Data>` (see the module docstring), and this says which columns there are and
    what they hold, so a column empty everywhere still comes back."""
    schema = _E.Schema(*(_E.SimpleField(name=_safe_name(c), type=_kml_type(frame[c])) for c in _attribute_columns(frame)),
                       name=layer, id=_schema_id(layer))
    return etree.tostring(schema, encoding="unicode") + "\n"


def _kml_type(series: pd.Series) -> str:
    """KML 2.2's SimpleField type of a column: times are ISO 8601 text."""
    dtype = series.dtype
    if is_time(series) or pd.api.types.is_string_dtype(dtype) or dtype == object:
        return "string"
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "int"
    if pd.api.types.is_float_dtype(dtype):
        return "double"
    return "string"


# --- styles ---------------------------------------------------------------------------------------


def _attribute_columns(frame: gpd.GeoDataFrame) -> list[str]:
    """Columns written as data: not the geometry, nor a second geometry (that gets its own folder)."""
    extra = set(extra_geometry_columns(frame))
    return [c for c in frame.columns if c != frame.geometry.name and c not in extra]


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)


def _style(style_id: str, rgba: list[int], *, icon_href: str | None, fill: list[int] | None = None,
           line: list[int] | None = None, width: float = KML_LINE_WIDTH) -> str:
    icon = f"<Icon><href>{xml_text(icon_href)}</href></Icon>" if icon_href else ""
    line_rgba = line or rgba
    poly = (f"<PolyStyle><color>{kml_colour(fill)}</color><fill>1</fill><outline>1</outline></PolyStyle>"
            if fill is not None else "<PolyStyle><fill>0</fill><outline>1</outline></PolyStyle>")
    return (f"<Style id={quoteattr(style_id)}>"
            f"<IconStyle><color>{kml_colour(rgba)}</color><scale>{KML_ICON_SCALE}</scale>{icon}</IconStyle>"
            f"<LabelStyle><scale>0.8</scale></LabelStyle>"
            f"<LineStyle><color>{kml_colour(line_rgba)}</color><width>{width}</width></LineStyle>"
            f"{poly}<BalloonStyle><text>$[description]</text></BalloonStyle></Style>\n")


def _styles(layers: Mapping[str, gpd.GeoDataFrame], icon_href: str | None) -> str:
    out = [_style("default", style.INFRASTRUCTURE_DEFAULT, icon_href=icon_href)]
    for sev, rgba in style.SEVERITY.items():
        out.append(_style(f"incidents-{sev}", rgba, icon_href=icon_href))
        out.append(_style(f"alerts-{sev}", rgba, icon_href=icon_href))
    out.append(_style("tracks-active", style.TRACK_ACTIVE, icon_href=icon_href))
    out.append(_style("tracks-stale", style.TRACK_STALE, icon_href=icon_href))
    out.append(_style("imagery-clear", style.IMAGERY_CLEAR, icon_href=icon_href, width=1.5))
    out.append(_style("imagery-cloudy", style.IMAGERY_CLOUDY, icon_href=icon_href, width=1.5))
    out.append(_style("borders", style.BORDER_LINE, icon_href=icon_href, fill=style.LAND, width=1))
    out.append(_style("disputed_areas", style.DISPUTED_LINE, icon_href=icon_href, fill=style.DISPUTED_FILL,
                      width=2))
    out.append(_style("places", style.PLACE, icon_href=icon_href))
    for kind in sorted(style.INFRASTRUCTURE):
        rgba = style.INFRASTRUCTURE[kind]
        out.append(_style(f"infrastructure-{kind}", rgba, icon_href=icon_href, fill=list(rgba[:3]) + [40],
                          width=1.5))
    deployments = layers.get("deployments")
    if deployments is not None and "nation" in deployments:
        nations = [str(n) for n in deployments["nation"].dropna().unique()]
        for nation, rgba in style.nation_colours(nations).items():
            out.append(_style(f"deployments-{_safe_name(nation)}", rgba, icon_href=icon_href,
                              fill=list(rgba[:3]) + [style.AOR_ALPHA], width=2))
    return "".join(out)


def _style_ids(layer: str, frame: pd.DataFrame, now: datetime) -> list[str]:
    n = len(frame)

    def col(name: str) -> list:
        return frame[name].astype(object).where(frame[name].notna(), None).tolist() if name in frame else [None] * n

    if layer in ("incidents", "alerts"):
        return [f"{layer}-{s}" if s in style.SEVERITY else "default" for s in col("severity")]
    if layer in ("tracks", "track_points"):
        stale = _stale(frame, now)
        return ["tracks-stale" if s else "tracks-active" for s in stale]
    if layer == "imagery":
        return ["imagery-cloudy" if c is None or c > CLOUDY_PERCENT else "imagery-clear" for c in col("cloud_cover")]
    if layer == "deployments":
        return [f"deployments-{_safe_name(str(v))}" if v is not None else "default" for v in col("nation")]
    if layer == "infrastructure":
        return [f"infrastructure-{k}" if k in style.INFRASTRUCTURE else "default" for k in col("kind")]
    if layer in ("borders", "disputed_areas", "places"):
        return [layer] * n
    return ["default"] * n


def _stale(frame: pd.DataFrame, now: datetime) -> list[bool]:
    if "stale_at" not in frame:
        return [False] * len(frame)
    stale_at = pd.to_datetime(frame["stale_at"], utc=True)
    return (stale_at < pd.Timestamp(now)).fillna(False).astype(bool).tolist()


# --- placemarks ----------------------------------------------------------------------------------


def _titles(layer: str, frame: pd.DataFrame) -> list[str]:
    out: list[str | None] = [None] * len(frame)
    for c in TITLE_COLUMNS.get(layer, ("source_id", "key")):
        if c in frame:
            vals = python_values(frame[c])
            out = [o if o not in (None, "") else v for o, v in zip(out, vals)]
    return [str(o) if o not in (None, "") else layer for o in out]


def _balloons(title: list[str], names: list[str], columns: list[list]) -> list[str]:
    """The description HTML of each row: the title, then `name: value` for each non-empty value.
    Every piece of data is HTML-escaped here; `xml_text` escapes the whole once more."""
    out = []
    for i, t in enumerate(title):
        parts = [f"<b>{html.escape(t)}</b>"]
        for name, values in zip(names, columns):
            v = values[i]
            if v is not None and v != "":
                parts.append(f"{html.escape(name)}: {html.escape(str(v))}")
        out.append("<br/>".join(parts))
    return out


def _data(v: object) -> str:
    return f"<value>{xml_text(_scalar(v))}</value>"


def _extended_data(names: list[str], row: tuple, extra: dict[str, str] | None = None) -> str:
    """Every non-empty value as <Data name="column"><value>text</value></Data>."""
    cells = "".join(f"<Data name={quoteattr(_safe_name(n))}>{_data(v)}</Data>"
                    for n, v in [*zip(names, row), *(extra or {}).items()] if v is not None and v != "")
    return f"<ExtendedData>{cells}</ExtendedData>"


def _scalar(v: object) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    return str(v)


def _write_placemarks(out: IO[str], layer: str, frame: gpd.GeoDataFrame, now: datetime,
                      timeless: bool = False) -> None:
    names = _attribute_columns(frame)
    time_col = None if timeless else TIME_COLUMN.get(layer)
    for chunk in chunks(frame):
        columns = [python_values(chunk[c]) for c in names]
        titles = _titles(layer, chunk)
        balloons = _balloons(titles, names, columns)
        styles = _style_ids(layer, chunk, now)
        times = iso_strings(chunk[time_col]).tolist() if time_col in chunk and is_time(chunk[time_col]) \
            else [None] * len(chunk)
        rows = list(zip(*columns)) if columns else [()] * len(chunk)
        for i, geom in enumerate(round_geometries(chunk.geometry.values)):
            when = ""
            if times[i]:
                when = (f"<TimeSpan><begin>{times[i]}</begin></TimeSpan>" if layer == "deployments"
                        else f"<TimeStamp><when>{times[i]}</when></TimeStamp>")
            out.write(f"<Placemark><name>{xml_text(titles[i])}</name>"
                      f"<description>{xml_text(balloons[i])}</description>{when}"
                      f"<styleUrl>#{styles[i]}</styleUrl>"
                      f"{_extended_data(names, rows[i])}{kml_geometry(geom)}</Placemark>\n")


def _write_areas(out: IO[str], frame: gpd.GeoDataFrame, column: str, now: datetime) -> None:
    """A second geometry (a unit's area of responsibility): same record, polygon geometry, in its
    own folder so each folder holds one kind of feature."""
    names = _attribute_columns(frame)
    for chunk in chunks(frame):
        columns = [python_values(chunk[c]) for c in names]
        titles = _titles("deployments", chunk)
        styles = _style_ids("deployments", chunk, now)
        rows = list(zip(*columns))
        for i, area in enumerate(round_geometries(chunk[column].values)):
            if area is None or area.is_empty:
                continue
            out.write(f"<Placemark><name>{xml_text(titles[i] + ' (' + column + ')')}</name>"
                      f"<styleUrl>#{styles[i]}</styleUrl>{_extended_data(names, rows[i])}"
                      f"{kml_geometry(area)}</Placemark>\n")


def _write_tracks(out: IO[str], tracks: gpd.GeoDataFrame, points: gpd.GeoDataFrame | None, now: datetime) -> None:
    names = _attribute_columns(tracks)
    by_track: dict[str, np.ndarray] = {}
    if points is not None and len(points) and "track_id" in points:
        ordered = points.sort_values(["track_id", "time"], kind="stable")
        px = shapely.get_x(ordered.geometry.values)
        py = shapely.get_y(ordered.geometry.values)
        alt = ordered["altitude_m"].astype("float64").fillna(0.0).to_numpy() if "altitude_m" in ordered \
            else np.zeros(len(ordered))
        ptimes = np.asarray(iso_strings(ordered["time"]).tolist(), dtype=object)
        for tid, idx in ordered.groupby("track_id", sort=False).indices.items():
            by_track[str(tid)] = np.column_stack([px[idx], py[idx], alt[idx]]), ptimes[idx]
    for chunk in chunks(tracks):
        columns = [python_values(chunk[c]) for c in names]
        titles = _titles("tracks", chunk)
        balloons = _balloons(titles, names, columns)
        styles = _style_ids("tracks", chunk, now)
        rows = list(zip(*columns))
        tids = chunk["track_id"].astype(object).tolist() if "track_id" in chunk else [None] * len(chunk)
        first = chunk.get("first_seen")
        last = chunk.get("last_seen")
        for i, geom in enumerate(chunk.geometry.values):
            fixes = by_track.get(str(tids[i])) if tids[i] is not None else None
            if fixes is not None:
                coords, whens = fixes
                source = "fixes"
            else:
                coords, whens = _path_times(geom, None if first is None else first.iloc[i],
                                            None if last is None else last.iloc[i])
                source = "interpolated from the path (constant speed between first and last fix)"
            when, geometry = _gx_track(coords, whens)
            out.write(f"<Placemark><name>{xml_text(titles[i])}</name>"
                      f"<description>{xml_text(balloons[i])}</description>{when}"
                      f"<styleUrl>#{styles[i]}</styleUrl>"
                      f"{_extended_data(names, rows[i], {'track_times': source})}{geometry}</Placemark>\n")


def _path_times(geom, first, last) -> tuple[np.ndarray, list[str]]:
    if geom is None or geom.is_empty:
        return np.zeros((0, 3)), []
    xy = shapely.get_coordinates(geom)
    coords = np.column_stack([xy, np.zeros(len(xy))])
    if first is None or pd.isna(first) or last is None or pd.isna(last):
        return coords, []
    t0, t1 = pd.Timestamp(first), pd.Timestamp(last)
    if len(xy) == 1:
        return coords, iso_strings(pd.Series([t1])).tolist()
    step = np.hypot(*np.diff(xy, axis=0).T)
    share = np.r_[0.0, np.cumsum(step)]
    share = share / share[-1] if share[-1] > 0 else np.linspace(0, 1, len(xy))
    times = pd.Series(t0 + (t1 - t0) * share)
    return coords, iso_strings(pd.to_datetime(times, utc=True)).tolist()


def _gx_track(coords: np.ndarray, whens: list[str]) -> tuple[str, str]:
    """(time primitive, geometry) of a track: a gx:Track, whose times are inside it; a track of one
    fix is a TimeStamp and a Point instead (a one-coordinate gx:Track is a degenerate line that
    GDAL cannot read, and it would make the whole folder unreadable). KML wants the time primitive
    before styleUrl and ExtendedData, the geometry last, hence two parts."""
    if len(coords) == 0 or len(whens) != len(coords):
        return "", ""
    if len(coords) == 1:
        x, y = _fmt(coords[:, :2])[0]
        return f"<TimeStamp><when>{whens[0]}</when></TimeStamp>", f"<Point><coordinates>{x},{y}</coordinates></Point>"
    c = _fmt(coords[:, :2])
    alt = np.char.mod("%.1f", coords[:, 2])
    parts = ["<gx:Track><altitudeMode>clampToGround</altitudeMode>"]
    parts += [f"<when>{w}</when>" for w in whens]
    parts += [f"<gx:coord>{x} {y} {a}</gx:coord>" for (x, y), a in zip(c, alt)]
    parts.append("</gx:Track>")
    return "", "".join(parts)


# --- geometry ------------------------------------------------------------------------------------


def _fmt(xy: np.ndarray) -> np.ndarray:
    """Nx2 floats -> Nx2 strings, rounded to COORD_DIGITS without trailing zeros or '-0'."""
    a = np.round(np.asarray(xy, dtype="float64"), COORD_DIGITS) + 0.0
    s = np.char.mod(f"%.{COORD_DIGITS}f", a)
    return np.char.rstrip(np.char.rstrip(s, "0"), ".")


def _coordinates(geom) -> str:
    s = _fmt(shapely.get_coordinates(geom))
    return " ".join(f"{x},{y}" for x, y in s)


def kml_geometry(geom) -> str:
    """KML geometry element for a shapely geometry ('' for a missing or empty one)."""
    if geom is None or geom.is_empty:
        return ""
    kind = geom.geom_type
    if kind == "Point":
        return f"<Point><coordinates>{_coordinates(geom)}</coordinates></Point>"
    if kind in ("LineString", "LinearRing"):
        return f"<LineString><tessellate>1</tessellate><coordinates>{_coordinates(geom)}</coordinates></LineString>"
    if kind == "Polygon":
        inner = "".join(f"<innerBoundaryIs><LinearRing><coordinates>{_coordinates(r)}</coordinates></LinearRing>"
                        "</innerBoundaryIs>" for r in geom.interiors)
        return (f"<Polygon><tessellate>1</tessellate><outerBoundaryIs><LinearRing><coordinates>"
                f"{_coordinates(geom.exterior)}</coordinates></LinearRing></outerBoundaryIs>{inner}</Polygon>")
    return "<MultiGeometry>" + "".join(kml_geometry(g) for g in geom.geoms) + "</MultiGeometry>"


# --- the KMZ's icon ------------------------------------------------------------------------------


def dot_png(size: int = 32) -> bytes:
    """A white disc with a dark rim on transparency: Google Earth tints it with the style colour."""
    yy, xx = np.mgrid[0:size, 0:size]
    r = np.hypot(xx - (size - 1) / 2, yy - (size - 1) / 2)
    rgba = np.zeros((size, size, 4), dtype=np.uint8)
    disc = r <= size / 2 - 1
    rgba[disc] = (255, 255, 255, 255)
    rim = disc & (r > size / 2 - 3)
    rgba[rim] = (40, 40, 40, 255)
    raw = b"".join(b"\x00" + rgba[y].tobytes() for y in range(size))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
