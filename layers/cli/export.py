"""`watchfloor export`: the same export as the dashboard's buttons, from the command line.

Runs as a signed-in user, like the dashboard: ``--user NAME`` is required and the password is
prompted for, or read from the first line of stdin with ``--password-stdin`` (never an argument:
it would sit in shell history and the process list). A refused sign-in prints only the public
message (the same for an unknown user and a wrong password), exits 2 and writes nothing.

Builds a `View` from the arguments, reads the picture from the store the way the dashboard does
(`layers.picture.load_picture` over the operation's bounds, plus alerts and track points when
those layers are asked for) and hands both to `export_view` with the signed-in viewer, which
restricts them to what that viewer may see, so a scripted export and a click give the same file.
`add_parsers` adds it to `watchfloor` (layers/cli/__init__.py).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import shapely

from ingest.errors import WatchfloorError
from ingest.schema import LAYERS
from layers.access import require
from layers.access.errors import AuthenticationError
from layers.export.api import ALIASES, FORMATS, export_view
from layers.filters import DEFAULT_LAYERS, WINDOWS, View

# Layers exported by default: the stored record layers of the default view. Alerts are exported
# when asked for by name (--layers ...,alerts): after `restrict` each carries the combined marking
# of its subjects, so an export holding them is marked from them like any layer; they stay out of
# the default so a scripted export holds source records unless findings are wanted.
EXPORT_LAYERS = tuple(name for name in DEFAULT_LAYERS if name in LAYERS)

# --filter KEY=V1,V2: KEY -> the View field it sets.
FILTER_KEYS: dict[str, str] = {
    "category": "categories", "severity": "severities", "status": "statuses", "nation": "nations",
    "source": "sources",
}
FILTER_KEYS.update({v: v for v in list(FILTER_KEYS.values())})


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--user", required=True, metavar="NAME",
                        help="sign in as this account of $WATCHFLOOR_HOME/users.toml; the export holds only "
                             "what it may see")
    parser.add_argument("--password-stdin", action="store_true",
                        help="read the password from the first line of stdin (default: prompt for it)")
    parser.add_argument("--format", "-f", required=True, choices=sorted([*FORMATS, *ALIASES]),
                        help="file format")
    parser.add_argument("-o", "--output", help="file or existing folder (default: a provenance-stamped "
                                               "name in the current folder). A zip's name must end in .zip: "
                                               "several layers of CSV, GeoJSON or GeoParquet, and any "
                                               "Shapefile, are zips; one layer of CSV is a plain .csv with "
                                               "<name>.provenance.txt beside it")
    parser.add_argument("--layers", help=f"comma-separated layers (default: {','.join(EXPORT_LAYERS)})")
    parser.add_argument("--window", choices=list(WINDOWS), help="a preset window ending now (default 24h)")
    parser.add_argument("--since", help="ISO 8601 start of a custom window (UTC if no offset)")
    parser.add_argument("--until", help="ISO 8601 end of a custom window (default: now)")
    parser.add_argument("--bbox", help="area of interest minx,miny,maxx,maxy in lon/lat: every layer (reference "
                                       "layers too) keeps the records that intersect it, whole (a border or "
                                       "track reaching into the box is exported with its full geometry, "
                                       "not cut at the edge); records wholly outside are left out")
    parser.add_argument("--country", help="area of interest: a country's ISO alpha-3 code from the borders layer "
                                          "(records intersecting that country's polygon, kept whole, as --bbox)")
    parser.add_argument("--filter", action="append", default=[], metavar="KEY=V1,V2",
                        help=f"keep only these values; KEY is one of {', '.join(sorted(set(FILTER_KEYS) - set(FILTER_KEYS.values())))}")
    parser.add_argument("--csv-geometry", choices=["wkt", "lonlat"], default="wkt",
                        help="CSV: geometry as one WKT column or lon/lat columns")
    parser.add_argument("--no-track-points", action="store_true",
                        help="leave raw track fixes out (KML tracks then take their times from the path)")


def _time(text: str, what: str) -> datetime:
    try:
        ts = pd.Timestamp(text)
    except (TypeError, ValueError):
        raise WatchfloorError(f"{what}: expected an ISO 8601 time, found {text!r}") from None
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.to_pydatetime()


def view_from_args(args: argparse.Namespace, now: datetime) -> tuple[View, datetime]:
    """The View the arguments describe, and the time it is seen at."""
    changes: dict = {"layers": EXPORT_LAYERS}
    if args.layers:
        layers = tuple(s.strip() for s in args.layers.split(",") if s.strip())
        unknown = [l for l in layers if l not in DEFAULT_LAYERS]
        if unknown:
            raise WatchfloorError(f"--layers: unknown {', '.join(unknown)}; expected some of {', '.join(DEFAULT_LAYERS)}")
        changes["layers"] = layers
    if args.since or args.until:
        end = _time(args.until, "--until") if args.until else now
        start = _time(args.since, "--since") if args.since else end - timedelta(hours=WINDOWS["24h"])
        if start >= end:
            raise WatchfloorError(f"--since must be before --until, found {start:%Y-%m-%dT%H:%MZ} >= {end:%Y-%m-%dT%H:%MZ}")
        changes.update(window="custom", start=start, end=end)
        now = end
    elif args.window:
        changes["window"] = args.window
    if args.bbox:
        try:
            minx, miny, maxx, maxy = (float(v) for v in args.bbox.split(","))
        except ValueError:
            raise WatchfloorError(f"--bbox: expected minx,miny,maxx,maxy, found {args.bbox!r}") from None
        if not (-180 <= minx < maxx <= 180 and -90 <= miny < maxy <= 90):
            raise WatchfloorError(f"--bbox: expected lon/lat with min < max, found {args.bbox!r}")
        changes["aoi_wkt"] = shapely.box(minx, miny, maxx, maxy).wkt
    if args.country:
        changes["country"] = args.country.strip().upper()
    for item in args.filter or []:
        key, sep, values = item.partition("=")
        field = FILTER_KEYS.get(key.strip().lower())
        if not sep or field is None:
            raise WatchfloorError(f"--filter: expected KEY=V1,V2 with KEY one of category, severity, status, "
                                  f"nation, source; found {item!r}")
        picked = tuple(v.strip() for v in values.split(",") if v.strip())
        changes[field] = tuple(changes.get(field, ())) + picked
    return View(**changes), now


def export_command(args: argparse.Namespace) -> int:
    """Sign in, read the picture, export it as the signed-in user may see it; the exit code."""
    from ingest.store import open_store
    from layers.alerts import load_rules
    from layers.picture import (
        Window,
        as_seen_by,
        load_picture,
        operational_bounds,
        subject_markings,
    )

    view, now = view_from_args(args, datetime.now(UTC))  # bad arguments fail before the password is asked
    try:
        from layers.cli.users import sign_in_cli

        viewer = sign_in_cli(args.user, bool(args.password_stdin))
        require(viewer, "export")
    except AuthenticationError as exc:
        # The public text only: it does not tell an unknown user from a wrong password.
        print(f"error: {exc.public_message}", file=sys.stderr)
        return 2
    start, end = view.span(now)
    store = open_store()
    picture = load_picture(store, Window(start, end), operational_bounds(store))
    extra_subjects = None
    if "alerts" in view.layers:
        alerts = store.alerts(since=start)
        extra_subjects = subject_markings(store, alerts, picture)
        picture["alerts"] = alerts
        # derived facts (coverage gaps, hot spots) over what this user may see, as on the dashboard
        picture = as_seen_by(picture, viewer, rules=load_rules(), now=now, extra_subjects=extra_subjects)
    points = None
    if "tracks" in view.layers and not args.no_track_points:
        points = store.read("track_points", start=start, end=end)
    result = export_view(picture, view, viewer=viewer, fmt=args.format,
                         out=Path(args.output) if args.output else None, now=now, track_points=points,
                         csv_geometry=args.csv_geometry, extra_subjects=extra_subjects)
    counts = ", ".join(f"{k} {v:,}" for k, v in result.counts.items())
    print(f"{result.path}: {result.total:,} features ({counts}); marking {result.marking}; "
          f"as {viewer.username} ({viewer.nation}, {viewer.clearance})")
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser("export", help="export layers, filtered as on screen, in analysts' formats")
    add_export_arguments(e)
    e.set_defaults(func=export_command)
