"""`make bench`: run every benchmark and print its table (medians, and ratios to a baseline run alongside)."""

from __future__ import annotations

import argparse
import platform
import sys

from bench import (
    analysis_bench,
    dashboard_bench,
    ingest_bench,
    postgis_bench,
    pushdown_bench,
    rls_bench,
    scenario,
    store_bench,
)

BENCHES = {"store": store_bench.run, "ingest": ingest_bench.run, "dashboard": dashboard_bench.run,
           "analysis": analysis_bench.run, "stores": postgis_bench.run, "pushdown": pushdown_bench.run,
           "rls": rls_bench.run}


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m bench")
    p.add_argument("names", nargs="*", default=list(BENCHES), help=f"which: {', '.join(BENCHES)}")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--scale", type=float, default=1.0,
                   help="size of the scale scenario, 0 < SCALE <= 1 (default 1: 1M track points); "
                        "e.g. 0.05 for a quick check")
    args = p.parse_args()
    unknown = [n for n in args.names if n not in BENCHES]
    if unknown:
        p.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHES)}")
    if args.scale != 1.0:
        try:
            scenario.set_scale(args.scale)
        except ValueError as exc:
            p.error(str(exc))
    scale = "" if args.scale == 1.0 else f" Scale scenario at {args.scale:g} of full size."
    print(f"# watchfloor benchmarks\n\nPython {sys.version.split()[0]} on {platform.machine()}, "
          f"{platform.system()}; medians of {args.repeats} runs after a warm-up.{scale}")
    for name in args.names:
        print(BENCHES[name](repeats=args.repeats), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
