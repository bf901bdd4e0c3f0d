"""Helpers every file adapter shares: bounded reads, canonical frames, refusing a record.

Kept apart from `base.py` (the contract) so that the contract stays small and
the adapters agree on the few mechanical things that are easy to get subtly
different: how big an input may be, how a frame's columns are ordered, and how
a number that does not parse is handed on (as its original text, so that the
shared validate step can quarantine it with the value in the detail, instead
of the adapter silently turning it into NaN).

Most adapters read record by record: a function turns one record into
``(row, geometry, None)`` or, refused, ``(None, None, rejection)`` (`refused`,
`malformed`), and `read_records` collects those into the `ReadResult`, so an
adapter is mostly its field mapping.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from ingest import reasons
from ingest.adapters.base import ReadResult, rejection, rejections
from ingest.errors import UnreadableInputError
from ingest.schema import CRS, spec

# What an adapter makes of one record: (row, geometry, None), or (None, None, rejection).
Outcome = tuple[dict[str, Any] | None, Any, dict[str, Any] | None]

# Largest file an adapter loads into memory. Whole-document formats (XML, JSON)
# need the document in memory to parse it; a cap turns "the process was killed
# for memory" into an error that names the file and the limit.
MAX_INPUT_BYTES = 512 * 1024 * 1024


def check_size(path: Path, max_bytes: int = MAX_INPUT_BYTES) -> int:
    """Size of `path` in bytes, or UnreadableInputError if missing, not a file, or too big."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise UnreadableInputError(path, "no such file") from None
    except OSError as exc:
        raise UnreadableInputError(path, f"cannot stat: {exc.strerror or exc}") from None
    if not path.is_file():
        raise UnreadableInputError(path, "expected a regular file, found a directory or device")
    if st.st_size > max_bytes:
        raise UnreadableInputError(
            path,
            f"file is {st.st_size / 2**20:.1f} MiB; the limit is {max_bytes / 2**20:.0f} MiB "
            "(split the file, or raise max_bytes if the machine has the memory)",
        )
    return st.st_size


def read_bytes(path: Path, max_bytes: int = MAX_INPUT_BYTES) -> bytes:
    """The whole file, after `check_size`; read errors become UnreadableInputError."""
    check_size(path, max_bytes)
    try:
        with path.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise UnreadableInputError(path, f"cannot read: {exc.strerror or exc}") from None
    if len(data) > max_bytes:  # grew between stat and read
        raise UnreadableInputError(path, f"file is larger than the {max_bytes} byte limit")
    return data


def decode_text(path: Path, data: bytes, encoding: str = "utf-8-sig") -> str:
    """Decode a text file, naming the offending byte if it is not in `encoding`."""
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise UnreadableInputError(
            path,
            f"not valid {encoding} text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "re-save as UTF-8 or pass encoding=",
        ) from None
    except LookupError:
        raise UnreadableInputError(path, f"unknown text encoding {encoding!r}") from None


