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

    c = sub.add_parser("feed", help="send the picture out to other systems")
    csub = c.add_subparsers(dest="feed_command", required=True)
    co = csub.add_parser("cot-out", help="stream the tracks, units and incidents releasable to an account to a "
                                         "TAK endpoint as CoT, until stopped (Ctrl-C)")
    co.add_argument("--to", required=True, metavar="HOST:PORT", help="TAK Server / ATAK / CoT listener address")
    co.add_argument("--user", required=True, help="the account whose releasability applies (users file)")
    co.add_argument("--protocol", choices=["tcp", "udp"], default="tcp", help="tcp (stream, default) or udp")
    co.add_argument("--interval", type=float, default=10.0, metavar="S", help="seconds between updates (10)")
    co.add_argument("--window", type=float, default=24.0, metavar="H",
                    help="tracks seen and incidents of the last H hours (24)")
    co.set_defaults(func=cot_out_command)


def cot_out_command(args: argparse.Namespace) -> int:
    """Run cot-out in the foreground; the account is checked before anything is sent."""
    import logging

    from ingest.store import open_store
    from layers.cot_out import CotSender, parse_target

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    host, port = parse_target(args.to)
    sender = CotSender(open_store(), host, port, username=args.user, protocol=args.protocol,
                       interval_s=args.interval, window_h=args.window)
    viewer = sender.viewer()  # an unknown or disabled account is refused here, before any traffic
    print(f"cot-out: sending what {viewer.username} ({viewer.nation}, {viewer.clearance}) may see to "
          f"{host}:{port} over {args.protocol} every {args.interval:g} s; Ctrl-C to stop")
    try:
        sender.run()
    except KeyboardInterrupt:
        sender.stop()
    return 0
