"""Deterministic demo scenario: Operation SILVER RIVER (fictional).

A fictional multinational flood-relief and stabilisation mission, "Multinational
Joint Task Force Western Balkans" (MJTF-WB), in the real Western Balkans (Serbia,
Kosovo, North Macedonia, Albania, Montenegro, Bosnia and Herzegovina; roughly
lon 18.0..23.1, lat 40.5..45.0). Units, sorties, incidents and imagery are
invented; every position is taken from the real reference data in
``data/reference`` (borders, infrastructure, places), never typed in:

- unit bases, incident locations and drone launch sites are real towns from
  ``places.parquet`` (picked by name from short preference lists, falling back
  to the most populous towns of the right country when a name is absent);
- loiter targets are real airports and power plants from
  ``infrastructure.parquet``;
- cross-border sorties fly between towns on either side of a real shared
  border taken from ``borders.parquet``; areas of responsibility are buffers
  around the base clipped to the host country's real border polygon.

Usage::

    from ingest.demo import generate
    files = generate(pathlib.Path("var/demo"), datetime.now(timezone.utc))

or ``python -m ingest.demo OUTDIR [--now 2026-11-21T10:30:00Z] [--seed N]``.
`describe` lists which real towns, borders and infrastructure the scenario uses.

``generate(outdir, now, seed=..., reference_dir=...)`` writes the files below
and returns ``{layer: [paths]}`` with the layer names of `ingest.schema`
(``deployments``, ``track_points``, ``incidents``, ``imagery``). Every time is
relative to ``now`` (the 24 h before it; a few deployment reports and
imagery up to 48 h before), so the demo looks live. The same ``(now, seed)``
and reference data give byte-identical files. All randomness comes from
``numpy.random.default_rng(seed)`` (child generators per layer).

Files, each in the real format its feed uses:

``deployments.geojson``
    RFC 7946 FeatureCollection, one Point Feature per unit. Properties: id,
    nation (ISO alpha-3), unit_name, unit_type, echelon (`schema.ECHELONS`),
    strength, symbol_code, reported_at, marking, base (town name) and ``area``:
    the area of responsibility as a nested GeoJSON Polygon.

    ``symbol_code`` is a 20-digit APP-6D / MIL-STD-2525D SIDC composed as::

        10 | 0 | 3 | 10 | 0 | H | EE | EEEEEE | 00 | 00
        |    |   |   |    |   |   |    |        |    +- sector 2 modifier: none
        |    |   |   |    |   |   |    |        +------ sector 1 modifier: none
        |    |   |   |    |   |   |    +--------------- entity (main icon), _SIDC_ENTITY
        |    |   |   |    |   |   +-------------------- echelon amplifier, _SIDC_ECHELON
        |    |   |   |    |   +------------------------ HQ/TF/dummy: 2 = HQ, else 0
        |    |   |   |    +---------------------------- status: 0 = present
        |    |   |   +--------------------------------- symbol set: 10 = land unit
        |    |   +------------------------------------- standard identity: 3 = friend
        |    +----------------------------------------- context: 0 = reality
        +---------------------------------------------- version: 10 = 2525D / APP-6D

``tracks_cot.xml``
    Cursor-on-Target: root ``<events>``, one ``<event version="2.0">`` per fix
    (chronological), type ``a-f-A-M-F-Q`` (friendly military fixed-wing UAV) or
    ``a-f-A-M-H-Q`` (rotary-wing UAV, the quadcopters), how ``m-g``;
    ``time``/``start`` = fix time, ``stale`` = time + 60 s; ``<point>`` with
    hae (m), ce/le (m); ``<detail>`` with ``<contact callsign>``, ``<track
    course speed>`` (degrees true, m/s), ``<remarks>`` and -- a watchfloor
    convention, CoT has no standard element for it -- the releasability marking
    as ``<marking>UNCLASSIFIED//REL TO ...</marking>``.
``tracks.gpx``
    GPX 1.1, one ``<trk>`` per drone, ``<name>`` = track id, ``<desc>`` =
    callsign and mission, one ``<trkseg>`` of ``<trkpt lat lon><ele><time>``.
    GPX has no place for a marking: the source default applies at ingest.
``tracks.csv``
    track_id,time,lat,lon,alt_m,speed_mps,heading_deg,callsign,marking.
``incidents.csv``
    ACLED-like: event_id,event_date,event_type,sub_event_type,actor1,actor2,
    location,latitude,longitude,fatalities,source,notes,severity,status,marking
    with event_date a full ISO 8601 datetime in UTC (``...Z``). Some notes hold
    text that must be escaped in HTML (``<script>``, quotes, ``&``) and
    Cyrillic: they are valid records.
``incidents_relief.geojson``
    A relief agency's reports: FeatureCollection of Points with id,
    occurred_at, category, subcategory, severity, status, title, description,
    location_name, fatalities, marking.
``imagery_stac.json``
    STAC 1.0.0 ItemCollection: Sentinel-2 L2A MGRS tiles (109.8 km, clipped to
    the pass's 290 km swath), Sentinel-1 IW GRD slices (~250 x 170 km, along
    the orbit track) and a fictional high-resolution commercial constellation
    ("Kestrel-HR", ~15 x 15 km scenes, tasked over incident hot spots). Each
    Item has eo:cloud_cover (0 for SAR, which sees through cloud), gsd, a
    thumbnail asset (relative href) and the marking in the ``watchfloor:marking``
    property. Optical commercial scenes are acquired in daylight only (08:00-13:30
    UTC); Sentinel-2 passes at ~09:35 UTC, Sentinel-1 at ~04:50 and ~16:40 UTC.
    Catalogue latency is modelled (nothing acquired in the last 90 minutes is
    listed, Sentinel in the last 2.5 h), so the newest incidents have no
    post-event imagery while commercial scenes tasked after serious incidents
    cover older ones.

Times are ISO 8601 UTC with ``Z`` (track fixes with milliseconds). Markings
are one of `MARKINGS`, all well-formed, so the demo loads with nothing
quarantined.
"""

