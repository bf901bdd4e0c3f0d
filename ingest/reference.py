"""Read the bundled reference layers (data/reference/*.parquet) as adapter results.

The reference layers enter the store through the same `pipeline.ingest` path
as any feed, so they are validated and carry provenance and a marking.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd

from ingest.adapters.base import ReadResult
from ingest.config import REFERENCE_DIR
from ingest.errors import UnreadableInputError
from ingest.schema import LAYERS

# Open data: releasable to every partner.
REFERENCE_MARKING = "UNCLASSIFIED"


def reference_files(folder: Path = REFERENCE_DIR) -> dict[str, Path]:
    return {name: folder / f"{name}.parquet" for name, s in LAYERS.items()
            if s.reference and (folder / f"{name}.parquet").exists()}


def read_reference(layer: str, path: Path) -> ReadResult:
    try:
        frame = gpd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise UnreadableInputError(path, f"not a GeoParquet file ({exc})") from exc
    return ReadResult(layer, frame, default_marking=REFERENCE_MARKING)
