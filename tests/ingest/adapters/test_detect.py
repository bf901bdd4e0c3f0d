"""Format detection and the adapter registry: every sample file detected, read and accounted for."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from ingest import reasons
from ingest.adapters import READERS, detect, read
from ingest.adapters.common import output_columns
from ingest.errors import UnreadableInputError
from ingest.schema import CRS
from tests.ingest.adapters.conftest import DATA, SRC, accounted

# rasterio.transform.from_origin still uses Affine's `*`, which affine 3 deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:Use `@` matmul:PendingDeprecationWarning")


SAMPLES = [
    ("cot/drone_events.xml", "cot", {}),
    ("cot/pycot_tak_example.xml", "cot", {}),
    ("cot/takproto_wintak_event.xml", "cot", {}),
    ("gpx/track_with_speed.gpx", "gpx", {}),
    ("gpx/track-with-empty-segment.gpx", "gpx", {}),
    ("gpx/track-with-less-sec-time.gpx", "gpx", {}),
    ("gpx/uav_mission.gpx", "gpx", {}),
    ("csv/tracks_opensky_style.csv", "tracks-csv", {}),
    ("csv/tracks_partner.csv", "tracks-csv", {}),
    ("csv/acled_kosovo_style.csv", "acled-csv", {}),
    ("geojson/incidents.geojson", "geojson-incidents", {}),
    ("geojson/deployments.geojson", "geojson-deployments", {}),
    ("geojson/naturalearth_lux_kos.geojson", "geojson", {"layer": "borders"}),
    ("geojson/naturalearth_lux_kos_3857.geojson", "geojson", {"layer": "borders"}),
    ("geojson/null_geom.geojson", "geojson", {"layer": "disputed_areas"}),
    ("stac/sample-bands-in-item-properties.json", "stac", {}),
    ("stac/eo-landsat-example.json", "stac", {}),
    ("stac/item_collection.json", "stac", {}),
]


@pytest.mark.parametrize("name,fmt,opts", SAMPLES, ids=[s[0] for s in SAMPLES])
def test_every_sample_is_detected_and_accounted_for(name: str, fmt: str, opts: dict) -> None:
    path = DATA / name
    assert detect(path) == fmt
    res = read(path, source=SRC, **opts)
    if isinstance(res, list):  # CoT returns one result per layer; these samples hold position reports only
        (res,) = res
    layer = READERS[fmt][0] or opts["layer"]
    assert res.layer == layer
    assert list(res.frame.columns) == output_columns(layer)
    assert res.frame.crs == CRS
    assert res.records_read == len(res.frame) + len(res.rejected)
    assert (res.frame["source"] == SRC).all()
    assert set(res.rejected["reason"]) <= set(reasons.ALL)
    assert (res.rejected["source"] == SRC).all()


def test_registry_names() -> None:
    assert set(READERS) >= {
        "cot",
        "gpx",
        "tracks-csv",
        "geojson-incidents",
        "geojson-deployments",
        "geojson",
        "acled-csv",
        "stac",
    }
    assert READERS["acled-csv"][0] == "incidents"
    assert READERS["stac"][0] == "imagery"


def test_detect_refuses_unknown(tmp_path: Path) -> None:
    p = tmp_path / "notes.txt"
    p.write_text("hello world\n")
    with pytest.raises(UnreadableInputError, match="cannot tell the format"):
        detect(p)
    with pytest.raises(UnreadableInputError, match="cannot open"):
        detect(tmp_path / "missing.xml")


NEW_SAMPLES = [
    ("kml/uav_tracks.kml", "kml-tracks", {}),
    ("kml/deployments.kml", "kml-deployments", {}),
    ("kml/infrastructure.kml", "kml-infrastructure", {}),
    ("kml/two_layers.kml", "kml", {"layer": "infrastructure", "kind": "other"}),
    ("georss/gdacs_rss.xml", "georss", {}),
    ("usgs/usgs_summary.geojson", "usgs-geojson", {}),
    ("csv/deployments_partner.csv", "deployments-csv", {}),
    ("csv/infrastructure_partner.csv", "infrastructure-csv", {}),
    (
        "gpkg/multisurface.gpkg",
        "gpkg",
        {"layer": "infrastructure", "defaults": {"kind": "other", "name": "zone"}},
    ),
    ("osm/Helsinki.osm.pbf", "osm", {}),
    ("osm/facilities.osm", "osm", {}),
    ("raster/slope_nodata.tif", "raster", {}),
]


@pytest.mark.parametrize("name,fmt,opts", NEW_SAMPLES, ids=[s[0] for s in NEW_SAMPLES])
def test_every_new_sample_is_detected_and_accounted_for(name: str, fmt: str, opts: dict) -> None:
    path = DATA / name
    assert detect(path) == fmt
    res = read(path, source=SRC, **opts)
    assert res.layer == (READERS[fmt][0] or opts["layer"])
    accounted(res)
    assert len(res.frame) > 0
    assert (res.frame["source"] == SRC).all()


def test_registry_names_added() -> None:
    assert set(READERS) >= {
        "kml",
        "kml-tracks",
        "kml-deployments",
        "kml-infrastructure",
        "georss",
        "usgs-geojson",
        "deployments-csv",
        "infrastructure-csv",
        "gpkg",
        "gpkg-deployments",
        "gpkg-infrastructure",
        "osm",
        "raster",
    }
    assert READERS["georss"][0] == READERS["usgs-geojson"][0] == "incidents"
    assert READERS["osm"][0] == "infrastructure" and READERS["raster"][0] == "imagery"
    assert READERS["kml"][0] is None and READERS["gpkg"][0] is None


def test_detect_new_formats(tmp_path: Path) -> None:
    assert detect(tmp_path) == "raster"  # a folder
    odd = tmp_path / "feed.dat"
    odd.write_bytes((DATA / "georss/gdacs_rss.xml").read_bytes())
    assert detect(odd) == "georss"
    pbf = tmp_path / "extract.bin"
    pbf.write_bytes((DATA / "osm/Helsinki.osm.pbf").read_bytes())
    assert detect(pbf) == "osm"
    buf = io.StringIO()
    buf.write("id,time,lat,lon\nT1,2026-11-20T10:00:00Z,42,21\n")
    tracks = tmp_path / "t.csv"
    tracks.write_text(buf.getvalue())
    assert detect(tracks) == "tracks-csv"  # still
    deps = tmp_path / "d.csv"
    deps.write_text("id,nation,unit_name,lat,lon\n1,FRA,x,42,21\n")
    assert detect(deps) == "deployments-csv"
    assert os.environ["WATCHFLOOR_HOME"]  # the autouse fixture is in place
