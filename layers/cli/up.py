"""`watchfloor up`: feeds, alert evaluation and the dashboard run together (layers/services.py)."""

from __future__ import annotations

import argparse
from pathlib import Path


def cmd_up(args: argparse.Namespace) -> int:
    """Run the watch floor's processes together on this machine (layers/services.py)."""
    import logging

    from ingest.config import home
    from layers.services import Supervisor, procfile, services

    feeds = Path(args.feeds) if args.feeds else None
    demo_args: tuple[str, ...] = ()
    if args.demo:
        from ingest.demo.live import Endpoints, feeds_config

        base = args.demo_ports
        endpoints = Endpoints(cot_udp=base, cot_tcp=base + 1, http=base + 2) if base else Endpoints()
        demo_args = ("--cot-udp", str(endpoints.cot_udp), "--cot-tcp", str(endpoints.cot_tcp),
                     "--http", str(endpoints.http))
        if feeds is None:
            feeds = home() / "demo-feeds.toml"
            feeds.parent.mkdir(parents=True, exist_ok=True)
            feeds.write_text(feeds_config(endpoints))
    elif feeds is None and (home() / "feeds.toml").exists():
        feeds = home() / "feeds.toml"
    svcs = services(demo=args.demo, feeds_config=feeds, port=args.port, address=args.address,
                    demo_args=demo_args)
    if args.procfile:
        print(procfile(svcs), end="")
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s watchfloor up: %(message)s")
    print(f"watchfloor up: {', '.join(s.name for s in svcs)}; dashboard on http://localhost:{args.port} "
          "(Ctrl-C stops everything)", flush=True)
    return Supervisor(svcs).run()


def add_parsers(sub: argparse._SubParsersAction) -> None:
    up = sub.add_parser("up", help="run feeds, alert evaluation and the dashboard together (make run)")
    up.add_argument("--demo", action="store_true", help="also play the live demo and receive it")
    up.add_argument("--port", type=int, default=8501)
    up.add_argument("--address", help="the dashboard's listening address (Streamlit's default otherwise)")
    up.add_argument("--feeds", help="feeds file (default $WATCHFLOOR_HOME/feeds.toml if there is one)")
    up.add_argument("--demo-ports", type=int, metavar="N",
                    help="the live demo's ports: CoT UDP N, CoT TCP N+1, HTTP N+2 (default 16969, 18087, 18765)")
    up.add_argument("--procfile", action="store_true", help="print the same processes as a Procfile, and exit")
    up.set_defaults(func=cmd_up)
