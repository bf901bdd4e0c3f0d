"""`watchfloor` command line: ingest files, load the demo, inspect the store.

Thin: parses arguments, calls the same functions the dashboard and tests use,
prints a one-line summary per input and exits non-zero when an input could not
be read at all.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from ingest.errors import WatchfloorError


def _store():
    from ingest.store import open_store

    return open_store()


def cmd_ingest(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ingest.adapters import READERS, detect
    from ingest.adapters.options import call, declared
    from ingest.pipeline import ingest

    paths: list[Path] = []
    for p in map(Path, args.paths):
        paths += sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else [p]
    store = _store()
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

    allow = AllowList.parse(args.allow_host or [])
    check_url(args.url, allow, feed="stac-search")
    bbox = [float(v) for v in args.bbox.split(",")] if args.bbox else None
    result = search_stac_api(args.url, source=args.source, bbox=bbox,
                             datetime=[args.since, args.until] if (args.since or args.until) else None,
                             collections=args.collections.split(",") if args.collections else None,
                             max_cloud=args.max_cloud, max_items=args.max_items, max_pages=args.max_pages,
                             allowed_hosts=args.allow_host, default_marking=args.marking)
    summary = ingest(_store(), result, source=args.source, default_marking=args.marking)
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


def cmd_demo_load(args: argparse.Namespace) -> int:
    from ingest.demo import load_demo

    store = _store()
    if args.if_empty and not store.is_empty():
        print("store already holds data; demo not loaded (drop --if-empty to load it again)")
        return 0
    now = pd.Timestamp(args.now).to_pydatetime() if args.now else datetime.now(timezone.utc)
    for s in load_demo(store, now=now):
        print(f"{s.source}: {s.layer}: {s.line()}")
    return 0


def cmd_demo_generate(args: argparse.Namespace) -> int:
    from ingest.demo_scenario import generate

    now = pd.Timestamp(args.now).to_pydatetime() if args.now else datetime.now(timezone.utc)
    out = Path(args.outdir)
    out.mkdir(parents=True, exist_ok=True)
    for layer, files in generate(out, now).items():
        print(f"{layer}: {', '.join(str(f) for f in files)}")
    return 0


def cmd_demo_live(args: argparse.Namespace) -> int:
    """Play the demo's outside world in real time: drones over CoT, incident, unit and imagery feeds."""
    import logging
    from datetime import UTC, datetime

    from ingest.demo_live import Endpoints, LiveWorld, drone_summary, feeds_config, run

    endpoints = Endpoints(args.host, args.cot_udp, args.cot_tcp, args.http)
    if args.print_feeds:
        print(feeds_config(endpoints), end="")
        return 0
    world = LiveWorld()
    if args.list:
        print("\n".join(drone_summary(world, datetime.now(UTC).timestamp())))
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    print(f"live demo: CoT to udp {args.host}:{args.cot_udp} and tcp {args.host}:{args.cot_tcp}; feeds at "
          f"http://{args.host}:{args.http}/ (receive them with `watchfloor feeds run --config FILE`, FILE from "
          "`watchfloor demo live --print-feeds`); Ctrl-C stops", flush=True)
    try:
        run(endpoints, world=world)
    except KeyboardInterrupt:
        pass
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    """Run the watch floor's processes together on this machine (layers/services.py)."""
    import logging

    from ingest.config import home
    from layers.services import Supervisor, procfile, services

    feeds = Path(args.feeds) if args.feeds else None
    demo_args: tuple[str, ...] = ()
    if args.demo:
        from ingest.demo_live import Endpoints, feeds_config

        base = args.demo_ports
        endpoints = Endpoints(cot_udp=base, cot_tcp=base + 1, http=base + 2) if base else Endpoints()
        demo_args = ("--cot-udp", str(endpoints.cot_udp), "--cot-tcp", str(endpoints.cot_tcp),
                     "--http", str(endpoints.http))
        if feeds is None:
            feeds = home() / "demo-feeds.toml"
            feeds.parent.mkdir(parents=True, exist_ok=True)
            feeds.write_text(feeds_config(endpoints))
    elif feeds is None and (home() / "feeds.toml").exists():
        feeds = home() / "feeds.toml"
    svcs = services(demo=args.demo, feeds_config=feeds, port=args.port, address=args.address,
                    demo_args=demo_args)
    if args.procfile:
        print(procfile(svcs), end="")
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s watchfloor up: %(message)s")
    print(f"watchfloor up: {', '.join(s.name for s in svcs)}; dashboard on http://localhost:{args.port} "
          "(Ctrl-C stops everything)", flush=True)
    return Supervisor(svcs).run()


