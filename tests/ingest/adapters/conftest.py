"""Fixtures and helpers shared by the tests of this folder.

File adapters: real sample files in, canonical rows and rejections out.

Expected coordinates and times below were worked out by hand from the sample
files (see tests/data/README.md for where each file came from), not copied
from the adapters' output.

The remaining file adapters: KML/KMZ, GDACS GeoRSS, USGS GeoJSON, deployment and
infrastructure CSV, GeoPackage, OpenStreetMap, GeoTIFF, STAC API search; and the
shared guards (safe ZIP extraction, GDAL path checks).

Expected coordinates and times were worked out by hand from the sample files
(see tests/data/README.md for where each came from) or computed independently
(pyproj, osmium-tool), never copied from the adapters' output.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from ingest import reasons
from ingest.adapters.common import output_columns
from ingest.schema import CRS
from ingest.store.delta import DeltaStore

DATA = Path(__file__).resolve().parents[2] / "data"  # tests/data


SRC = "test-src"


def by_id(frame: pd.DataFrame) -> dict[str, pd.Series]:
    return {row.source_id: row for row in (r for _, r in frame.iterrows())}


def xy(geom) -> tuple[float, float]:
    return (geom.x, geom.y)


def is_null(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA


def accounted(res) -> None:
    """Every record read is a row or a rejection, with a known reason."""
    assert res.records_read == len(res.frame) + len(res.rejected)
    assert set(res.rejected["reason"]) <= set(reasons.ALL)
    assert list(res.frame.columns) == output_columns(res.layer)
    assert res.frame.crs == CRS


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Quicklooks and anything else under $WATCHFLOOR_HOME go to a per-test folder."""
    home = tmp_path / "wf-home"
    monkeypatch.setenv("WATCHFLOOR_HOME", str(home))
    return home


@pytest.fixture
def store(tmp_path: Path) -> DeltaStore:
    """An embedded store for the tests that take a file through the pipeline (not every backend:
    the store contract is specified in tests/ingest/store/)."""
    return DeltaStore(tmp_path / "store")


def make_zip(
    path: Path,
    members: list[tuple[str | zipfile.ZipInfo, bytes]],
    compression: int = zipfile.ZIP_DEFLATED,
) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return path
