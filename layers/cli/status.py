"""`watchfloor status` (records per layer) and `watchfloor quarantine` (what was refused, and why)."""

from __future__ import annotations

import argparse

import pandas as pd


def cmd_status(args: argparse.Namespace) -> int:
    from ingest.schema import LAYERS
    from ingest.store import open_store

    store = open_store()
    print(f"{'layer':<16}{'records':>10}  {'newest':<26}last write")
    for name in LAYERS:
        s = store.stats(name)
        print(f"{name:<16}{s.count:>10}  {s.newest or '-'!s:<26}{s.last_write or '-'}")
    print(f"quarantined: {len(store.quarantined())}")
    return 0


def cmd_quarantine(args: argparse.Namespace) -> int:
    from ingest.store import open_store

    q = open_store().quarantined(layer=args.layer, source=args.source, limit=args.limit)
    if q.empty:
        print("no quarantined records")
        return 0
    with pd.option_context("display.max_colwidth", 80, "display.width", 200):
        print(q[["quarantined_at", "layer", "source", "source_id", "reason", "detail"]].to_string(index=False))
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("status", help="records per layer")
    s.set_defaults(func=cmd_status)

    q = sub.add_parser("quarantine", help="list quarantined records")
    q.add_argument("--layer")
    q.add_argument("--source")
    q.add_argument("--limit", type=int, default=50)
    q.set_defaults(func=cmd_quarantine)
