"""`watchfloor ingest` (files, format named or detected) and `watchfloor stac-search` (a STAC API)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ingest.errors import WatchfloorError


def cmd_ingest(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ingest.adapters import READERS, detect
    from ingest.adapters.options import call, declared
    from ingest.pipeline import ingest
    from ingest.store import open_store

    paths: list[Path] = []
    for p in map(Path, args.paths):
        paths += sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else [p]
    store = open_store()
    failed = 0
    total = None
    for path in tqdm(paths, desc="ingest", unit="file", disable=len(paths) < 2 or not sys.stderr.isatty()):
        try:
            fmt = detect(path) if args.format == "auto" else args.format
            if fmt not in READERS:
                raise WatchfloorError(f"{path}: unknown format {fmt!r}; expected one of {', '.join(READERS)}")
            layer, reader = READERS[fmt]
            options = {"columns": _pairs(args.column, "--column") or None,
                       "defaults": _pairs(args.default, "--default") or None,
                       "table": args.table, "kind": args.kind}
            options = {k: v for k, v in options.items() if v is not None}
            if args.no_quicklook and "quicklook" in declared(reader):
                options["quicklook"] = False  # a hint to skip work, meaningful to raster readers only
            if layer is None:
                if not args.layer:
                    raise WatchfloorError(f"{path}: format {fmt!r} holds any layer; say which with --layer")
                layer = args.layer
            elif args.layer and args.layer != layer:
                raise WatchfloorError(f"{path}: format {fmt!r} holds {layer}, not {args.layer}")
            result = call(fmt, reader, layer, path, source=args.source, **options)
            summary = ingest(store, result, source=args.source, default_marking=args.marking)
        except WatchfloorError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
            continue
        print(f"{path}: {layer}: {summary.line()}")
        total = summary if total is None else total + summary
    if total is not None and len(paths) > 1:
        print(f"total: {total.line()}")
    return 1 if failed else 0


def cmd_stac_search(args: argparse.Namespace) -> int:
    """Search a STAC API for imagery footprints and ingest them, after the SSRF guard."""
    from ingest.adapters.stac_api import search_stac_api
    from ingest.feeds.netguard import AllowList, check_url
    from ingest.pipeline import ingest
    from ingest.store import open_store

    allow = AllowList.parse(args.allow_host or [])
    check_url(args.url, allow, feed="stac-search")
    bbox = [float(v) for v in args.bbox.split(",")] if args.bbox else None
    result = search_stac_api(args.url, source=args.source, bbox=bbox,
                             datetime=[args.since, args.until] if (args.since or args.until) else None,
                             collections=args.collections.split(",") if args.collections else None,
                             max_cloud=args.max_cloud, max_items=args.max_items, max_pages=args.max_pages,
                             allowed_hosts=args.allow_host, default_marking=args.marking)
    summary = ingest(open_store(), result, source=args.source, default_marking=args.marking)
    print(f"{args.url}: imagery: {summary.line()}")
    return 0


def _pairs(values: list[str] | None, what: str) -> dict[str, str]:
    out = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise WatchfloorError(f"{what}: expected FIELD=VALUE, found {item!r}")
        out[key.strip()] = value.strip()
    return out


def add_parsers(sub: argparse._SubParsersAction) -> None:
    i = sub.add_parser("ingest", help="read files into the store")
    i.add_argument("format", help="adapter format, or 'auto' to detect it from each file")
    i.add_argument("paths", nargs="+", help="files or folders")
    i.add_argument("--source", required=True, help="source name recorded on every record")
    i.add_argument("--marking", help="default releasability marking for records that carry none")
    i.add_argument("--layer", help="target layer, for formats that can hold any layer (geojson, kml, gpkg)")
    i.add_argument("--table", help="GeoPackage table to read")
    i.add_argument("--kind", help="infrastructure kind for KML placemarks that do not say")
    i.add_argument("--column", action="append", metavar="FIELD=HEADER", help="map a CSV header to a field")
    i.add_argument("--default", action="append", metavar="FIELD=VALUE", help="value for a field the file lacks")
    i.add_argument("--no-quicklook", action="store_true", help="rasters: do not write quicklook PNGs")

    ss = sub.add_parser("stac-search", help="search a STAC API for imagery footprints and ingest them")
    ss.add_argument("url", help="the STAC API landing page (http/https)")
    ss.add_argument("--source", required=True)
    ss.add_argument("--bbox", help="minx,miny,maxx,maxy in lon/lat")
    ss.add_argument("--since", help="ISO 8601 start")
    ss.add_argument("--until", help="ISO 8601 end")
    ss.add_argument("--collections", help="comma-separated collection ids")
    ss.add_argument("--max-cloud", type=float, help="cloud-cover limit, percent")
    ss.add_argument("--max-items", type=int, default=500)
    ss.add_argument("--max-pages", type=int, default=20)
    ss.add_argument("--allow-host", action="append", help="host, IP or CIDR the search may reach even if private")
    ss.add_argument("--marking", help="default releasability marking")
    ss.set_defaults(func=cmd_stac_search)
    i.set_defaults(func=cmd_ingest)
