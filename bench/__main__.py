"""`make bench`: run every benchmark and print its table (medians, and ratios to a baseline run alongside)."""

from __future__ import annotations

import argparse
import platform
import sys

from bench import analysis_bench, dashboard_bench, ingest_bench, postgis_bench, store_bench

BENCHES = {"store": store_bench.run, "ingest": ingest_bench.run, "dashboard": dashboard_bench.run,
           "analysis": analysis_bench.run, "stores": postgis_bench.run}


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m bench")
    p.add_argument("names", nargs="*", default=list(BENCHES), help=f"which: {', '.join(BENCHES)}")
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    print(f"# watchfloor benchmarks\n\nPython {sys.version.split()[0]} on {platform.machine()}, "
          f"{platform.system()}; medians of {args.repeats} runs after a warm-up.")
    for name in args.names:
        print(BENCHES[name](repeats=args.repeats), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
