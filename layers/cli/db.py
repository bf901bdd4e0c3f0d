"""`watchfloor db upgrade|status`: the PostGIS store's schema. The migrations themselves are the
store's (ingest/store/postgis.py, ingest/store/migrations/)."""

from __future__ import annotations

import argparse


def add_parsers(sub: argparse._SubParsersAction) -> None:
    from ingest.store.postgis import add_db_arguments, db_command

    db = sub.add_parser("db", help="the PostGIS store's schema: upgrade, status")
    add_db_arguments(db)
    db.set_defaults(func=db_command)