def cmd_alerts_run(args: argparse.Namespace) -> int:
    """Evaluate the alert rules over the store, now and then every --interval seconds."""
    import time as _time

    from layers.alerting import refresh_alerts
    from layers.alerts import load_rules

    store, rules = _store(), load_rules(Path(args.rules) if args.rules else None)
    while True:
        run = refresh_alerts(store, rules=rules)
        print(f"{run.at:%Y-%m-%d %H:%M:%S}Z {run.line()}", flush=True)
        if args.once:
            return 0
        _time.sleep(args.interval)


def cmd_alerts_list(args: argparse.Namespace) -> int:
    from layers.table import alert_table

    frame = _store().alerts(states=args.state or None, limit=args.limit)
    if frame.empty:
        print("no alerts")
        return 0
    with pd.option_context("display.max_colwidth", 90, "display.width", 220):
        print(alert_table(frame)[["time", "severity", "state", "rule", "message", "key"]].to_string(index=False))
    return 0


def cmd_alerts_ack(args: argparse.Namespace) -> int:
    """Acknowledge alerts as a signed-in analyst: only alerts that person may see (an unknown key and
    one they may not see get the same answer)."""
    from layers.access import require, restrict
    from layers.auth_errors import AuthenticationError
    from layers.picture import subject_markings
    from layers.users import sign_in_cli

    try:
        viewer = sign_in_cli(args.user, bool(args.password_stdin))
        require(viewer, "acknowledge")
    except AuthenticationError as exc:
        print(f"error: {exc.public_message}", file=sys.stderr)
        return 2
    store = _store()
    alerts = store.alerts()
    visible = restrict({"alerts": alerts}, viewer, extra_subjects=subject_markings(store, alerts))["alerts"]
    allowed = set(visible["key"].astype(str))
    by = f"{viewer.display_name or viewer.username} ({viewer.username}, {viewer.nation})"
    missing = [k for k in args.keys if k not in allowed or not store.acknowledge(k, by)]
    for k in missing:
        print(f"error: no alert with key {k!r}", file=sys.stderr)
    return 1 if missing else 0


def cmd_status(args: argparse.Namespace) -> int:
    from ingest.schema import LAYERS

    store = _store()
    print(f"{'layer':<16}{'records':>10}  {'newest':<26}last write")
    for name in LAYERS:
        s = store.stats(name)
        print(f"{name:<16}{s.count:>10}  {str(s.newest or '-'):<26}{s.last_write or '-'}")
    print(f"quarantined: {len(store.quarantined())}")
    return 0


