"""STAC Item / ItemCollection JSON -> `imagery` footprints.

A STAC search result (an ItemCollection, which is a GeoJSON FeatureCollection
of Items) or a single Item saved to disk. Each Item is checked with pystac's
own `Item.from_dict` (with migration from older STAC versions; it never
fetches anything for this), one at a time, so a broken Item is one rejection
carrying pystac's message instead of a failed file.

    id                                  -> source_id
    geometry                            -> geometry (the footprint)
    properties.datetime (else start_datetime) -> acquired_at   (text as found)
    collection (or properties.collection, STAC < 1.0) -> collection
    properties.platform, .constellation -> platform, constellation
    properties["eo:cloud_cover"]        -> cloud_cover
    properties.gsd                      -> gsd
    assets.thumbnail.href (else the first asset with role "thumbnail") -> thumbnail
    properties["proj:code"] or ["proj:epsg"] -> native_crs ("EPSG:32645")
    properties["watchfloor:marking"]    -> marking
An ItemCollection's own `watchfloor:marking` member becomes the default marking.
Links are never followed, and relative hrefs are kept as the catalogue gives them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pystac

from ingest.adapters.base import ReadResult
from ingest.adapters.common import (
    MAX_INPUT_BYTES,
    malformed,
    number_or_text,
    read_records,
    text_or_none,
)
from ingest.adapters.geojson import BadGeometryError, build_geometry, load_json, raw_json
from ingest.errors import UnreadableInputError

LAYER = "imagery"
MARKING_KEY = "watchfloor:marking"


def _thumbnail(item: pystac.Item) -> str | None:
    assets = item.assets
    if "thumbnail" in assets:
        return assets["thumbnail"].href
    for asset in assets.values():
        if "thumbnail" in (asset.roles or []):
            return asset.href
    return None


def _native_crs(props: Mapping[str, Any]) -> str | None:
    code = props.get("proj:code")
    if isinstance(code, str) and code.strip():
        return code.strip()
    epsg = props.get("proj:epsg")
    if isinstance(epsg, int) and not isinstance(epsg, bool):
        return f"EPSG:{epsg}"
    return None


def _items(doc: Any, path: Path) -> tuple[list[Any], Mapping[str, Any]]:
    if isinstance(doc, list):
        return doc, {}
    if not isinstance(doc, Mapping):
        raise UnreadableInputError(
            path, f"expected a STAC Item or ItemCollection, found a JSON {type(doc).__name__}"
        )
    kind = doc.get("type")
    if kind == "FeatureCollection":
        feats = doc.get("features")
        if not isinstance(feats, list):
            raise UnreadableInputError(path, "expected a 'features' array in the ItemCollection")
        return feats, doc
    if kind == "Feature":
        return [doc], {}
    raise UnreadableInputError(
        path,
        f"expected a STAC Item or ItemCollection, found type {kind!r}"
        + (
            " (a Catalog or Collection lists items by link; save the items themselves)"
            if kind in ("Catalog", "Collection")
            else ""
        ),
    )


def item_row(d: Any, *, source: str) -> tuple[dict[str, Any] | None, Any, dict[str, Any] | None]:
    """One Item dict -> (row, footprint, None) or (None, None, rejection)."""
    sid = (
        text_or_none(d.get("id"))
        if isinstance(d, Mapping) and isinstance(d.get("id"), (str, int))
        else None
    )
    if not isinstance(d, Mapping):
        return malformed(LAYER, source, None, f"expected a STAC Item object, found {type(d).__name__}", raw_json(d))
    try:
        item = pystac.Item.from_dict(dict(d), migrate=True, preserve_dict=True)
    except Exception as exc:  # noqa: BLE001 - pystac raises STACError, STACTypeError, ValueError, KeyError...
        msg = str(exc).strip() or type(exc).__name__
        return malformed(LAYER, source, sid, f"not a valid STAC Item (pystac: {msg})", raw_json(d))
    try:
        footprint = build_geometry(item.geometry)
    except BadGeometryError as exc:
        return malformed(LAYER, source, sid, f"geometry: {exc}", raw_json(d))
    props = item.properties
    acquired = props.get("datetime")
    if acquired is None:
        acquired = props.get("start_datetime")
    row = {
        "source": source,
        "source_id": text_or_none(item.id),
        "marking": text_or_none(props.get(MARKING_KEY))
        if isinstance(props.get(MARKING_KEY), str)
        else None,
        "acquired_at": acquired,
        "collection": text_or_none(item.collection_id or props.get("collection")),
        "platform": text_or_none(props.get("platform")),
        "constellation": text_or_none(props.get("constellation")),
        "cloud_cover": number_or_text(props.get("eo:cloud_cover")),
        "gsd": number_or_text(props.get("gsd")),
        "thumbnail": _thumbnail(item),
        "native_crs": _native_crs(props),
        "quicklook": None,
    }
    return row, footprint, None


def read_stac(path: Path, *, source: str, max_bytes: int = MAX_INPUT_BYTES, **_: Any) -> ReadResult:
    """Read a STAC Item or ItemCollection JSON file into `imagery` rows."""
    path = Path(path)
    doc = load_json(path, max_bytes)
    features, top = _items(doc, path)
    declared = top.get(MARKING_KEY) if top else None
    return read_records(LAYER, features, lambda d: item_row(d, source=source),
                        default_marking=text_or_none(declared) if isinstance(declared, str) else None)
