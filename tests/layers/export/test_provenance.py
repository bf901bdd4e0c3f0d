"""Provenance in the file and its name (layers/export/provenance.py), and download bytes."""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import defusedxml.ElementTree as DET
import pyarrow.parquet as pq
import pyogrio
import pytest

from layers.export import (
    export_bytes,
)
from layers.filters import View
from tests.support.exports import ALL_FORMATS, ALL_SEEING, KML_NS, MARKED_VIEW, NOW, export


def _provenance(fmt: str, path: Path) -> dict | str:
    if fmt == "geojson":
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                return json.loads(zf.read("incidents.geojson"))["watchfloor"]
        return json.loads(path.read_text(encoding="utf-8"))["watchfloor"]
    if fmt == "gpkg":
        return json.loads(pyogrio.read_info(path, layer="incidents")["dataset_metadata"]["watchfloor"])
    if fmt == "parquet":
        with zipfile.ZipFile(path) as zf:
            return json.loads(pq.read_schema(io.BytesIO(zf.read("incidents.parquet"))).metadata[b"watchfloor"])
    if fmt in ("kml", "kmz"):
        raw = zipfile.ZipFile(path).read("doc.kml") if fmt == "kmz" else path.read_bytes()
        doc = DET.fromstring(raw).find("k:Document", KML_NS)
        data = {d.get("name"): d.find("k:value", KML_NS).text for d in doc.findall("k:ExtendedData/k:Data", KML_NS)}
        assert doc.find("k:description", KML_NS).text.startswith("Marking: ")
        return json.loads(data["watchfloor:provenance"])
    if fmt in ("csv", "shp"):
        with zipfile.ZipFile(path) as zf:
            return zf.read("PROVENANCE.txt").decode()
    if fmt == "cot":
        with zipfile.ZipFile(path) as zf:
            return json.loads(zf.read("watchfloor-provenance.json"))
    if fmt == "html":
        return path.read_text(encoding="utf-8")
    if fmt == "png":
        from PIL import Image

        return json.loads(Image.open(path).text["Description"])
    raise AssertionError(fmt)


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_provenance_in_the_file_and_its_name(picture, fixes, fmt, tmp_path):
    view = View(window="24h", severities=("high", "critical"), layers=("incidents", "tracks"))
    result = export(picture, view, fmt=fmt, tmp_path=tmp_path, track_points=fixes)
    # the export holds NATO, USA/GBR/FRA and GBR/FRA records, one RESTRICTED: the common nations
    # are FRA and GBR
    assert result.marking == "RESTRICTED//REL TO FRA, GBR"
    assert result.filename.startswith("watchfloor_incidents-tracks-track_points_20261121T1200Z_"
                                      "RESTRICTED-REL-TO-FRA-GBR.")
    assert re.fullmatch(r"[A-Za-z0-9_.-]+", result.filename)
    assert result.path.name == result.filename
    prov = _provenance(fmt, result.path)
    if isinstance(prov, dict):
        assert prov["marking"] == result.marking
        assert prov["window"] == {"start": "2026-11-20T12:00:00Z", "end": "2026-11-21T12:00:00Z"}
        assert prov["filters"] == {"sev": "high,critical", "lyr": "incidents,tracks"}
        # a TAK package holds each track's latest fix only, and says so
        assert prov["counts"] == {"incidents": 3, "tracks": 2, "track_points": 2 if fmt == "cot" else 6}
        assert prov["layers"] == ["incidents", "tracks", "track_points"]
        assert prov["sources"] == {"incidents": ["demo-incidents"], "tracks": ["derived"], "track_points": ["demo-cot"]}
        assert datetime.fromisoformat(prov["generated_at"]) > NOW - timedelta(days=3650)
    else:  # text: PROVENANCE.txt or the visible HTML banner
        for needle in ("RESTRICTED//REL TO FRA, GBR", "2026-11-20T12:00:00Z", "2026-11-21T12:00:00Z",
                       "sev=high,critical", "incidents 3", "tracks 2", "Generated: "):
            assert needle in prov, (fmt, needle)


def test_export_bytes_for_download_buttons(picture, tmp_path):
    r = export_bytes(picture, MARKED_VIEW, viewer=ALL_SEEING, fmt="kmz", now=NOW)
    assert r.path is None and r.data[:2] == b"PK" and r.filename.endswith(".kmz")
    assert r.mime == "application/vnd.google-earth.kmz" and r.marking == "RESTRICTED//REL TO FRA, GBR"
    assert r.counts["incidents"] == 4
