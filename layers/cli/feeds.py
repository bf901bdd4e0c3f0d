"""`watchfloor feeds run`: poll and listen to the live feeds of feeds.toml (ingest/feeds/)."""

from __future__ import annotations

import argparse


def add_parsers(sub: argparse._SubParsersAction) -> None:
    from ingest.feeds.runner import add_arguments, feeds_command

    f = sub.add_parser("feeds", help="live feeds declared in feeds.toml")
    fsub = f.add_subparsers(dest="feeds_command", required=True)
    fr = fsub.add_parser("run", help="poll and listen to every feed, writing to the store, until stopped")
    add_arguments(fr)
    fr.set_defaults(func=feeds_command)
