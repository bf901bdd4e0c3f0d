"""Export files are what their names say: a `.csv` is a CSV, a zip ends in `.zip`.

One layer of CSV is a plain CSV (its provenance beside it, in `<name>.provenance.txt`: a comment
line above the header would be read as the header by GDAL, pandas and spreadsheets); several
layers, and any Shapefile, are zips, and a zip's name ends in `.zip`. A name that cannot be
honoured is refused with the name to use instead, and nothing is written. Every file is opened
the way its users open it: GDAL (pyogrio), pandas and the csv module, and compared with the
records exported, written down here by hand.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely

from ingest.store.delta import DeltaStore
from ingest.validate import validate
from layers.access import Viewer
from layers.export import ExportError, export_bytes, export_view
from layers.filters import View

ROOT = Path(__file__).resolve().parents[3]
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
SINCE = NOW - timedelta(hours=24)
MARKING = "UNCLASSIFIED"
VIEWER = Viewer("analyst", "GBR", "SECRET", "analyst")
BOTH = View(window="custom", start=SINCE, end=NOW, layers=("incidents", "deployments"))
INCIDENTS = View(window="custom", start=SINCE, end=NOW, layers=("incidents",))

# source_id -> (severity, lon, lat, hours before NOW)
INCIDENT_ROWS = {"inc-1": ("high", 21.1, 42.6, 1), "inc-2": ("low", 20.9, 42.4, 2), "inc-3": ("critical", 21.3, 42.7, 3)}
# source_id -> (nation, lon, lat)
DEPLOYMENT_ROWS = {"dep-1": ("GBR", 21.0, 42.5), "dep-2": ("FRA", 21.2, 42.55)}


def incidents() -> gpd.GeoDataFrame:
    rows = [{"source_id": sid, "occurred_at": NOW - timedelta(hours=h), "category": "Flood", "severity": sev,
             "status": "reported", "marking": MARKING} for sid, (sev, _, _, h) in INCIDENT_ROWS.items()]
    geoms = [shapely.Point(x, y) for _, x, y, _ in INCIDENT_ROWS.values()]
    return _valid("incidents", rows, geoms)


def deployments() -> gpd.GeoDataFrame:
    rows = [{"source_id": sid, "nation": nation, "unit_name": f"unit {sid}", "reported_at": NOW - timedelta(hours=5),
             "marking": MARKING} for sid, (nation, _, _) in DEPLOYMENT_ROWS.items()]
    geoms = [shapely.Point(x, y) for _, x, y in DEPLOYMENT_ROWS.values()]
    return _valid("deployments", rows, geoms)


def _valid(layer: str, rows: list[dict], geoms: list) -> gpd.GeoDataFrame:
    result = validate(gpd.GeoDataFrame(rows, geometry=geoms, crs=4326), layer, source="feed", now=NOW)
    assert result.quarantined.empty, result.quarantined[["source_id", "reason"]].to_string()
    return result.valid


@pytest.fixture(scope="module")
def picture() -> dict[str, gpd.GeoDataFrame]:
    return {"incidents": incidents(), "deployments": deployments()}


def export(picture, view: View, fmt: str, out: Path) -> object:
    return export_view(picture, view, viewer=VIEWER, fmt=fmt, out=out, now=NOW)


def files(folder: Path) -> list[str]:
    """Every name in `folder`, hidden staging folders included (a refused export leaves none)."""
    return sorted(p.name for p in folder.iterdir())


def assert_incidents(frame: pd.DataFrame) -> None:
    """The three incidents, whatever read them: ids, severities and lon/lat to 1e-7 degrees."""
    got = frame.set_index("source_id").sort_index()
    assert list(got.index) == sorted(INCIDENT_ROWS)
    for sid, (sev, x, y, _) in INCIDENT_ROWS.items():
        assert got.loc[sid, "severity"] == sev
        geom = got.loc[sid, "geometry"] if "geometry" in got else shapely.from_wkt(got.loc[sid, "wkt"])
        assert (geom.x, geom.y) == pytest.approx((x, y), abs=1e-7)


def assert_deployments(frame: pd.DataFrame) -> None:
    got = frame.set_index("source_id").sort_index()
    assert list(got.index) == sorted(DEPLOYMENT_ROWS)
    assert got["nation"].to_dict() == {sid: n for sid, (n, _, _) in DEPLOYMENT_ROWS.items()}


# --- CSV ------------------------------------------------------------------------------------------


def test_one_layer_of_csv_is_a_plain_csv_with_its_provenance_beside_it(picture, tmp_path):
    path = tmp_path / "inc.csv"
    result = export(picture, INCIDENTS, "csv", path)
    assert result.path == path and result.mime == "text/csv"
    assert not zipfile.is_zipfile(path)
    assert files(tmp_path) == ["inc.csv", "inc.csv.provenance.txt"]
    # GDAL: the `wkt` column is the geometry
    by_gdal = pyogrio.read_dataframe(path)
    assert by_gdal.geometry.geom_type.tolist() == ["Point"] * 3
    assert_incidents(by_gdal)
    # pandas and the csv module, as a script or a spreadsheet import reads it
    assert_incidents(pd.read_csv(path, encoding="utf-8-sig"))
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["source_id"]: r["occurred_at"] for r in rows} == {
        "inc-1": "2026-11-21T11:00:00Z", "inc-2": "2026-11-21T10:00:00Z", "inc-3": "2026-11-21T09:00:00Z"}
    provenance = (tmp_path / "inc.csv.provenance.txt").read_text(encoding="utf-8")
    assert provenance.startswith(f"Marking: {MARKING}\n")
    assert "Records: incidents 3 (total 3)" in provenance
    assert "Time window (UTC): 2026-11-20T12:00:00Z to 2026-11-21T12:00:00Z" in provenance


def test_several_layers_of_csv_are_a_zip_named_zip(picture, tmp_path):
    path = tmp_path / "picture.zip"
    result = export(picture, BOTH, "csv", path)
    assert result.mime == "application/zip" and files(tmp_path) == ["picture.zip"]
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["PROVENANCE.txt", "deployments.csv", "incidents.csv"]
        assert_deployments(pd.read_csv(io.BytesIO(zf.read("deployments.csv")), encoding="utf-8-sig"))
        assert zf.read("PROVENANCE.txt").decode().startswith(f"Marking: {MARKING}\n")
    assert_incidents(pyogrio.read_dataframe(f"/vsizip/{path}/incidents.csv"))


def test_a_zip_asked_for_by_name_is_a_zip_even_of_one_layer(picture, tmp_path):
    export(picture, INCIDENTS, "csv", tmp_path / "inc.zip")
    assert files(tmp_path) == ["inc.zip"]
    with zipfile.ZipFile(tmp_path / "inc.zip") as zf:
        assert sorted(zf.namelist()) == ["PROVENANCE.txt", "incidents.csv"]
    assert_incidents(pyogrio.read_dataframe(f"/vsizip/{tmp_path / 'inc.zip'}/incidents.csv"))


def test_default_names_end_as_the_files_are(picture, tmp_path):
    one = export(picture, INCIDENTS, "csv", tmp_path)
    assert one.path.name == "watchfloor_incidents_20261121T1200Z_UNCLASSIFIED.csv"
    assert (tmp_path / f"{one.path.name}.provenance.txt").is_file()
    both = export(picture, BOTH, "csv", tmp_path)
    assert both.path.name.endswith("_UNCLASSIFIED.csv.zip") and zipfile.is_zipfile(both.path)
    shp = export(picture, INCIDENTS, "shp", tmp_path)
    assert shp.path.name.endswith(".shp.zip") and zipfile.is_zipfile(shp.path)


def test_a_download_of_one_layer_of_csv_is_a_zip_carrying_its_provenance(picture):
    r = export_bytes(picture, INCIDENTS, viewer=VIEWER, fmt="csv", now=NOW)
    assert r.filename.endswith(".csv.zip") and r.mime == "application/zip"
    with zipfile.ZipFile(io.BytesIO(r.data)) as zf:
        assert sorted(zf.namelist()) == ["PROVENANCE.txt", "incidents.csv"]


# --- Shapefile ------------------------------------------------------------------------------------


def test_a_shapefile_export_is_a_zip_gdal_opens_as_it_is(picture, tmp_path):
    path = tmp_path / "inc.shp.zip"
    export(picture, INCIDENTS, "shp", path)
    assert files(tmp_path) == ["inc.shp.zip"]
    with zipfile.ZipFile(path) as zf:
        assert {"incidents_point.shp", "incidents_point.shx", "incidents_point.dbf", "incidents_point.prj",
                "incidents_point.cpg", "FIELDS.txt", "FIELDS.json", "PROVENANCE.txt"} == set(zf.namelist())
    assert_incidents(pyogrio.read_dataframe(path))  # GDAL reads a .shp.zip without /vsizip/
    assert pyogrio.read_info(path)["crs"] == "EPSG:4326"


# --- names that cannot be honoured ------------------------------------------------------------------


SHP_REFUSED = ("cannot write inc.shp: a Shapefile is several files (.shp, .shx, .dbf, .prj, .cpg), exported "
               "together with FIELDS.txt and PROVENANCE.txt, so the export is a zip archive, and a zip's name "
               "must end in .zip; name it inc.shp.zip")


def csv_refused(name: str) -> str:
    return (f"cannot write {name}: 2 layers (incidents, deployments) are one .csv file each, so the export is a "
            "zip archive, and a zip's name must end in .zip; name it picture.csv.zip or export one layer at a time")


@pytest.mark.parametrize(("fmt", "view", "name", "message"), [
    ("csv", BOTH, "picture.csv", csv_refused("picture.csv")),
    ("csv", BOTH, "picture", csv_refused("picture")),
    ("shp", INCIDENTS, "inc.shp", SHP_REFUSED),
    ("geojson", BOTH, "picture.geojson",
     "cannot write picture.geojson: 2 layers (incidents, deployments) are one .geojson file each"),
    ("gpkg", BOTH, "picture.zip",
     ("cannot write picture.zip: a gpkg export of incidents, deployments is one .gpkg file, not a zip archive; "
      "name it picture.gpkg")),
    ("csv", INCIDENTS, "inc.shp",
     "cannot write inc.shp: a csv export of incidents is one .csv file, not a .shp file; name it inc.csv"),
])
def test_a_name_that_cannot_be_honoured_is_refused_and_nothing_written(picture, tmp_path, fmt, view, name, message):
    with pytest.raises(ExportError) as err:
        export(picture, view, fmt, tmp_path / name)
    assert str(err.value).startswith(message)
    assert files(tmp_path) == []


def test_names_of_other_endings_are_the_users_to_choose(picture, tmp_path):
    """A name the format's tools accept (.json GeoJSON) or that names no export format is kept."""
    export(picture, INCIDENTS, "geojson", tmp_path / "inc.json")
    assert_incidents(pyogrio.read_dataframe(tmp_path / "inc.json"))
    export(picture, INCIDENTS, "csv", tmp_path / "inc.txt")
    assert_incidents(pd.read_csv(tmp_path / "inc.txt", encoding="utf-8-sig"))
    assert files(tmp_path) == ["inc.json", "inc.txt", "inc.txt.provenance.txt"]