def cmd_quarantine(args: argparse.Namespace) -> int:
    q = _store().quarantined(layer=args.layer, source=args.source, limit=args.limit)
    if q.empty:
        print("no quarantined records")
        return 0
    with pd.option_context("display.max_colwidth", 80, "display.width", 200):
        print(q[["quarantined_at", "layer", "source", "source_id", "reason", "detail"]].to_string(index=False))
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="watchfloor", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

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

    d = sub.add_parser("demo", help="the bundled demo scenario")
    dsub = d.add_subparsers(dest="demo_command", required=True)
    dl = dsub.add_parser("load", help="generate the scenario relative to now and ingest it")
    dl.add_argument("--if-empty", action="store_true", help="only when the store holds nothing yet")
    dl.add_argument("--now", help="ISO 8601 time the scenario ends at (default: now)")
    dl.set_defaults(func=cmd_demo_load)
    dg = dsub.add_parser("generate", help="write the scenario's input files to a folder")
    dg.add_argument("outdir")
    dg.add_argument("--now", help="ISO 8601 time the scenario ends at (default: now)")
    dg.set_defaults(func=cmd_demo_generate)
    dv = dsub.add_parser("live", help="keep the scenario moving in real time through the real feed paths")
    dv.add_argument("--host", default="127.0.0.1", help="where to send CoT and serve the feeds (loopback)")
    dv.add_argument("--cot-udp", type=int, default=16969, help="CoT UDP port of the feed runner's listener")
    dv.add_argument("--cot-tcp", type=int, default=18087, help="CoT TCP port of the feed runner's listener")
    dv.add_argument("--http", type=int, default=18765, help="port of the incident, unit and imagery feeds")
    dv.add_argument("--print-feeds", action="store_true", help="print the feeds.toml that receives it, and exit")
    dv.add_argument("--list", action="store_true", help="list the drones and where they are, and exit")
    dv.set_defaults(func=cmd_demo_live)

    from ingest.feeds.runner import add_arguments, feeds_command

    f = sub.add_parser("feeds", help="live feeds declared in feeds.toml")
    fsub = f.add_subparsers(dest="feeds_command", required=True)
    fr = fsub.add_parser("run", help="poll and listen to every feed, writing to the store, until stopped")
    add_arguments(fr)
    fr.set_defaults(func=feeds_command)

    from layers.export.cli import add_export_arguments, export_command

    e = sub.add_parser("export", help="export layers, filtered as on screen, in analysts' formats")
    add_export_arguments(e)
    e.set_defaults(func=export_command)

    a = sub.add_parser("alerts", help="alert rules over all feeds: evaluate, list, acknowledge")
    asub = a.add_subparsers(dest="alerts_command", required=True)
    ar = asub.add_parser("run", help="evaluate the rules now and every --interval seconds")
    ar.add_argument("--once", action="store_true")
    ar.add_argument("--interval", type=float, default=60.0)
    ar.add_argument("--rules", help="rules file (default $WATCHFLOOR_HOME/alerts.toml over the bundled defaults)")
    ar.set_defaults(func=cmd_alerts_run)
    al = asub.add_parser("list", help="list alerts")
    al.add_argument("--state", action="append", choices=["open", "acknowledged", "resolved"])
    al.add_argument("--limit", type=int, default=50)
    al.set_defaults(func=cmd_alerts_list)
    ak = asub.add_parser("ack", help="acknowledge alerts by key")
    ak.add_argument("keys", nargs="+")
    ak.add_argument("--user", required=True, help="sign in as this analyst (the acknowledgement is theirs)")
    ak.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    ak.set_defaults(func=cmd_alerts_ack)

    from ingest.store.postgis import add_db_arguments, db_command

    db = sub.add_parser("db", help="the PostGIS store's schema: upgrade, status")
    add_db_arguments(db)
    db.set_defaults(func=db_command)

    from layers.users import add_users_arguments

    u = sub.add_parser("users", help="local sign-in accounts (argon2 hashes in $WATCHFLOOR_HOME/users.toml)")
    add_users_arguments(u)

    up = sub.add_parser("up", help="run feeds, alert evaluation and the dashboard together (make run)")
    up.add_argument("--demo", action="store_true", help="also play the live demo and receive it")
    up.add_argument("--port", type=int, default=8501)
    up.add_argument("--address", help="the dashboard's listening address (Streamlit's default otherwise)")
    up.add_argument("--feeds", help="feeds file (default $WATCHFLOOR_HOME/feeds.toml if there is one)")
    up.add_argument("--demo-ports", type=int, metavar="N",
                    help="the live demo's ports: CoT UDP N, CoT TCP N+1, HTTP N+2 (default 16969, 18087, 18765)")
    up.add_argument("--procfile", action="store_true", help="print the same processes as a Procfile, and exit")
    up.set_defaults(func=cmd_up)

    s = sub.add_parser("status", help="records per layer")
    s.set_defaults(func=cmd_status)

    q = sub.add_parser("quarantine", help="list quarantined records")
    q.add_argument("--layer")
    q.add_argument("--source")
    q.add_argument("--limit", type=int, default=50)
    q.set_defaults(func=cmd_quarantine)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except WatchfloorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
