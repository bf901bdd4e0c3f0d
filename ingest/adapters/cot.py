"""Cursor-on-Target (CoT) XML -> `track_points`.

CoT is what TAK clients, drone ground stations and many gateways emit: one
`<event>` per position report. Files come in three shapes, all read here:
a single `<event>` document, a root element (e.g. `<events>`) wrapping many
events, or events simply concatenated as captured from a TCP stream (no root).

Per event:
    uid                      -> track_id
    time                     -> time        (the text as found; validate parses it)
    point@lat, point@lon     -> geometry    Point(lon, lat)
    point@hae                -> altitude_m  (9999999.0, CoT's "unknown", -> NaN)
    detail/track@speed       -> speed_mps   (CoT speed is metres per second)
    detail/track@course      -> heading_deg
    detail/contact@callsign  -> callsign
    type                     -> platform_type
    stale                    -> stale_at
    detail/marking (text)    -> marking     (a watchfloor convention, not CoT core;
                                             the event's `access` attribute is not used)
    source_id = f"{uid}@{time}"  (one fix per uid and time; re-ingest is idempotent)

An event without a usable `<point>` cannot become a row and is rejected with
the reason; everything else is passed on for the shared validate step to judge.

Files are streamed with lxml when `xmlsafe.streamable` allows it (no DOCTYPE,
UTF-8): one pass collects each event's attribute text into columns, and the
stripping and number parsing that `_event_row` does per value is done per
column (Arrow), by Python only for the values where that could differ. The
result is the one `_event_row` gives, row for row: events that are rejected go
through `_event_row` itself (on an ElementTree copy), and documents lxml does
not read cleanly (malformed, a DOCTYPE, concatenated events) are read as before
by the ElementTree path. Live messages (`parse_cot_event`) keep that path too:
one event at a time gains nothing from streaming.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO
from xml.etree.ElementTree import Element, tostring

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from lxml import etree

from ingest import reasons
from ingest.adapters import cot_drawings as drawings
from ingest.adapters import xmlsafe, ziputil
from ingest.adapters.base import ReadResult, rejection, rejections
from ingest.adapters.common import (
    MAX_INPUT_BYTES,
    frame_from_columns,
    frame_from_rows,
    number_or_text,
    read_bytes,
    text_or_none,
)
from ingest.errors import HostileInputError, UnreadableInputError, UnsupportedOptionError
from ingest.exchange import COT_RECORD_DETAIL, TAK_MANIFEST
from ingest.schema import CRS

LAYER = "track_points"
UNKNOWN_HAE = 9999999.0
# One CoT event is normally under 2 KB; a stream that goes on for this long
# without closing an event is broken or an attempt to exhaust memory.
MAX_EVENT_BYTES = 1024 * 1024
# Raw text kept in a rejection, so one giant bad record cannot bloat quarantine.
MAX_RAW_CHARS = 20_000

_EVENT_START = re.compile(rb"<event[\s/>]")
_EVENT_END = re.compile(rb"</event\s*>")
# Between events on a stream: whitespace, XML declarations, comments and a
# wrapping <events> tag are framing, not records.
_FRAMING = re.compile(rb"\s+|<\?xml[^>]*\?>|<!--.*?-->|</?events\s*>", re.DOTALL)


def is_rejection(result: dict[str, Any]) -> bool:
    """True if a `parse_cot_event` result is a quarantine row rather than a track point."""
    return "reason" in result and "quarantined_at" in result


def _raw(el: Element | bytes | str) -> str:
    if isinstance(el, Element):
        text = tostring(el, encoding="unicode")
    elif isinstance(el, bytes):
        text = el.decode("utf-8", errors="replace")
    else:
        text = el
    return text if len(text) <= MAX_RAW_CHARS else text[:MAX_RAW_CHARS] + "...[truncated]"


def _event_row(ev: Element, source: str) -> dict[str, Any]:
    """One event element -> a row dict (with lon/lat keys) or a rejection dict."""
    uid = text_or_none(ev.get("uid"))
    time = text_or_none(ev.get("time"))
    source_id = f"{uid}@{time or ''}" if uid else None
    point = ev.find("point")
    if point is None:
        return rejection(
            LAYER,
            source,
            source_id,
            reasons.MALFORMED_RECORD,
            "expected a <point lat=.. lon=..> child in <event>, found none",
            _raw(ev),
        )
    lat_t, lon_t = point.get("lat"), point.get("lon")
    if lat_t is None or lon_t is None:
        return rejection(
            LAYER,
            source,
            source_id,
            reasons.MALFORMED_RECORD,
            f"expected <point> with lat and lon attributes, found attributes {sorted(point.attrib)}",
            _raw(ev),
        )
    try:
        lat, lon = float(lat_t), float(lon_t)
    except ValueError:
        return rejection(
            LAYER,
            source,
            source_id,
            reasons.BAD_COORDINATE_TEXT,
            f"expected numeric <point> lat/lon, found lat={lat_t!r} lon={lon_t!r}",
            _raw(ev),
        )
    hae = number_or_text(point.get("hae"))
    if isinstance(hae, float) and hae == UNKNOWN_HAE:
        hae = float("nan")
    detail = ev.find("detail")
    track = detail.find("track") if detail is not None else None
    contact = detail.find("contact") if detail is not None else None
    marking_el = detail.find("marking") if detail is not None else None
    return {
        "source": source,
        "source_id": source_id,
        "marking": text_or_none("".join(marking_el.itertext())) if marking_el is not None else None,
        "track_id": uid,
        "time": time,
        "altitude_m": hae,
        "speed_mps": number_or_text(track.get("speed")) if track is not None else None,
        "heading_deg": number_or_text(track.get("course")) if track is not None else None,
        "callsign": text_or_none(contact.get("callsign")) if contact is not None else None,
        "platform_type": text_or_none(ev.get("type")),
        "stale_at": text_or_none(ev.get("stale")),
        "lon": lon,
        "lat": lat,
    }


def _parse_chunk(chunk: bytes, source: str, name: object) -> dict[str, Any]:
    """One serialized event (from a datagram or a stream) -> row or rejection.

    Hostile XML raises (the connection or file should be dropped, not quietly
    logged); anything else that is not one well-formed <event> is rejected.
    """
    try:
        root = xmlsafe.parse_bytes(chunk, name=name)
    except HostileInputError:
        raise
    except UnreadableInputError as exc:
        return rejection(
            LAYER,
            source,
            None,
            reasons.MALFORMED_RECORD,
            f"expected one well-formed <event> element, found {exc.reason}",
            _raw(chunk),
        )
    if xmlsafe.local_name(root.tag) != "event":
        return rejection(
            LAYER,
            source,
            None,
            reasons.MALFORMED_RECORD,
            f"expected an <event> element, found <{root.tag}>",
            _raw(chunk),
        )
    return _event_row(root, source)


def parse_cot_event(
    xml_bytes: bytes, *, source: str, name: object = "CoT message"
) -> dict[str, Any]:
    """Parse one CoT message (a UDP datagram, or one event cut from a TCP stream).

    Returns either a row dict with the canonical `track_points` keys plus
    `geometry` (a shapely Point), or a rejection dict from `base.rejection`;
    tell them apart with `is_rejection`. Raises HostileInputError for DTDs or
    entities, so a listener can drop the peer.
    """
    result = _parse_chunk(xml_bytes, source, name)
    if is_rejection(result):
        return result
    lon, lat = result.pop("lon"), result.pop("lat")
    result["geometry"] = shapely.Point(lon, lat)
    return result


def parse_cot_message(xml_bytes: bytes, *, source: str, name: object = "CoT message") -> tuple[str, dict[str, Any]]:
    """`parse_cot_event` for any event, as the live listeners need it: (layer, row or rejection).

    A position report gives a `track_points` row, a drawing an `overlays` row, an event of our own
    data package its record's layer and row (rows hold a shapely `geometry`); any other type is a
    `track_points` rejection (`unsupported_type`). Raises HostileInputError as parse_cot_event does.
    """
    try:
        root = xmlsafe.parse_bytes(xml_bytes, name=name)
    except UnreadableInputError:
        return LAYER, parse_cot_event(xml_bytes, source=source, name=name)  # its rejection says why
    if xmlsafe.local_name(root.tag) != "event":
        return LAYER, parse_cot_event(xml_bytes, source=source, name=name)
    where = drawings.classify(root)
    if where == LAYER:
        return LAYER, parse_cot_event(xml_bytes, source=source, name=name)
    raw = _raw(root)
    if where == "record":
        return drawings.record_row(root, source, raw)
    if where == drawings.LAYER:
        return drawings.LAYER, drawings.drawing_row(root, source, raw)
    return LAYER, drawings.unsupported(root, source, raw)


def _start_tag_end(buf: bytes | bytearray, start: int) -> int:
    """Index of the '>' closing the tag opened at `start` (quotes respected), or -1."""
    quote = 0
    for i in range(start, len(buf)):
        c = buf[i]
        if quote:
            if c == quote:
                quote = 0
        elif c in (0x22, 0x27):  # " '
            quote = c
        elif c == 0x3E:  # >
            return i
    return -1


def _leftover(data: bytes | bytearray, name: object) -> bytes | None:
    """Non-framing bytes between events, or None if there are none.

    A DOCTYPE or ENTITY between events is an attack on whatever parses the
    stream next, so it raises instead of becoming an ordinary rejection.
    """
    rest = _FRAMING.sub(b"", bytes(data))
    if not rest:
        return None
    if b"<!DOCTYPE" in rest.upper() or b"<!ENTITY" in rest.upper():
        raise HostileInputError(name, "CoT stream contains a DOCTYPE/ENTITY declaration; refused")
    return bytes(data).strip()


def _drain(buf: bytearray, final: bool, name: object, max_event_bytes: int) -> Iterator[bytes]:
    while True:
        m = _EVENT_START.search(buf)
        if m is None:
            # No event start in sight: flush at the end, or when the buffer
            # has grown past any event's size (so junk cannot pile up).
            if final or len(buf) > max_event_bytes:
                junk = _leftover(buf, name)
                del buf[:]
                if junk:
                    yield junk
            return
        if m.start():
            junk = _leftover(buf[: m.start()], name)
            del buf[: m.start()]
            if junk:
                yield junk
        gt = _start_tag_end(buf, 0)
        if gt < 0:
            end = None
        elif buf[gt - 1] == 0x2F:  # "/>": a self-closing (empty) event
            end = gt + 1
        else:
            close = _EVENT_END.search(buf, gt)
            end = close.end() if close else None
        if end is None:
            if len(buf) > max_event_bytes:
                raise HostileInputError(
                    name, f"CoT event longer than {max_event_bytes} bytes without </event>; refused"
                )
            if final:
                junk = bytes(buf).strip()
                del buf[:]
                if junk:
                    yield junk  # a truncated event: the caller rejects it
            return
        yield bytes(buf[:end])
        del buf[:end]


def iter_cot_events(
    stream: BinaryIO | Iterable[bytes],
    *,
    name: object = "CoT stream",
    max_event_bytes: int = MAX_EVENT_BYTES,
) -> Iterator[bytes]:
    """Split a byte stream of concatenated CoT events (TAK's TCP framing) into events.

    `stream` is a binary file object (read in 64 KiB blocks) or any iterable of
    byte chunks (e.g. from a socket). Yields each `<event>...</event>` as bytes.
    Whitespace, XML declarations, comments and `<events>` wrappers between events
    are framing and skipped; any other bytes between events are yielded as
    they are, so `parse_cot_event` rejects them and nothing vanishes unnoticed.
    """
    if hasattr(stream, "read"):
        reader = stream  # type: ignore[assignment]
        chunks: Iterable[bytes] = iter(lambda: reader.read(65536), b"")  # type: ignore[union-attr]
    else:
        chunks = stream  # type: ignore[assignment]
    buf = bytearray()
    for chunk in chunks:
        buf += chunk
        yield from _drain(buf, False, name, max_event_bytes)
    yield from _drain(buf, True, name, max_event_bytes)


def _find_events(root: Element) -> list[Element]:
    """Event elements under `root`, in document order, not looking inside events."""
    if xmlsafe.local_name(root.tag) == "event":
        return [root]
    found: list[Element] = []
    stack = list(reversed(list(root)))
    while stack:
        el = stack.pop()
        if xmlsafe.local_name(el.tag) == "event":
            found.append(el)
        else:
            stack.extend(reversed(list(el)))
    return found


def result_from_parsed(parsed: Iterable[dict[str, Any]]) -> ReadResult:
    """Assemble rows and rejections (from `_event_row`/`_parse_chunk`) into a ReadResult."""
    rows: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    xs: list[float] = []
    ys: list[float] = []
    for r in parsed:
        if is_rejection(r):
            rejected.append(r)
            continue
        if "geometry" in r:  # from parse_cot_event
            g = r.pop("geometry")
            r["lon"], r["lat"] = g.x, g.y
        xs.append(r.pop("lon"))
        ys.append(r.pop("lat"))
        rows.append(r)
    geometry = gpd.GeoSeries(shapely.points(np.asarray(xs, float), np.asarray(ys, float)), crs=CRS)
    frame = frame_from_rows(LAYER, rows, geometry)
    return ReadResult(LAYER, frame, rejections(rejected), records_read=len(rows) + len(rejected))


def read_cot(path: Path, *, source: str, max_bytes: int = MAX_INPUT_BYTES, **_: Any) -> ReadResult:
    """Read a CoT file: one `<event>`, a root wrapping events, or concatenated events.

    Raises UnreadableInputError for a missing, oversized or non-XML file (or
    XML that holds no events but other elements), HostileInputError for DTDs
    and entities. Unknown options are ignored so one option set can be passed
    to every reader.
    """
    path = Path(path)
    return _read_cot_data(read_bytes(path, max_bytes), path, source, max_bytes)


def _read_cot_data(data: bytes, path: Path, source: str, max_bytes: int) -> ReadResult:
    if xmlsafe.streamable(data):
        try:
            return _read_streamed(data, path, source)
        except xmlsafe.StreamRefused:
            pass  # the ElementTree path below gives such a document its usual verdict
    try:
        root = xmlsafe.parse_bytes(data, name=path)
    except HostileInputError:
        raise
    except UnreadableInputError as exc:
        # Events captured from a TCP stream are concatenated without a root:
        # not one XML document, but a perfectly good CoT file.
        if "junk after document element" in exc.reason and _EVENT_START.search(data):
            chunks = iter_cot_events(
                [data], name=path, max_event_bytes=max(max_bytes, MAX_EVENT_BYTES)
            )
            return result_from_parsed(_parse_chunk(c, source, path) for c in chunks)
        raise
    events = _find_events(root)
    if not events and len(root):
        raise UnreadableInputError(
            path,
            f"expected Cursor-on-Target <event> elements, found root <{xmlsafe.local_name(root.tag)}> "
            "with other elements and no <event>",
        )
    return result_from_parsed(_event_row(ev, source) for ev in events)


# -- streamed reading (lxml) ----------------------------------------------------
# Delete handled events from the tree every this many, so memory stays flat
# (events that are children of the root, as in every CoT capture we know; a
# document that wraps them deeper is kept whole until its end).
_CLEAR_EVERY = 4096
# Text that Python's str.strip() leaves as it is: printable ASCII, not blank at either end.
_NO_STRIP = r"^[!-~](?:.*[!-~])?$"
# Numbers that float() and Arrow's cast read to the same (correctly rounded) double.
_PLAIN_NUMBER = r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
_TEXT_FIELDS = ("uid", "time", "type", "stale", "hae", "speed", "course", "callsign", "marking")


class _Columns:
    """What `_event_row` reads from each event that becomes a row, as raw text per
    field (stripped and parsed per column afterwards), and the rejected events."""

    def __init__(self) -> None:
        self.text: dict[str, list[Any]] = {k: [] for k in _TEXT_FIELDS}
        self.xs: list[float] = []
        self.ys: list[float] = []
        self.rejected: list[Element | None] = []


def _read_streamed(data: bytes, path: Path, source: str) -> ReadResult:
    """`read_cot` for a document lxml may stream; StreamRefused if lxml does not read it cleanly.

    One pass, event by event, doing as little per event as it can: the first
    <point> and <detail> children and the <track>, <contact> and <marking> of the
    detail are picked in one walk over the children (as find() would pick them),
    and their attribute text is appended to the columns as found.
    """
    out = _Columns()
    text = out.text
    uid_a, time_a, type_a, stale_a, hae_a, speed_a, course_a, callsign_a, marking_a = (
        text[k].append for k in _TEXT_FIELDS)
    xs_a, ys_a = out.xs.append, out.ys.append
    rejected = out.rejected
    stream = xmlsafe.ElementStream(data, "{*}event", name=path)
    root: Any = None
    root_is_event = False
    pending: list[tuple[int, Any]] = []  # rejected events whose tail text is still being read
    seen = since_clear = 0
    for _, ev in stream:
        if pending:  # a later element has been read, so their tails are complete
            for i, el in pending:
                rejected[i] = _element_copy(el)
            pending.clear()
        if root is None:
            root = ev.getroottree().getroot()
            root_is_event = xmlsafe.local_name(root.tag) == "event"
        parent = ev.getparent()
        if (parent is not root or root_is_event) and parent is not None and _inside_event(parent):
            continue  # an event inside an event is part of it, as in _find_events
        seen += 1
        point = detail = None
        for child in ev:
            tag = child.tag
            if tag == "point":
                if point is None:
                    point = child
            elif tag == "detail" and detail is None:
                detail = child
        try:
            lat, lon = float(point.get("lat")), float(point.get("lon"))  # type: ignore[union-attr,arg-type]
        except (AttributeError, TypeError, ValueError):  # no point, no lat/lon, or not numbers
            pending.append((len(rejected), ev))
            rejected.append(None)
            continue
        ys_a(lat)
        xs_a(lon)
        get = ev.get
        uid_a(get("uid"))
        time_a(get("time"))
        type_a(get("type"))
        stale_a(get("stale"))
        hae_a(point.get("hae"))  # type: ignore[union-attr]
        track = contact = mark = None
        if detail is not None:
            for child in detail:
                tag = child.tag
                if tag == "track":
                    if track is None:
                        track = child
                elif tag == "contact":
                    if contact is None:
                        contact = child
                elif tag == "marking" and mark is None:
                    mark = child
        if track is None:
            speed_a(None)
            course_a(None)
        else:
            speed_a(track.get("speed"))
            course_a(track.get("course"))
        callsign_a(contact.get("callsign") if contact is not None else None)
        marking_a("".join(mark.itertext()) if mark is not None else None)
        since_clear += 1
        if since_clear >= _CLEAR_EVERY and parent is root and not root_is_event:
            del root[: root.index(ev)]  # handled events (none pending: this one is a row)
            since_clear = 0
    for i, el in pending:
        rejected[i] = _element_copy(el)
    if not seen and stream.root is not None and len(stream.root):
        raise UnreadableInputError(
            path,
            f"expected Cursor-on-Target <event> elements, found root <{xmlsafe.local_name(stream.root.tag)}> "
            "with other elements and no <event>",
        )
    return _streamed_result(source, out)


def _inside_event(el: Any) -> bool:
    while el is not None:
        if xmlsafe.local_name(el.tag) == "event":
            return True
        el = el.getparent()
    return False


def _element_copy(el: Any) -> Element:
    """An lxml element as the ElementTree element the whole-document parse would have
    given (tail text included), so `_event_row` and `_raw` treat it exactly as before."""
    copy = xmlsafe.parse_bytes(etree.tostring(el, with_tail=False), name="CoT event")
    copy.tail = el.tail
    return copy


def _streamed_result(source: str, out: _Columns) -> ReadResult:
    """The frame `result_from_parsed` builds from `_event_row` dicts, built column-wise."""
    n = len(out.xs)
    raw = out.text
    uid, time = _texts(raw["uid"]), _texts(raw["time"])
    source_id = pc.if_else(
        pc.is_valid(uid), pc.binary_join_element_wise(uid, pc.fill_null(time, ""), "@"),
        pa.scalar(None, pa.string()))
    altitude = _numbers(raw["hae"])
    if isinstance(altitude, np.ndarray):
        altitude[altitude == UNKNOWN_HAE] = np.nan
    else:
        altitude = [float("nan") if isinstance(v, float) and v == UNKNOWN_HAE else v for v in altitude]
    columns = {
        "source": _as_listed(pa.array([source] * n, pa.string())),
        "source_id": _as_listed(source_id),
        "marking": _as_listed(_texts(raw["marking"])),
        "track_id": _as_listed(uid),
        "time": _as_listed(time),
        "altitude_m": _as_listed(altitude),
        "speed_mps": _as_listed(_numbers(raw["speed"])),
        "heading_deg": _as_listed(_numbers(raw["course"])),
        "callsign": _as_listed(_texts(raw["callsign"])),
        "platform_type": _as_listed(_texts(raw["type"])),
        "stale_at": _as_listed(_texts(raw["stale"])),
    }
    if not n:  # as frame_from_rows leaves them: empty lists
        columns = {name: [] for name in columns}
    geometry = gpd.GeoSeries(shapely.points(np.asarray(out.xs, float), np.asarray(out.ys, float)), crs=CRS)
    frame = frame_from_columns(LAYER, columns, geometry)
    rows = [_event_row(el, source) for el in out.rejected if el is not None]
    return ReadResult(LAYER, frame, rejections(rows), records_read=n + len(rows))


def _texts(values: list[str | None]) -> pa.Array:
    """`text_or_none` of each value, as an Arrow string array (None -> null)."""
    arr = pa.array(values, pa.string())
    odd = pc.invert(pc.fill_null(pc.match_substring_regex(arr, _NO_STRIP), True))
    if not pc.any(odd).as_py():
        return arr
    fixed = [text_or_none(v) if o else v for v, o in zip(values, odd.to_pylist(), strict=True)]
    return pa.array(fixed, pa.string())


def _numbers(values: list[str | None]) -> np.ndarray | list[Any]:
    """`number_or_text` of each value: a float array, or (if any value stays text or
    every value is missing) the list of results, as `_event_row` would have listed them."""
    arr = pa.array(values, pa.string())
    plain = pc.fill_null(pc.match_substring_regex(arr, _PLAIN_NUMBER), False)
    if pc.all(pc.or_(plain, pc.is_null(arr))).as_py() and pc.any(plain).as_py():
        return pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False).copy()  # nulls: NaN
    nums = pc.cast(pc.if_else(plain, arr, pa.scalar(None, pa.string())), pa.float64()).to_pylist()
    out = [x if p else number_or_text(v) for v, x, p in zip(values, nums, plain.to_pylist(), strict=True)]
    if all(v is None or isinstance(v, float) for v in out) and any(v is not None for v in out):
        return np.array([np.nan if v is None else v for v in out], dtype=float)
    return out


def _as_listed(values: pa.Array | pa.ChunkedArray | np.ndarray | list[Any]) -> pd.Series | list[Any]:
    """A column as pandas infers it from the list of values `frame_from_rows` passed:
    text with some values -> `str`, floats -> float64, nothing at all or a mix -> object."""
    if isinstance(values, list):
        return values
    if isinstance(values, np.ndarray):
        return pd.Series(values)
    if values.null_count == len(values):
        return pd.Series([None] * len(values), dtype=object)
    return pd.Series(values.to_pandas())


# -- every layer: drawings, our own records, a TAK data package ---------------------------------
_XML_DECL = re.compile(rb"^\s*(?:\xef\xbb\xbf)?<\?xml[^>]*\?>")
# A data package of ours holds one .cot per record; TAK's own packages a few. Far more entries
# than a KMZ, so the entry cap is raised for them (the size caps of ziputil stay).
MAX_PACKAGE_ENTRIES = 200_000


def is_data_package(path: Path) -> bool:
    """A zip holding MANIFEST/manifest.xml: a TAK data (mission) package."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            return TAK_MANIFEST in {n.replace("\\", "/") for n in zf.namelist()}
    except (zipfile.BadZipFile, OSError):
        return False


def _package_bytes(path: Path, max_bytes: int) -> bytes:
    """The .cot members of a data package as one `<events>` document (declarations dropped),
    refusing a DOCTYPE/ENTITY in any member as in every other CoT input."""
    parts = [b"<events>"]
    with ziputil.staging_dir() as staging:
        members = ziputil.extract(path, staging, want=lambda n: n.lower().endswith(".cot"),
                                  max_entries=MAX_PACKAGE_ENTRIES, max_total_bytes=max_bytes)
        for member in sorted(members, key=lambda m: m.name):
            data = member.path.read_bytes()
            if b"<!DOCTYPE" in data.upper() or b"<!ENTITY" in data.upper():
                raise HostileInputError(f"{path}!{member.name}", "CoT contains a DOCTYPE/ENTITY declaration; refused")
            parts.append(_XML_DECL.sub(b"", data, count=1))
    parts.append(b"</events>")
    return b"\n".join(parts)


def read_cot_layers(path: Path, *, source: str, layer: str | None = None, max_bytes: int = MAX_INPUT_BYTES,
                    **_: Any) -> list[ReadResult]:
    """Every layer a CoT file or TAK data package holds: position reports as track points, drawings
    as overlays, our own exported records in their layers (ingest/adapters/cot_drawings.py), other
    event types quarantined. `layer` keeps only that layer's result (refused if it holds none)."""
    path = Path(path)
    data = _package_bytes(path, max_bytes) if is_data_package(path) else read_bytes(path, max_bytes)
    base = _read_cot_data(data, path, source, max_bytes)
    out = [base]
    if COT_RECORD_DETAIL.encode() in data or _has_other_types(base.frame):
        out = _sorted_layers(data, path, source, base)
    if layer is not None:
        out = [r for r in out if r.layer == layer]
        if not out:
            raise UnsupportedOptionError("cot", "--layer", f"{path} holds no {layer} records")
    return out


def _has_other_types(frame: pd.DataFrame) -> bool:
    """Whether the track point pass read an event that is not a position report (a drawing, a chat):
    only a file holding one (or our own record detail) needs the element-by-element second pass.
    Read off the column the first pass made, so a file of position reports costs one scan of it."""
    if not len(frame) or "platform_type" not in frame:
        return False
    types = pd.Series(frame["platform_type"], dtype="string")
    return bool((types.notna() & ~types.str.startswith("a-").fillna(True)).any())


def _events(data: bytes, path: Path) -> list[Element]:
    try:
        return _find_events(xmlsafe.parse_bytes(data, name=path))
    except UnreadableInputError:  # concatenated events: each one on its own
        found = []
        for chunk in iter_cot_events([data], name=path, max_event_bytes=max(len(data), MAX_EVENT_BYTES)):
            try:
                root = xmlsafe.parse_bytes(chunk, name=path)
            except UnreadableInputError:
                continue  # already rejected by the track point pass
            if xmlsafe.local_name(root.tag) == "event":
                found.append(root)
        return found


def _sorted_layers(data: bytes, path: Path, source: str, base: ReadResult) -> list[ReadResult]:
    rows: dict[str, list[dict[str, Any]]] = {}
    rejected: dict[str, list[dict[str, Any]]] = {}
    diverted: set[str] = set()
    for ev in _events(data, path):
        where = drawings.classify(ev)
        if where == "track_points":
            continue
        uid = text_or_none(ev.get("uid"))
        diverted.add(f"{uid}@{text_or_none(ev.get('time')) or ''}")
        raw = _raw(ev)
        if where == "record":
            layer, row = drawings.record_row(ev, source, raw)
        elif where == drawings.LAYER:
            layer, row = drawings.LAYER, drawings.drawing_row(ev, source, raw)
        else:
            layer, row = "track_points", drawings.unsupported(ev, source, raw)
        (rejected if is_rejection(row) else rows).setdefault(layer, []).append(row)
    frame, bad = base.frame, base.rejected
    if diverted:
        frame = frame[~frame["source_id"].isin(diverted).to_numpy()] if len(frame) else frame
        bad = bad[~bad["source_id"].isin(diverted).to_numpy()] if len(bad) else bad
    results = drawings.results(rows, rejected)
    track = next((r for r in results if r.layer == "track_points"), None)
    kept = ReadResult("track_points", frame, bad)
    if track is None:
        return [kept, *results] if len(frame) or len(bad) else results
    merged = ReadResult("track_points", pd.concat([frame, track.frame], ignore_index=True) if len(frame) else track.frame,
                        pd.concat([bad, track.rejected], ignore_index=True) if len(bad) else track.rejected)
    return [merged if r is track else r for r in results]