# --- through `watchfloor export` --------------------------------------------------------------------

PASSWORD = "export files test password"


@pytest.fixture(scope="module")
def home(tmp_path_factory, picture) -> Path:
    from layers.access import add_user

    home = tmp_path_factory.mktemp("export-files-home")
    store = DeltaStore(home / "store")
    for layer, frame in picture.items():
        store.write(layer, frame)
    add_user(home / "users.toml", "analyst", PASSWORD, nation="GBR", clearance="SECRET", role="analyst")
    return home


def watchfloor_export(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "WATCHFLOOR_HOME": str(home)}
    env.pop("WATCHFLOOR_STORE", None)
    return subprocess.run(
        [sys.executable, "-m", "layers.cli", "export", "--user", "analyst", "--password-stdin",
         "--since", SINCE.strftime("%Y-%m-%dT%H:%M:%SZ"), "--until", NOW.strftime("%Y-%m-%dT%H:%M:%SZ"), *args],
        cwd=ROOT, env=env, input=PASSWORD + "\n", capture_output=True, text=True, timeout=600, check=False)


def test_the_command_writes_a_plain_csv_and_a_zipped_shapefile(home, tmp_path):
    run = watchfloor_export(home, "-f", "csv", "-o", str(tmp_path / "inc.csv"), "--layers", "incidents")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"{tmp_path / 'inc.csv'}: 3 features (incidents 3); marking {MARKING}")
    assert_incidents(pyogrio.read_dataframe(tmp_path / "inc.csv"))
    assert_incidents(pd.read_csv(tmp_path / "inc.csv", encoding="utf-8-sig"))

    run = watchfloor_export(home, "-f", "shp", "-o", str(tmp_path / "inc.shp"), "--layers", "incidents")
    assert run.returncode == 2
    assert run.stderr == f"error: {SHP_REFUSED}\n"
    run = watchfloor_export(home, "-f", "shp", "-o", str(tmp_path / "inc.shp.zip"), "--layers", "incidents")
    assert run.returncode == 0, run.stderr
    assert_incidents(pyogrio.read_dataframe(tmp_path / "inc.shp.zip"))

    run = watchfloor_export(home, "-f", "csv", "-o", str(tmp_path / "both.csv"), "--layers", "incidents,deployments")
    assert run.returncode == 2 and "name it both.csv.zip" in run.stderr
    assert files(tmp_path) == ["inc.csv", "inc.csv.provenance.txt", "inc.shp.zip"]
