"""`watchfloor demo load|generate|live`: the bundled demo scenario (ingest/demo/)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd


def cmd_demo_load(args: argparse.Namespace) -> int:
    from ingest.demo import load_demo
    from ingest.store import open_store

    store = open_store()
    if args.if_empty and not store.is_empty():
        print("store already holds data; demo not loaded (drop --if-empty to load it again)")
        return 0
    now = pd.Timestamp(args.now).to_pydatetime() if args.now else datetime.now(UTC)
    for s in load_demo(store, now=now):
        print(f"{s.source}: {s.layer}: {s.line()}")
    return 0


def cmd_demo_generate(args: argparse.Namespace) -> int:
    from ingest.demo.scenario import generate

    now = pd.Timestamp(args.now).to_pydatetime() if args.now else datetime.now(UTC)
    out = Path(args.outdir)
    out.mkdir(parents=True, exist_ok=True)
    for layer, files in generate(out, now).items():
        print(f"{layer}: {', '.join(str(f) for f in files)}")
    return 0


def cmd_demo_live(args: argparse.Namespace) -> int:
    """Play the demo's outside world in real time: drones over CoT, incident, unit and imagery feeds."""
    import logging
    from datetime import UTC, datetime

    from ingest.demo.live import Endpoints, LiveWorld, drone_summary, feeds_config, run

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


def add_parsers(sub: argparse._SubParsersAction) -> None:
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
