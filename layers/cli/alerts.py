"""`watchfloor alerts run|list|ack`: the alert rules over all feeds (layers/alerts/)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd


def cmd_alerts_run(args: argparse.Namespace) -> int:
    """Evaluate the alert rules over the store, now and then every --interval seconds, while this
    process holds the store's alerts lease; otherwise stand by and try again every --takeover-s."""
    import time as _time

    from ingest.store import open_store
    from ingest.store.locks import holder_id
    from layers.alerts import load_rules
    from layers.alerts.refresh import Evaluator, evaluations

    if not args.takeover_s > 0 or not args.interval > 0:
        print("error: --interval and --takeover-s must be numbers of seconds > 0", file=sys.stderr)
        return 2
    store = open_store()
    if store.scoped():
        from ingest.errors import ConfigError

        raise ConfigError("WATCHFLOOR_STORE for `watchfloor alerts run`", "a writer credential (the rules run over "
                          "every record)", "a dashboard's reader login, which sees only its scope")
    evaluator = Evaluator(store, load_rules(Path(args.rules) if args.rules else None))
    holding: bool | None = None
    try:
        for run in evaluations(evaluator, interval_s=args.interval, takeover_s=args.takeover_s,
                               wait=lambda seconds: bool(_time.sleep(seconds))):
            if run is not None and holding is not True:
                print(f"this evaluator ({holder_id()}) holds the alerts lease: it evaluates", flush=True)
            elif run is None and holding is not False:
                print(f"standing by: {evaluator.holder() or 'another evaluator'} evaluates the alerts "
                      f"(trying every {args.takeover_s:g} s)", flush=True)
            holding = run is not None
            if run is not None:
                print(f"{run.at:%Y-%m-%d %H:%M:%S}Z {run.line()}", flush=True)
            if args.once:
                return 0
        return 0
    finally:
        evaluator.close()


def cmd_alerts_list(args: argparse.Namespace) -> int:
    from ingest.store import open_store
    from layers.table import alert_table

    frame = open_store().alerts(states=args.state or None, limit=args.limit)
    if frame.empty:
        print("no alerts")
        return 0
    with pd.option_context("display.max_colwidth", 90, "display.width", 220):
        print(alert_table(frame)[["time", "severity", "state", "rule", "message", "key"]].to_string(index=False))
    return 0


def cmd_alerts_ack(args: argparse.Namespace) -> int:
    """Acknowledge alerts as a signed-in analyst: only alerts that person may see (an unknown key and
    one they may not see get the same answer)."""
    from ingest.store import open_store
    from layers.access import require, restrict
    from layers.access.errors import AuthenticationError
    from layers.cli.users import sign_in_cli
    from layers.picture import subject_markings

    try:
        viewer = sign_in_cli(args.user, bool(args.password_stdin))
        require(viewer, "acknowledge")
    except AuthenticationError as exc:
        print(f"error: {exc.public_message}", file=sys.stderr)
        return 2
    store = open_store()
    alerts = store.alerts()
    visible = restrict({"alerts": alerts}, viewer, extra_subjects=subject_markings(store, alerts))["alerts"]
    allowed = set(visible["key"].astype(str))
    by = f"{viewer.display_name or viewer.username} ({viewer.username}, {viewer.nation})"
    missing = [k for k in args.keys if k not in allowed or not store.acknowledge(k, by)]
    for k in missing:
        print(f"error: no alert with key {k!r}", file=sys.stderr)
    return 1 if missing else 0

def add_parsers(sub: argparse._SubParsersAction) -> None:
    a = sub.add_parser("alerts", help="alert rules over all feeds: evaluate, list, acknowledge")
    asub = a.add_subparsers(dest="alerts_command", required=True)
    ar = asub.add_parser("run", help="evaluate the rules now and every --interval seconds (one evaluator per "
                                     "store at a time: others stand by)")
    ar.add_argument("--once", action="store_true")
    ar.add_argument("--interval", type=float, default=60.0, help="seconds between evaluations (default 60)")
    ar.add_argument("--takeover-s", type=float, default=10.0, metavar="SECONDS",
                    help="while another process evaluates, try to take over this often (default 10)")
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
