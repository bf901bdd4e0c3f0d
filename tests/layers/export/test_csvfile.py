"""CSV exports (layers/export/csvfile.py): formula-injection safe, numbers stay numbers."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pandas as pd

from layers.export import (
    export_view,
)
from layers.filters import View
from tests.support.exports import ALL_SEEING, NOW, VIEW, export


def _csv_rows(path: Path, layer: str) -> list[dict[str, str]]:
    with zipfile.ZipFile(path) as zf:
        text = zf.read(f"{layer}.csv").decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_csv_neutralises_formulas_and_keeps_numbers_numeric(picture, fixes, tmp_path):
    result = export(picture, VIEW, fmt="csv", tmp_path=tmp_path, track_points=fixes)
    rows = {r["source_id"]: r for r in _csv_rows(result.path, "incidents")}
    paris, low = rows["INC-PARIS"], rows["INC-LOW"]
    assert paris["title"] == '\'=HYPERLINK("http://evil.example","click")'  # =
    assert paris["actors"] == "'+SUM(A1)"  # +
    assert paris["location_name"] == "'-2+3"  # -
    assert paris["subcategory"] == "'@cmd"  # @
    assert low["title"] == "'\tcmd|' /C calc'!A0"  # tab
    assert low["location_name"] == "'\r=1+1"  # carriage return
    assert rows["INC-KOS"]["title"] == "Clash & fire <b>near</b> Pristina"  # harmless text unchanged
    # numbers stay numbers: no apostrophe, negative values included
    assert paris["fatalities"] == "3"
    fix_rows = _csv_rows(result.path, "track_points")
    assert {r["altitude_m"] for r in fix_rows if r["track_id"] == "T1"} >= {"-12.5", "-11.5"}
    assert all(not r["altitude_m"].startswith("'") for r in fix_rows)
    assert paris["occurred_at"] == "2026-11-21T11:30:00.123456Z" and paris["wkt"] == "POINT (2.35 48.85)"
    # pandas reads the numeric columns as numbers
    with zipfile.ZipFile(result.path) as zf:
        df = pd.read_csv(io.BytesIO(zf.read("track_points.csv")), encoding="utf-8-sig")
    assert pd.api.types.is_float_dtype(df["altitude_m"]) and df["altitude_m"].min() == -12.5


def test_csv_lon_lat_columns(picture, tmp_path):
    result = export_view(picture, View(window="24h", layers=("incidents", "infrastructure")), viewer=ALL_SEEING,
                         fmt="csv", out=tmp_path, now=NOW, csv_geometry="lonlat")
    inc = {r["source_id"]: r for r in _csv_rows(result.path, "incidents")}
    assert (inc["INC-PARIS"]["lon"], inc["INC-PARIS"]["lat"]) == ("2.35", "48.85")
    assert "wkt" not in inc["INC-PARIS"]
    infra = {r["source_id"]: r for r in _csv_rows(result.path, "infrastructure")}
    assert infra["ZONE"]["wkt"].startswith("POLYGON") and infra["ZONE"]["lon"]  # nothing lost for areas
