"""The demo scenario, Operation SILVER RIVER: generated feed files, loaded through the real ingest path.

The generator (`generate`, `ingest.demo.scenario`) writes files in the formats partners'
systems produce; `load_demo` reads them back with the same adapters a real
deployment uses, so the demo exercises (and proves) the ingest path instead
of inserting rows behind it.

One module per layer (`deployments`, `tracks` with `flight`, `incidents`, `imagery`), the
real towns, borders and infrastructure they are placed on (`world`), shared helpers
(`common`), and the scenario's tables, read from ``data/demo/*.toml`` (`tables`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from ingest import config
from ingest.adapters import READERS
from ingest.demo.scenario import generate
from ingest.pipeline import IngestSummary, ingest
from ingest.reference import read_reference, reference_files
from ingest.store.base import Store

__all__ = ["DEMO_FEEDS", "generate", "load_demo", "load_reference"]

# file written by the generator, adapter format, source name, the source's default marking
DEMO_FEEDS: tuple[tuple[str, str, str, str], ...] = (
    ("deployments.geojson", "geojson-deployments", "demo-deployments", "UNCLASSIFIED//REL TO NATO"),
    ("tracks_cot.xml", "cot", "demo-cot", "UNCLASSIFIED//REL TO NATO"),
    ("tracks.gpx", "gpx", "demo-gpx", "UNCLASSIFIED//REL TO NATO"),
    ("tracks.csv", "tracks-csv", "demo-csv-tracks", "UNCLASSIFIED//REL TO NATO"),
    ("incidents.csv", "acled-csv", "demo-incidents", "UNCLASSIFIED"),
    ("incidents_relief.geojson", "geojson-incidents", "demo-relief", "UNCLASSIFIED"),
    ("imagery_stac.json", "stac", "demo-stac", "UNCLASSIFIED"),
)


def load_reference(store: Store) -> list[IngestSummary]:
    out = []
    for layer, path in reference_files().items():
        out.append(ingest(store, read_reference(layer, path), source=f"reference:{path.stem}"))
    return out


def load_demo(store: Store, *, now: datetime | None = None, workdir: Path | None = None,
              seed: int | None = None) -> list[IngestSummary]:
    """Generate the scenario relative to `now` and ingest it; returns one summary per input."""
    now = now or datetime.now(UTC)
    workdir = workdir or config.home() / "demo" / now.strftime("%Y%m%dT%H%M%SZ")
    workdir.mkdir(parents=True, exist_ok=True)
    kwargs = {"seed": seed} if seed is not None else {}
    generate(workdir, now, **kwargs)
    summaries = load_reference(store)
    for name, fmt, source, marking in DEMO_FEEDS:
        _, reader = READERS[fmt]
        result = reader(workdir / name, source=source)
        for one in result if isinstance(result, list) else [result]:
            summaries.append(ingest(store, one, source=source, default_marking=marking, now=now))
    return summaries
