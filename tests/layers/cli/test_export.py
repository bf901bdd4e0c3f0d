"""`watchfloor export` (layers/cli/export.py): the same view as the dashboard, from the command line."""

from __future__ import annotations

import argparse
import io
import json
import sys
from datetime import timedelta

import pyogrio
import pytest
import shapely

from layers.cli.export import add_export_arguments, export_command
from layers.filters import View, apply_view
from tests.conftest import DEMO_NOW
from tests.support.exports import NOW, ids


def test_cli_exports_what_the_same_view_shows(demo_home, tmp_path, monkeypatch, capsys):
    from ingest.store.delta import DeltaStore
    from layers.access import add_user
    from layers.picture import Window, load_picture, operational_bounds

    # The shared demo store, and a home of this test's own for the users file.
    home = tmp_path / "home"
    monkeypatch.setenv("WATCHFLOOR_HOME", str(home))
    monkeypatch.setenv("WATCHFLOOR_STORE", str(demo_home / "store"))
    add_user(home / "users.toml", "exporter", "correct horse battery", nation="GBR", clearance="TOP SECRET",
             role="administrator")
    monkeypatch.setattr(sys, "stdin", io.StringIO("correct horse battery\n"))
    parser = argparse.ArgumentParser()
    add_export_arguments(parser)
    since, until = DEMO_NOW - timedelta(hours=24), DEMO_NOW
    args = parser.parse_args([
        "--user", "exporter", "--password-stdin", "--layers", "incidents,tracks", "--since", since.isoformat(), "--until", until.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "--bbox", "18,40,24,46", "--filter", "severity=high,critical", "--filter", "category=Flood",
        "--format", "gpkg", "-o", str(tmp_path / "cli.gpkg")])
    assert export_command(args) == 0
    line = capsys.readouterr().out
    assert "cli.gpkg" in line and "marking" in line and "as exporter (GBR, TOP SECRET)" in line
    store = DeltaStore(demo_home / "store")
    view = View(window="custom", start=since, end=until, severities=("high", "critical"), categories=("Flood",),
                layers=("incidents", "tracks"), aoi_wkt=shapely.box(18, 40, 24, 46).wkt)
    picture = load_picture(store, Window(since, until), operational_bounds(store))
    expected = apply_view(picture, view, until)
    got = pyogrio.read_dataframe(tmp_path / "cli.gpkg", layer="incidents")
    assert ids("incidents", got) == ids("incidents", expected["incidents"]) and len(got) > 0
    assert set(got["severity"]) <= {"high", "critical"} and set(got["category"]) == {"Flood"}
    meta = json.loads(pyogrio.read_info(tmp_path / "cli.gpkg", layer="incidents")["dataset_metadata"]["watchfloor"])
    assert meta["filters"]["sev"] == "high,critical" and meta["filters"]["w"] == "custom"


def test_cli_rejects_unknown_filters_and_formats():
    from ingest.errors import WatchfloorError
    from layers.cli.export import view_from_args

    parser = argparse.ArgumentParser()
    add_export_arguments(parser)
    with pytest.raises(WatchfloorError, match="--filter"):
        view_from_args(parser.parse_args(["--user", "u", "-f", "gpkg", "--filter", "colour=red"]), NOW)
    with pytest.raises(WatchfloorError, match="--bbox"):
        view_from_args(parser.parse_args(["--user", "u", "-f", "gpkg", "--bbox", "1,2,3"]), NOW)
    with pytest.raises(SystemExit):
        parser.parse_args(["--user", "u", "-f", "docx"])
    with pytest.raises(SystemExit):  # no export without a user to sign in as
        parser.parse_args(["-f", "gpkg"])
    view, now = view_from_args(parser.parse_args(["--user", "u", "-f", "kml", "--window", "6h",
                                                  "--filter", "nation=GBR,FRA"]), NOW)
    assert view.window == "6h" and view.nations == ("GBR", "FRA") and now == NOW
