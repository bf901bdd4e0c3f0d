"""Reader options are honoured or refused, never silently ignored (the same rules for the Python
API, `ingest.adapters.read`, and the command line, `watchfloor ingest`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.adapters import read
from ingest.errors import UnsupportedOptionError
from ingest.pipeline import ingest
from ingest.store.delta import DeltaStore

DATA = Path(__file__).resolve().parents[2] / "data"
TIFF = DATA / "raster" / "slope_nodata.tif"  # a real GeoTIFF with no acquisition time at all
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def test_a_geotiff_without_a_date_is_stored_with_the_date_given_as_a_default(tmp_path):
    store = DeltaStore(tmp_path / "store")
    bare = ingest(store, read(TIFF, source="survey", quicklook=False), source="survey", default_marking="UNCLASSIFIED",
                  now=NOW)
    assert (bare.inserted, dict(bare.reasons)) == (0, {"missing_time": 1})
    dated = read(TIFF, source="survey", quicklook=False, defaults={"acquired_at": "2019-06-01T00:00:00Z"})
    summary = ingest(store, dated, source="survey", default_marking="UNCLASSIFIED", now=NOW)
    assert (summary.inserted, summary.quarantined) == (1, 0)
    assert str(store.read("imagery")["acquired_at"].iloc[0]) == "2019-06-01 00:00:00+00:00"


def test_a_default_never_replaces_a_value_the_file_has(tmp_path):
    path = tmp_path / "incidents.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": "a", "geometry": {"type": "Point", "coordinates": [19.0, 44.0]},
         "properties": {"occurred_at": "2026-12-01T10:00:00Z", "category": "Flood", "severity": "high"}},
        {"type": "Feature", "id": "b", "geometry": {"type": "Point", "coordinates": [19.1, 44.1]},
         "properties": {"occurred_at": "2026-12-01T11:00:00Z", "category": "Flood", "severity": "low",
                        "status": "confirmed"}}]}))
    result = read(path, source="t", fmt="geojson", layer="incidents", defaults={"status": "reported"})
    assert dict(zip(result.frame["source_id"], result.frame["status"])) == {"a": "reported", "b": "confirmed"}


def test_a_column_mapping_is_honoured_by_geojson(tmp_path):
    path = tmp_path / "feed.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [19.0, 44.0]},
         "properties": {"ref": "R-1", "when": "2026-12-01T10:00:00Z", "category": "Flood", "severity": "high",
                        "status": "reported"}}]}))
    result = read(path, source="t", fmt="geojson", layer="incidents",
                  columns={"source_id": "ref", "occurred_at": "when"})
    assert result.frame["source_id"].tolist() == ["R-1"]
    assert result.frame["occurred_at"].tolist() == ["2026-12-01T10:00:00Z"]


def test_what_a_reader_cannot_honour_is_refused_with_what_it_takes():
    with pytest.raises(UnsupportedOptionError) as refused:
        read(TIFF, source="survey", columns={"source_id": "name"})
    assert str(refused.value) == "format 'raster' cannot use --column: this format takes --default, --no-quicklook"
    with pytest.raises(UnsupportedOptionError) as refused:
        read(TIFF, source="survey", defaults={"when": "2019"})
    assert "'when' is not a field of imagery; expected one of acquired_at, cloud_cover" in str(refused.value)


def test_the_command_line_says_the_same(tmp_path, monkeypatch, capsys):
    from layers.cli import main

    monkeypatch.setenv("WATCHFLOOR_HOME", str(tmp_path))
    monkeypatch.delenv("WATCHFLOOR_STORE", raising=False)
    assert main(["ingest", "auto", "--source", "s", "--column", "id=fid", str(TIFF)]) == 1
    assert "error: format 'raster' cannot use --column" in capsys.readouterr().err
    assert main(["ingest", "auto", "--source", "s", "--no-quicklook", "--default", "acquired_at=2019-06-01T00:00:00Z",
                 str(TIFF)]) == 0
    assert "imagery: 1 stored, 0 quarantined" in capsys.readouterr().out
