"""Build `opensky_states_quickstart.json` from the `traffic` package's quickstart sample.

Not run by the tests: it documents how the file was made (see tests/data/README.md).
The quickstart sample holds real ADS-B fixes received by the OpenSky Network around
Paris on 2021-10-07 (altitude ft, groundspeed kt, vertical_rate ft/min). This writes
the state vectors OpenSky's `/api/states/all` would have answered at one instant T,
by OpenSky's documented rules: one state per aircraft heard within the last 60 s,
its newest fix as the position, and `time_position`, `longitude`, `latitude` null
when that fix is more than 15 s old.

    pip download --no-deps --only-binary :all: traffic==2.13
    unzip traffic-2.13-py3-none-any.whl 'traffic/data/samples/collections/quickstart.json.gz'
    python opensky_from_traffic.py traffic/data/samples/collections/quickstart.json.gz
"""

from __future__ import annotations

import bisect
import gzip
import json
import sys
from collections import defaultdict
from pathlib import Path

T = 1633614601  # 2021-10-07T13:50:01Z
FT, KT, FPM = 0.3048, 1852 / 3600, 0.3048 / 60
# ICAO 24-bit address blocks of the aircraft in view (ICAO Annex 10 vol. III).
COUNTRIES = [(0x380000, 0x3BFFFF, "France"), (0x3C0000, 0x3FFFFF, "Germany"),
             (0x400000, 0x43FFFF, "United Kingdom"), (0x440000, 0x447FFF, "Austria"),
             (0x448000, 0x44FFFF, "Belgium"), (0x4B0000, 0x4B7FFF, "Switzerland"),
             (0x480000, 0x487FFF, "Kingdom of the Netherlands"), (0x340000, 0x37FFFF, "Spain"),
             (0x300000, 0x33FFFF, "Italy"), (0x460000, 0x467FFF, "Finland"),
             (0x468000, 0x46FFFF, "Greece"), (0x4B8000, 0x4BFFFF, "Turkey"),
             (0x4D0000, 0x4D03FF, "Luxembourg"), (0x4D2000, 0x4D23FF, "Malta"),
             (0x502C00, 0x502FFF, "Latvia")]


def country(icao: str) -> str:
    n = int(icao, 16)
    return next((name for lo, hi, name in COUNTRIES if lo <= n <= hi), "Unknown")


def state(fix: dict, t: int) -> list:
    fresh = t - fix["timestamp"] // 1000 <= 15

    def r(v: float | None, f: float, nd: int = 2) -> float | None:
        return None if v is None else round(v * f, nd)

    return [
        fix["icao24"], (fix.get("callsign") or "").ljust(8), country(fix["icao24"]),
        fix["timestamp"] // 1000 if fresh else None, fix["timestamp"] // 1000,
        round(fix["longitude"], 4) if fresh else None, round(fix["latitude"], 4) if fresh else None,
        r(fix.get("altitude"), FT), bool(fix.get("onground")), r(fix.get("groundspeed"), KT),
        r(fix.get("track"), 1.0), r(fix.get("vertical_rate"), FPM), None, None,
        fix.get("squawk"), False, 0,
    ]


def main(sample: str) -> None:
    fixes = defaultdict(list)
    with gzip.open(sample) as fh:
        for fix in json.load(fh):
            fixes[fix["icao24"]].append(fix)
    states = []
    for icao in sorted(fixes):
        track = sorted(fixes[icao], key=lambda f: f["timestamp"])
        i = bisect.bisect_right([f["timestamp"] // 1000 for f in track], T) - 1
        if i >= 0 and T - track[i]["timestamp"] // 1000 <= 60:
            states.append(state(track[i], T))
    out = Path(__file__).with_name("opensky_states_quickstart.json")
    out.write_text(json.dumps({"time": T, "states": states}, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