def text_or_none(value: Any) -> str | None:
    """Strip a text value; empty or missing becomes None (the pipeline's 'not given')."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    s = str(value).strip()
    return s or None


def number_or_text(value: Any) -> float | str | None:
    """A float if `value` is a number or numeric text; otherwise the text itself.

    Adapters do not judge values: text that is not a number is passed on as it
    was so validate can quarantine it (BAD_VALUE) with the value in the detail,
    rather than the adapter turning it into a NaN nobody can explain later.
    """
    if value is None or isinstance(value, bool):
        return None if value is None else str(value)
    if isinstance(value, (int, float)):
        return float(value)
    s = str(value).strip()
    if not s:
        return None
    try:
        return float(s)
    except ValueError:
        return s


def output_columns(layer: str) -> list[str]:
    """Columns an adapter returns for `layer`, in order.

    `ingested_at` (set when the pipeline stores a version) and `geometry_fix`
    (set by validate) are not the adapter's to fill, so they are left out.
    """
    s = spec(layer)
    return ["source", "source_id", "marking"] + [c.name for c in s.columns] + ["geometry"]


def frame_from_columns(
    layer: str,
    columns: Mapping[str, Sequence[Any] | pd.Series],
    geometry: Sequence[Any] | gpd.GeoSeries,
) -> gpd.GeoDataFrame:
    """A GeoDataFrame with exactly the canonical columns of `layer`, in order.

    Columns the input did not give are all-null; extra keys in `columns` are an
    adapter bug and raise, so a typo cannot create a column no one reads.
    """
    names = output_columns(layer)
    unknown = set(columns) - set(names)
    if unknown:
        raise KeyError(f"not columns of layer {layer!r}: {sorted(unknown)}")
    n = len(geometry)
    geom = (
        geometry if isinstance(geometry, gpd.GeoSeries) else gpd.GeoSeries(list(geometry), crs=CRS)
    )
    geom = geom.reset_index(drop=True)
    data: dict[str, Any] = {}
    s = spec(layer)
    for name in names[:-1]:
        if name in columns:
            col = columns[name]
            data[name] = col.reset_index(drop=True) if isinstance(col, pd.Series) else list(col)
        else:
            data[name] = pd.Series([None] * n, dtype="object")
    frame = gpd.GeoDataFrame(data, geometry=geom, crs=CRS)
    # Extra geometry columns (deployments.area) are GeoSeries too, so a
    # reprojection or a spatial predicate treats them like the main geometry.
    for name in s.extra_geometry_columns:
        frame[name] = gpd.GeoSeries(list(frame[name]), crs=CRS, index=frame.index)
    return frame


def frame_from_rows(
    layer: str, rows: list[dict[str, Any]], geometries: list[Any]
) -> gpd.GeoDataFrame:
    """`frame_from_columns` for adapters that build one dict per record."""
    names = output_columns(layer)[:-1]
    columns = {name: [r.get(name) for r in rows] for name in names}
    return frame_from_columns(layer, columns, geometries)


def csv_records(path: Path, text: str, *, sep: str = ",", what: str = "records"
                ) -> tuple[list[str], Iterator[tuple[list[str], str | None]]]:
    """The header and then each record of a CSV text, with what is wrong with its shape.

    Yields (fields, problem): `problem` is None for a record with as many fields as the
    header, else a sentence for the quarantine. Blank lines are not records. A CSV the
    csv module cannot read at all (an unclosed quote running to the end) is unreadable.
    """
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    try:
        header = next(reader)
    except StopIteration:
        raise UnreadableInputError(path, f"empty file; expected a header row and {what}") from None
    except csv.Error as exc:
        raise UnreadableInputError(path, f"not a readable CSV: {exc}") from None

    def records() -> Iterator[tuple[list[str], str | None]]:
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise UnreadableInputError(path, f"CSV error on line {reader.line_num}: {exc}") from None
            if not fields or all(not f.strip() for f in fields):
                continue
            problem = None
            if len(fields) != len(header):
                problem = (f"expected {len(header)} fields (as in the header), found {len(fields)} "
                           f"(record ending on line {reader.line_num})")
            yield fields, problem

    return header, records()


# -- one record at a time -------------------------------------------------------------------------

def refused(layer: str, source: str, source_id: str | None, reason: str, detail: str, raw: Any) -> Outcome:
    """A record that cannot become a row, as the (row, geometry, rejection) outcome."""
    return None, None, rejection(layer, source, source_id, reason, detail, raw)


def malformed(layer: str, source: str, source_id: str | None, detail: str, raw: Any) -> Outcome:
    """`refused` with reason malformed_record: the record is not the shape its format defines."""
    return refused(layer, source, source_id, reasons.MALFORMED_RECORD, detail, raw)


def frame_and_rejections(layer: str, outcomes: Iterable[Outcome]) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """The canonical frame of the rows, and the quarantine frame of the rejections."""
    rows: list[dict[str, Any]] = []
    geoms: list[Any] = []
    rejected: list[dict[str, Any]] = []
    for row, geom, rej in outcomes:
        if rej is not None:
            rejected.append(rej)
        else:
            rows.append(row)  # type: ignore[arg-type]
            geoms.append(geom)
    return frame_from_rows(layer, rows, geoms), rejections(rejected)


def read_records(layer: str, records: Sequence[Any], outcome: Callable[[Any], Outcome],
                 *, default_marking: str | None = None) -> ReadResult:
    """Every record through `outcome`, collected into the `ReadResult` (all of them counted as read)."""
    frame, rejected = frame_and_rejections(layer, map(outcome, records))
    return ReadResult(layer, frame, rejected, records_read=len(records), default_marking=default_marking)


def lat_lon_attributes(el: Element, *, layer: str, source: str, source_id: str | None,
                       raw: Callable[[], Any], tag: str) -> tuple[float, float] | dict[str, Any]:
    """(lat, lon) from an XML element's ``lat`` and ``lon`` attributes (GPX points, CoT <point>),
    or the rejection: malformed_record when one is missing, bad_coordinate_text when one is no number.
    `raw` makes the quarantine's raw text, only for a refused record (most are not)."""
    lat_t, lon_t = el.get("lat"), el.get("lon")
    if lat_t is None or lon_t is None:
        return rejection(layer, source, source_id, reasons.MALFORMED_RECORD,
                         f"expected <{tag}> with lat and lon attributes, found attributes {sorted(el.attrib)}",
                         raw())
    try:
        return float(lat_t), float(lon_t)
    except ValueError:
        return rejection(layer, source, source_id, reasons.BAD_COORDINATE_TEXT,
                         f"expected numeric lat/lon, found lat={lat_t!r} lon={lon_t!r}", raw())


# -- coordinate reference systems -----------------------------------------------------------------

def wgs84_transformer(crs: Any) -> pyproj.Transformer | None:
    """A transformer from `crs` to lon/lat (EPSG:4326), or None when `crs` is that already.
    Raises pyproj.exceptions.CRSError for a CRS PROJ does not know (each adapter says it its way)."""
    src = pyproj.CRS.from_user_input(crs)
    if src.equals(pyproj.CRS.from_epsg(4326), ignore_axis_order=True):
        return None
    return pyproj.Transformer.from_crs(src, "EPSG:4326", always_xy=True)


def reproject(geom: Any, t: pyproj.Transformer | None) -> Any:
    """`geom` through `t` (x, y only); None, or no transformer, leaves it as it is."""
    if geom is None or t is None:
        return geom

    def fn(xy: np.ndarray) -> np.ndarray:
        x, y = t.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, fn)