from __future__ import annotations

import datetime as dt
import pathlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from ingest.demo.common import DEFAULT_REFERENCE_DIR, DEFAULT_SEED, FILES, _now_ms, _write_text
from ingest.demo.deployments import _deployments, _deployments_geojson
from ingest.demo.imagery import _imagery, _stac_json
from ingest.demo.incidents import _acled, _hotspot_towns, _incidents_csv, _relief, _relief_geojson
from ingest.demo.tracks import _cot_xml, _gpx, _tracks, _tracks_csv
from ingest.demo.world import _load_reference


def generate(
    outdir: pathlib.Path,
    now: dt.datetime,
    *,
    seed: int = DEFAULT_SEED,
    reference_dir: pathlib.Path | None = None,
) -> dict[str, list[pathlib.Path]]:
    """Write the demo scenario into `outdir`; return {layer: [files written]}.

    `now` must be timezone-aware; every time in the files lies in the 48 h
    before it (CoT stale times aside, which are fix time + 60 s by definition).
    """
    now_ms = _now_ms(now)
    ref = _load_reference(pathlib.Path(reference_dir) if reference_dir else DEFAULT_REFERENCE_DIR)
    outdir = pathlib.Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    r_dep, r_trk, r_inc, r_rel, r_img = np.random.default_rng(seed).spawn(5)

    hotspots = _hotspot_towns(ref)
    units = _deployments(ref, r_dep, now_ms)
    tracks = _tracks(ref, units, r_trk, now_ms, hotspots)
    acled = _acled(ref, r_inc, now_ms, hotspots)
    relief = _relief(ref, r_rel, now_ms, hotspots)
    items = _imagery(ref, r_img, now_ms, acled + relief, hotspots)

    by_fmt = {f: [t for t in tracks if t.fmt == f] for f in ("cot", "gpx", "csv")}
    content: dict[str, str] = {
        "deployments.geojson": _deployments_geojson(units),
        "tracks_cot.xml": _cot_xml(by_fmt["cot"]),
        "tracks.gpx": _gpx(by_fmt["gpx"], now_ms),
        "tracks.csv": _tracks_csv(by_fmt["csv"]),
        "incidents.csv": _incidents_csv(acled),
        "incidents_relief.geojson": _relief_geojson(relief),
        "imagery_stac.json": _stac_json(items),
    }
    written: dict[str, list[pathlib.Path]] = {}
    for layer, names in FILES.items():
        written[layer] = []
        for name in names:
            path = outdir / name
            _write_text(path, content[name])
            written[layer].append(path)
    return written


def describe(
    now: dt.datetime, *, seed: int = DEFAULT_SEED, reference_dir: pathlib.Path | None = None
) -> dict[str, Any]:
    """What the scenario uses from the reference data (for documentation and demos)."""
    now_ms = _now_ms(now)
    ref = _load_reference(pathlib.Path(reference_dir) if reference_dir else DEFAULT_REFERENCE_DIR)
    r_dep, r_trk, *_ = np.random.default_rng(seed).spawn(5)
    hotspots = _hotspot_towns(ref)
    units = _deployments(ref, r_dep, now_ms)
    tracks = _tracks(ref, units, r_trk, now_ms, hotspots)
    return {
        "units": [(u.key, u.nation, u.base.name, u.host) for u in units],
        "tracks": [(t.track_id, t.fmt, t.kind, t.detail, len(t.times_ms)) for t in tracks],
        "hotspots": [(t.name, t.cc) for t in hotspots],
    }


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("outdir", type=pathlib.Path)
    p.add_argument("--now", help="ISO 8601 time with zone (default: now)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.add_argument("--reference-dir", type=pathlib.Path)
    a = p.parse_args(argv)
    now = dt.datetime.fromisoformat(a.now) if a.now else dt.datetime.now(dt.UTC)
    for layer, paths in generate(a.outdir, now, seed=a.seed, reference_dir=a.reference_dir).items():
        for path in paths:
            print(f"{layer:13s} {path} {path.stat().st_size} bytes")
    return 0
