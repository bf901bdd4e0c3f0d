"""`watchfloor demo load|generate`: the bundled demo scenario (ingest/demo/)."""

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
