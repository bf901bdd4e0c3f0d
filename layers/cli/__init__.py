"""`watchfloor` command line: ingest files, load the demo, inspect the store.

Thin: parses arguments, calls the same functions the dashboard and tests use,
prints a one-line summary per input and exits non-zero when an input could not
be read at all. One module per command group, in the order `watchfloor --help`
lists them; each adds its sub-commands with ``add_parsers(sub)``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ingest.errors import WatchfloorError


def parser() -> argparse.ArgumentParser:
    from layers.cli import alerts, db, demo, export, feeds, ingest, status, up, users

    p = argparse.ArgumentParser(prog="watchfloor", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    for group in (ingest, demo, feeds, export, alerts, db, users, up, status):  # ingest: also stac-search
        group.add_parsers(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except WatchfloorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
