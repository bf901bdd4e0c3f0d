"""`watchfloor status` (records per layer) and `watchfloor quarantine` (what was refused, and why)."""

from __future__ import annotations

import argparse
import json

import pandas as pd


def _iso(value) -> str | None:
    """A time as ISO 8601 UTC ('2026-11-21T11:59:58Z'), None when there is none."""
    if value is None or pd.isna(value):
        return None
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.isoformat().replace("+00:00", "Z")


def status_rows() -> tuple[list[dict], int]:
    """One row per layer (layer, records, newest, last_write) and the number of quarantined records."""
    from ingest.schema import LAYERS
    from ingest.store import open_store

    store = open_store()
    rows = []
    for name in LAYERS:
        s = store.stats(name)
        rows.append({"layer": name, "records": int(s.count), "newest": _iso(s.newest),
                     "last_write": _iso(s.last_write)})
    return rows, len(store.quarantined())


def format_table(rows: list[dict], columns: list[str], right: frozenset[str] = frozenset()) -> str:
    """Rows as a text table whose columns are as wide as their widest value, two spaces apart:
    a time with microseconds never runs into the next column."""
    cells = [[("-" if r[c] is None else f"{r[c]:,}" if isinstance(r[c], int) else str(r[c])) for c in columns]
             for r in rows]
    widths = [max([len(c.replace("_", " "))] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if c in right else v.ljust(w)
                         for v, w, c in zip(values, widths, columns)).rstrip()

    return "\n".join([line([c.replace("_", " ") for c in columns]), *(line(row) for row in cells)])


def cmd_status(args: argparse.Namespace) -> int:
    rows, quarantined = status_rows()
    if args.json:
        print(json.dumps({"layers": rows, "quarantined": quarantined}, indent=2))
        return 0
    print(format_table(rows, ["layer", "records", "newest", "last_write"], right=frozenset({"records"})))
    print(f"quarantined: {quarantined:,}")
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
    s.add_argument("--json", action="store_true",
                   help="print JSON ({layers: [{layer, records, newest, last_write}], quarantined}) for scripts")
    s.set_defaults(func=cmd_status)

    q = sub.add_parser("quarantine", help="list quarantined records")
    q.add_argument("--layer")
    q.add_argument("--source")
    q.add_argument("--limit", type=int, default=50)
    q.set_defaults(func=cmd_quarantine)
