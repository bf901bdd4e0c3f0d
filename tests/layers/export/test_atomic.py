"""All or nothing (layers/export/atomic.py): a failing export leaves no file."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pyogrio
import pytest

from layers.export import frames as export_frames
from layers.filters import View
from tests.support.exports import export


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_a_writer_failing_midway_leaves_no_file(picture, tmp_path, monkeypatch):
    from layers.export import api

    def boom(job, path):
        path.write_bytes(b"half a file" * 1000)
        raise RuntimeError("disk on fire")

    monkeypatch.setitem(api.FORMATS, "gpkg", replace(api.FORMATS["gpkg"], writer=boom))
    with pytest.raises(RuntimeError, match="disk on fire"):
        export(picture, fmt="gpkg", tmp_path=tmp_path)
    assert _leftovers(tmp_path) == []


def test_gdal_failing_on_a_later_layer_leaves_no_geopackage(picture, tmp_path, monkeypatch):
    from layers.export import geopackage

    real = geopackage.pyogrio.write_dataframe
    calls = []

    def flaky(frame, path, **kw):
        calls.append(kw.get("layer"))
        if len(calls) == 3:
            raise pyogrio.errors.DataSourceError("simulated GDAL failure")
        return real(frame, path, **kw)

    monkeypatch.setattr(geopackage.pyogrio, "write_dataframe", flaky)
    dest = tmp_path / "out.gpkg"
    dest.write_bytes(b"the previous export")
    with pytest.raises(pyogrio.errors.DataSourceError):
        export(picture, fmt="gpkg", tmp_path=dest)
    assert dest.read_bytes() == b"the previous export"  # previous state intact
    assert _leftovers(tmp_path) == ["out.gpkg"]


def test_an_unserialisable_value_midway_leaves_no_geojson(picture, tmp_path, monkeypatch):
    class Unprintable:
        def __str__(self):
            raise ValueError("cannot serialise this value")

    monkeypatch.setattr(export_frames, "CHUNK_ROWS", 1)  # the bad row comes after rows already written
    incidents = picture["incidents"].copy()
    incidents["extra"] = pd.Series([None, None, Unprintable(), None, None], index=incidents.index, dtype=object)
    with pytest.raises(ValueError, match="cannot serialise"):
        export({**picture, "incidents": incidents}, View(window="7d", layers=("incidents",)), fmt="geojson",
               tmp_path=tmp_path)
    assert _leftovers(tmp_path) == []
