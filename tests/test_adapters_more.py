"""The remaining file adapters: KML/KMZ, GDACS GeoRSS, USGS GeoJSON, deployment and
infrastructure CSV, GeoPackage, OpenStreetMap, GeoTIFF, STAC API search; and the
shared guards (safe ZIP extraction, GDAL path checks).

Expected coordinates and times were worked out by hand from the sample files
(see tests/data/README.md for where each came from) or computed independently
(pyproj, osmium-tool), never copied from the adapters' output.
"""

from __future__ import annotations

import io
import json
import math
import os
import sqlite3
import stat
import struct
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin

from ingest import reasons
from ingest.adapters import READERS, detect, gdalpath, read, ziputil
from ingest.adapters.common import output_columns
from ingest.adapters.georss import read_georss, rfc822_to_iso
from ingest.adapters.gpkg import read_gpkg
from ingest.adapters.kml import parse_coordinates, read_kml
from ingest.adapters.layer_csv import read_deployments_csv, read_infrastructure_csv, read_layer_csv
from ingest.adapters.osm import capacity_mw, classify, read_osm
from ingest.adapters.raster import acquisition_time, read_raster, time_from_name, valid_outline
from ingest.adapters.stac_api import check_url, search_stac_api
from ingest.adapters.usgs import derive_severity, epoch_ms_to_iso, read_usgs
from ingest.errors import ConfigError, HostileInputError, UnreadableInputError
from ingest.schema import CRS
from ingest.validate import validate

DATA = Path(__file__).parent / "data"
SRC = "test-src"
# rasterio.transform.from_origin still uses Affine's `*`, which affine 3 deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:Use `@` matmul:PendingDeprecationWarning")


def by_id(frame: pd.DataFrame) -> dict[str, pd.Series]:
    return {row.source_id: row for _, row in frame.iterrows()}


def xy(geom) -> tuple[float, float]:
    return (geom.x, geom.y)


def is_null(v: Any) -> bool:
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


# --------------------------------------------------------------------------
# Every new sample: detected, read, accounted for.

SAMPLES = [
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


@pytest.mark.parametrize("name,fmt,opts", SAMPLES, ids=[s[0] for s in SAMPLES])
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


# --------------------------------------------------------------------------
# ziputil: real crafted archives


def make_zip(
    path: Path,
    members: list[tuple[str | zipfile.ZipInfo, bytes]],
    compression: int = zipfile.ZIP_DEFLATED,
) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return path


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*")}


def test_safe_extract_writes_generated_names_only_into_staging(tmp_path: Path) -> None:
    archive = make_zip(
        tmp_path / "ok.kmz",
        [("doc.kml", b"<kml/>"), ("files/Icon One.PNG", b"png"), ("files/", b"")],
    )
    staging = tmp_path / "staging"
    staging.mkdir()
    before = files_under(tmp_path)
    out = ziputil.extract(archive, staging)
    assert [(m.name, m.path.name, m.size) for m in out] == [
        ("doc.kml", "00000.kml", 6),
        ("files/Icon One.PNG", "00001.png", 3),
    ]
    assert out[0].path.read_bytes() == b"<kml/>"
    assert files_under(tmp_path) - before == {staging / "00000.kml", staging / "00001.png"}


@pytest.mark.parametrize(
    "member,why",
    [
        ("../../x", "climbs out"),
        ("a/../../x", "climbs out"),
        ("/abs/x", "absolute path"),
        ("C:/x", "drive letter"),
        ("..\\..\\x", "climbs out"),
    ],
)
def test_zip_slip_members_are_refused_and_nothing_is_written(
    tmp_path: Path, member: str, why: str
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    archive = make_zip(tmp_path / "slip.zip", [("doc.kml", b"<kml/>"), (member, b"pwned")])
    staging = work / "staging"
    staging.mkdir()
    before = files_under(tmp_path)
    with pytest.raises(HostileInputError, match=why) as err:
        ziputil.extract(archive, staging)
    assert "slip.zip" in str(err.value)
    assert files_under(tmp_path) == before  # not even doc.kml: the archive is refused whole
    assert not (tmp_path / "x").exists() and not Path("/abs/x").exists()


def test_symlink_member_is_refused(tmp_path: Path) -> None:
    info = zipfile.ZipInfo("link.kml")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    archive = make_zip(tmp_path / "link.zip", [(info, b"/etc/passwd")])
    with pytest.raises(HostileInputError, match="symbolic link"):
        ziputil.extract(archive, tmp_path)


def test_directory_entry_with_payload_is_refused(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "dir.zip", [("hidden/", b"secret payload")])
    with pytest.raises(HostileInputError, match="directory entry"):
        ziputil.extract(archive, tmp_path)


def test_zip_bomb_by_ratio_is_refused_before_extraction(tmp_path: Path) -> None:
    archive = make_zip(
        tmp_path / "bomb.kmz", [("doc.kml", b"<kml>" + b" " * (20 * 2**20) + b"</kml>")]
    )
    assert archive.stat().st_size < 100_000  # 20 MiB in a few tens of KiB
    staging = tmp_path / "staging"
    staging.mkdir()
    with pytest.raises(HostileInputError, match="zip bomb"):
        ziputil.extract(archive, staging)
    assert not any(staging.iterdir())


def test_zip_bomb_by_entry_count_and_total_size(tmp_path: Path) -> None:
    many = make_zip(
        tmp_path / "many.zip", [(f"f{i}.txt", b"x") for i in range(ziputil.MAX_ENTRIES + 1)]
    )
    with pytest.raises(HostileInputError, match="entries"):
        ziputil.extract(many, tmp_path)
    rng = np.random.default_rng(1)
    big = make_zip(
        tmp_path / "big.zip", [("a.bin", rng.bytes(600_000)), ("b.bin", rng.bytes(600_000))]
    )
    with pytest.raises(HostileInputError, match="expands to more than"):
        ziputil.extract(big, tmp_path, max_total_bytes=1_000_000)


def test_member_that_lies_about_its_size_is_stopped(tmp_path: Path) -> None:
    """The headers say 100 bytes; the data inflates to 2 MiB.

    zipfile stops at the declared size and then fails the CRC check; extract's own
    byte count (for a member that would run on) backs that up. Either way the
    archive is refused and the partial file removed.
    """
    archive = make_zip(tmp_path / "liar.zip", [("doc.kml", b"A" * (2 * 2**20))])
    raw = bytearray(archive.read_bytes())
    # Patch the uncompressed size in the local header (offset 22) and the
    # central directory entry (offset 24 after its signature).
    struct.pack_into("<I", raw, 22, 100)
    cd = raw.rfind(b"PK\x01\x02")
    struct.pack_into("<I", raw, cd + 24, 100)
    archive.write_bytes(bytes(raw))
    staging = tmp_path / "staging"
    staging.mkdir()
    with pytest.raises(UnreadableInputError) as err:  # HostileInputError is a subclass
        ziputil.extract(archive, staging)
    assert "liar.zip" in str(err.value)
    assert not any(staging.iterdir())  # the partial file is removed


def test_nested_archives_are_not_opened(tmp_path: Path) -> None:
    inner = make_zip(tmp_path / "inner.zip", [("doc.kml", b"<kml>" + b" " * 2**20 + b"</kml>")])
    outer = make_zip(tmp_path / "outer.zip", [("inner.zip", inner.read_bytes())])
    staging = tmp_path / "s"
    staging.mkdir()
    (m,) = ziputil.extract(outer, staging)
    assert m.path.suffix == ".zip" and m.size == inner.stat().st_size


def test_not_a_zip(tmp_path: Path) -> None:
    p = tmp_path / "x.zip"
    p.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(UnreadableInputError, match="not a ZIP"):
        ziputil.extract(p, tmp_path)


# --------------------------------------------------------------------------
# KML / KMZ


def test_kml_tracks() -> None:
    res = read_kml(DATA / "kml/uav_tracks.kml", source=SRC, layer="track_points")
    assert (len(res.frame), len(res.rejected), res.records_read) == (7, 3, 10)
    rows = by_id(res.frame)
    d0 = rows["UAV-DELTA-4@2026-11-20T10:00:00Z"]
    assert xy(d0.geometry) == (21.1655, 42.6629)  # gx:coord is "lon lat alt"
    assert (d0.altitude_m, d0.speed_mps, d0.heading_deg) == (850.5, 20.5, 45.0)
    assert (d0.callsign, d0.platform_type) == ("DELTA 4", "a-f-A-M-F-Q")
    assert d0.marking == "UNCLASSIFIED//REL TO NATO"  # from the Document's ExtendedData
    d2 = rows["UAV-DELTA-4@2026-11-20T12:00:20+02:00"]
    assert xy(d2.geometry) == (21.1685, 42.6651) and d2.heading_deg == 47.0

    # LineString + TimeSpan: vertices along one meridian at 42.0, 42.1, 42.3 N. The
    # two legs are 0.1 and 0.2 degrees of latitude, so the middle vertex is a third
    # of the way in distance (to ~1e-4: meridian degrees lengthen slightly
    # northwards) and of the 20 minutes: 09:06:40 give or take 0.1 s.
    patrol = res.frame[res.frame.track_id == "PATROL-7"]
    assert [xy(g) for g in patrol.geometry] == [(21.0, 42.0), (21.0, 42.1), (21.0, 42.3)]
    assert list(patrol.altitude_m) == [300.0, 310.0, 320.0]
    t = pd.to_datetime(patrol.time, utc=True, format="ISO8601").tolist()
    assert t[0] == pd.Timestamp("2026-11-20T09:00:00Z") and t[2] == pd.Timestamp(
        "2026-11-20T09:20:00Z"
    )
    assert abs((t[1] - pd.Timestamp("2026-11-20T09:06:40Z")).total_seconds()) < 0.1

    convoy = rows["CONVOY-2@2026-11-20T11:00:00Z"]  # TimeStamp: the last vertex
    assert xy(convoy.geometry) == (20.95, 42.55)  # "20.95, 42.55": space after the comma
    assert convoy.marking == "UNCLASSIFIED"

    rej = res.rejected.set_index("source_id")
    assert rej.loc["UAV-DELTA-4@2026-11-20T10:00:30Z"].reason == reasons.BAD_COORDINATE_TEXT
    assert "forty-two" in rej.loc["UAV-DELTA-4@2026-11-20T10:00:30Z"].detail
    assert rej.loc["UAV-DELTA-4@2026-11-20T10:00:40Z"].reason == reasons.MALFORMED_RECORD
    assert "5 <when> and 4 <gx:coord>" in rej.loc["UAV-DELTA-4@2026-11-20T10:00:40Z"].detail
    assert rej.loc["CONVOY-2@#0"].reason == reasons.MISSING_TIME

    # Through validate: every time becomes tz-aware UTC; +02:00 moves back two hours.
    ok = validate(res.frame, "track_points", source=SRC).valid
    assert len(ok) == 7 and str(ok["time"].dtype) == "datetime64[us, UTC]"
    assert pd.Timestamp("2026-11-20T10:00:20Z") in set(ok["time"])


def test_kml_deployments() -> None:
    res = read_kml(DATA / "kml/deployments.kml", source=SRC, layer="deployments")
    assert (len(res.frame), len(res.rejected), res.records_read) == (
        3,
        3,
        6,
    )  # the gx:Track is skipped
    rows = by_id(res.frame)
    fra = rows["fra-1"]
    assert xy(fra.geometry) == (21.1655, 42.6629)
    assert (fra.nation, fra.unit_name, fra.unit_type, fra.echelon) == (
        "FRA",
        "1er RIMa",
        "infantry",
        "company",
    )
    assert (fra.strength, fra.symbol_code, fra.reported_at) == (
        140.0,
        "SFGPUCI----E---",
        "2026-11-20T08:00:00Z",
    )
    assert fra.marking == "UNCLASSIFIED//REL TO NATO"
    assert fra.area.equals(shapely.box(21.10, 42.62, 21.20, 42.70))
    deu = rows["DEU/Panzergrenadier Company 3"]  # SchemaData; no id: nation/unit_name
    assert deu.unit_name == "Panzergrenadier Company 3"  # from <name>
    assert deu.echelon == "company"  # "Company" in the file
    assert deu.strength == "about 90"  # passed on for validate to refuse
    assert deu.reported_at == "2026-11-20T09:00:00+01:00"  # TimeStamp
    assert xy(deu.geometry) == (20.8656, 42.8911) and is_null(deu.area)
    pol = rows["pol-1"]
    assert (pol.reported_at, pol.stale_at) == ("2026-11-20T07:00:00Z", "2026-11-21T07:00:00Z")
    assert xy(pol.geometry) == (21.2, 42.45)
    rej = res.rejected.set_index("source_id")
    assert (
        rej.loc["ita-1"].reason == reasons.MALFORMED_RECORD and "<Point>" in rej.loc["ita-1"].detail
    )
    assert (
        rej.loc["gbr-1"].reason == reasons.BAD_COORDINATE_TEXT
        and "21.1,abc" in rej.loc["gbr-1"].detail
    )
    assert (
        rej.loc["nld-1"].reason == reasons.MALFORMED_RECORD
        and "4 coordinates" in rej.loc["nld-1"].detail
    )

    checked = validate(res.frame, "deployments", source=SRC)
    assert set(checked.valid.source_id) == {"fra-1", "pol-1"}
    assert checked.quarantined.reason.tolist() == [reasons.BAD_VALUE]  # "about 90"
    assert checked.valid.set_index("source_id").loc["fra-1"].reported_at == pd.Timestamp(
        "2026-11-20T08:00Z"
    )


def test_kml_infrastructure() -> None:
    res = read_kml(DATA / "kml/infrastructure.kml", source=SRC, layer="infrastructure")
    assert (len(res.frame), len(res.rejected), res.records_read) == (4, 1, 5)
    rows = by_id(res.frame)
    apt = rows["pristina-airport"]
    assert (apt.kind, apt["name"], apt.subkind, apt.code, apt.country_code) == (
        "airport",
        "Pristina International Airport",
        "international",
        "BKPR",
        "XKX",
    )
    assert xy(apt.geometry) == (21.0358, 42.5728)
    plant = rows["kosovo-b"]
    assert plant.kind == "power_plant" and plant.capacity == 678.0  # "Power plant" normalised
    assert plant.geometry.equals(
        shapely.box(21.030, 42.684, 21.046, 42.694)
    )  # polygon wins over point
    hosp = rows["infrastructure#2"]  # no id: file stem and position
    assert hosp.geometry.geom_type == "MultiPolygon" and len(hosp.geometry.geoms) == 2
    assert len(hosp.geometry.geoms[0].interiors) == 1
    assert rows["pipeline"].geometry.geom_type == "LineString"  # passed on: validate judges
    (rej,) = res.rejected.itertuples()
    assert (rej.source_id, rej.reason) == ("bad-coords", reasons.BAD_COORDINATE_TEXT)
    checked = validate(res.frame, "infrastructure", source=SRC)
    assert checked.quarantined.reason.tolist() == [reasons.WRONG_GEOMETRY_TYPE]


def test_kml_real_google_samples_as_infrastructure() -> None:
    res = read_kml(DATA / "kml/two_layers.kml", source=SRC, layer="infrastructure", kind="Other")
    assert (len(res.frame), len(res.rejected)) == (7, 0)
    rows = by_id(res.frame)
    simple = rows["two_layers#0"]
    assert (simple["name"], simple.kind) == ("Simple placemark", "other")
    assert xy(simple.geometry) == (-122.0822035425683, 37.42228990140251)
    b40 = rows["two_layers#3"]
    assert b40["name"] == "Building 40" and b40.geometry.geom_type == "Polygon"
    assert b40.geometry.exterior.coords[0] == (-122.0848938459612, 37.42257124044786)  # z dropped
    # Read as tracks, the same file holds none (no gx:Track, no timed LineString).
    assert read_kml(DATA / "kml/two_layers.kml", source=SRC, layer="track_points").records_read == 0


def kmz_of(tmp_path: Path, kml: Path, name: str = "doc.kml", extra: list | None = None) -> Path:
    return make_zip(tmp_path / f"{kml.stem}.kmz", [(name, kml.read_bytes()), *(extra or [])])


def test_kmz_reads_like_its_kml(tmp_path: Path) -> None:
    kml = DATA / "kml/uav_tracks.kml"
    kmz = kmz_of(tmp_path, kml, extra=[("files/icon.png", b"\x89PNG")])
    assert detect(kmz) == "kml-tracks"
    a = read(kmz, source=SRC).frame
    b = read_kml(kml, source=SRC, layer="track_points").frame
    assert a.drop(columns="geometry").equals(b.drop(columns="geometry"))
    assert list(a.geometry) == list(b.geometry)
    # No doc.kml: the first .kml at the root, as Google Earth does.
    other = make_zip(
        tmp_path / "other.kmz",
        [("files/x.kml", b"<kml/>"), ("deploy.kml", (DATA / "kml/deployments.kml").read_bytes())],
    )
    assert len(read_kml(other, source=SRC, layer="deployments").frame) == 3


def test_kmz_hostile_archives(tmp_path: Path) -> None:
    bomb = make_zip(
        tmp_path / "bomb.kmz", [("doc.kml", b"<kml>" + b" " * (20 * 2**20) + b"</kml>")]
    )
    with pytest.raises(HostileInputError, match="zip bomb"):
        read_kml(bomb, source=SRC, layer="track_points")
    with pytest.raises(HostileInputError, match="zip bomb"):
        detect(bomb)
    slip = make_zip(tmp_path / "slip.kmz", [("doc.kml", b"<kml/>"), ("../../evil.kml", b"<kml/>")])
    with pytest.raises(HostileInputError, match="zip slip"):
        read_kml(slip, source=SRC, layer="track_points")
    absolute = make_zip(tmp_path / "abs.kmz", [("/abs/x", b"x"), ("doc.kml", b"<kml/>")])
    with pytest.raises(HostileInputError, match="absolute"):
        read_kml(absolute, source=SRC, layer="deployments")
    assert not (tmp_path.parent / "evil.kml").exists()
    empty = make_zip(tmp_path / "empty.kmz", [("readme.txt", b"hi")])
    with pytest.raises(UnreadableInputError, match="no .kml"):
        read_kml(empty, source=SRC, layer="track_points")


@pytest.mark.parametrize("name", ["billion_laughs.kml", "xxe.kml"])
def test_kml_hostile_xml_is_refused(name: str, tmp_path: Path) -> None:
    with pytest.raises(HostileInputError, match="DOCTYPE") as err:
        read_kml(DATA / "hostile" / name, source=SRC, layer="infrastructure")
    assert name in str(err.value)
    # ...inside a KMZ too.
    kmz = kmz_of(tmp_path, DATA / "hostile" / name)
    with pytest.raises(HostileInputError, match="DOCTYPE"):
        read_kml(kmz, source=SRC, layer="infrastructure")


def test_kml_unreadable() -> None:
    with pytest.raises(UnreadableInputError, match="expected a <kml> root"):
        read_kml(DATA / "gpx/uav_mission.gpx", source=SRC, layer="track_points")
    with pytest.raises(UnreadableInputError, match="can be read as"):
        read_kml(DATA / "kml/uav_tracks.kml", source=SRC, layer="incidents")


def test_kml_timespan_without_zone_is_not_guessed(tmp_path: Path) -> None:
    p = tmp_path / "naive.kml"
    p.write_text(
        '<kml xmlns="http://www.opengis.net/kml/2.2"><Placemark><name>N</name>'
        "<TimeSpan><begin>2026-11-20T09:00:00</begin><end>2026-11-20T09:20:00Z</end></TimeSpan>"
        "<LineString><coordinates>21,42 21,42.1</coordinates></LineString></Placemark></kml>"
    )
    res = read_kml(p, source=SRC, layer="track_points")
    assert (len(res.frame), res.records_read) == (0, 2)
    assert set(res.rejected.reason) == {reasons.NAIVE_TIME}
    assert "no time zone" in res.rejected.detail.iloc[0]


def test_kml_coordinate_text() -> None:
    assert parse_coordinates(" 1,2,3\n 4 , 5 ") == [(1.0, 2.0, 3.0), (4.0, 5.0)]
    with pytest.raises(ValueError, match="2 or 3 numbers"):
        parse_coordinates("1,2,3,4")


# --------------------------------------------------------------------------
# GDACS GeoRSS


def test_georss_gdacs_mapping() -> None:
    res = read_georss(DATA / "georss/gdacs_rss.xml", source=SRC)
    assert (len(res.frame), len(res.rejected), res.records_read) == (4, 2, 6)
    rows = by_id(res.frame)
    eq = rows["EQ1500001"]
    assert xy(eq.geometry) == (19.8187, 41.3275)  # georss:point is "lat lon"
    assert (eq.category, eq.severity, eq.status) == ("Earthquake", "high", "reported")  # Orange
    assert eq.occurred_at == "2026-11-20T10:15:30Z"  # gdacs:fromdate, Fri, 20 Nov 2026 10:15:30 GMT
    assert eq.updated_at == "2026-11-20T11:00:00Z"  # pubDate
    assert eq.location_name == "Albania"
    assert eq.title.startswith("Orange earthquake alert (Magnitude 6.1M")
    assert "Severity: Magnitude 6.1M, Depth:10km" in eq.description
    assert "Population: 210000 people within 100km" in eq.description
    assert "Link: https://www.gdacs.org/report.aspx?eventtype=EQ&eventid=1500001" in eq.description
    tc = rows["TC1000801"]
    assert xy(tc.geometry) == (59.8, -19.4)  # geo:Point only
    assert (tc.category, tc.severity, tc.status) == ("Tropical cyclone", "low", "closed")
    assert tc.subcategory == "ALVIN-26" and tc.occurred_at == "2026-11-15T00:00:00Z"
    fl = rows["FL1103001"]
    assert (fl.category, fl.severity) == ("Flood", "critical")
    assert (fl.occurred_at, fl.updated_at) == ("2026-11-18T06:12:00Z", "2026-11-20T22:05:12Z")
    wf = rows["WF1020304"]  # no guid: event type + event id
    assert (wf.category, wf.severity, wf.occurred_at) == ("Wildfire", "low", "2026-11-19T00:00:00Z")
    rej = res.rejected.set_index("source_id")
    assert rej.loc["DR1017001"].reason == reasons.MALFORMED_RECORD
    assert rej.loc["VO1000077"].reason == reasons.BAD_COORDINATE_TEXT
    assert "north 14.9" in rej.loc["VO1000077"].detail
    ok = validate(res.frame, "incidents", source=SRC).valid.set_index("source_id")
    assert len(ok) == 4
    assert ok.loc["EQ1500001"].occurred_at == pd.Timestamp("2026-11-20T10:15:30Z")


def test_rfc822_dates() -> None:
    assert rfc822_to_iso("Sun, 29 Dec 2019 12:00:00 GMT") == "2019-12-29T12:00:00Z"
    assert rfc822_to_iso("Fri, 20 Nov 2026 12:15:30 +0200") == "2026-11-20T10:15:30Z"
    assert rfc822_to_iso("Fri, 20 Nov 2026 12:15:30 -0000") == "Fri, 20 Nov 2026 12:15:30 -0000"
    assert rfc822_to_iso("yesterday") == "yesterday"


@pytest.mark.parametrize("name", ["billion_laughs_georss.xml", "xxe_georss.xml"])
def test_georss_hostile_xml_is_refused(name: str) -> None:
    with pytest.raises(HostileInputError, match="DOCTYPE") as err:
        read_georss(DATA / "hostile" / name, source=SRC)
    assert name in str(err.value)


def test_georss_not_rss() -> None:
    with pytest.raises(UnreadableInputError, match="<rss> root"):
        read_georss(DATA / "kml/infrastructure.kml", source=SRC)


# --------------------------------------------------------------------------
# USGS earthquake GeoJSON


def test_usgs_mapping() -> None:
    res = read_usgs(DATA / "usgs/usgs_summary.geojson", source=SRC)
    assert (len(res.frame), len(res.rejected), res.records_read) == (3, 1, 4)
    rows = by_id(res.frame)
    a = rows["us7000wf01"]
    assert xy(a.geometry) == (21.4785, 42.0541) and not a.geometry.has_z
    # 1795169730000 ms: 2026-01-01 is day 20454 (56 years + 14 leap days) = 1767225600 s;
    # 20 Nov is 304 + 19 days later (+27907200 s) = 1795132800; +10:15:30 (36930 s).
    assert a.occurred_at == "2026-11-20T10:15:30.000Z"
    assert a.updated_at == "2026-11-20T11:00:00.123Z"  # 1795172400123 ms
    assert (a.category, a.subcategory, a.severity, a.status) == (
        "Earthquake",
        "mb",
        "medium",
        "verified",
    )
    assert a.title == "M 4.6 - 8 km NNE of Skopje, North Macedonia"
    assert a.location_name == "8 km NNE of Skopje, North Macedonia"
    assert "Depth: 10.0 km" in a.description and "Magnitude: 4.6 mb" in a.description
    b = rows["us7000wf02"]
    assert (b.severity, b.status) == ("medium", "reported")  # PAGER yellow beats M6.2; automatic
    assert "Depth: 35.25 km" in b.description and "Tsunami flag: 1" in b.description
    c = rows["us7000wf03"]
    assert (c.category, c.severity) == ("Quarry blast", "low")
    assert "Depth: -0.5 km" in c.description  # above sea level, as USGS gives it
    (rej,) = res.rejected.itertuples()
    assert (rej.source_id, rej.reason) == ("us7000wf04", reasons.MALFORMED_RECORD)
    assert "'21.0'" in rej.detail
    ok = validate(res.frame, "incidents", source=SRC).valid.set_index("source_id")
    assert ok.loc["us7000wf01"].updated_at == pd.Timestamp("2026-11-20T11:00:00.123Z")


def test_usgs_severity_and_epochs() -> None:
    assert derive_severity("red", 3.0) == "critical"
    assert derive_severity("Orange", None) == "high"
    assert derive_severity(None, 7.0) == "critical"
    assert derive_severity(None, 6.5) == "high"
    assert derive_severity(None, 4.5) == "medium"
    assert derive_severity(None, 2.0) == "low"
    assert derive_severity(None, None) == "low"
    assert epoch_ms_to_iso(0) == "1970-01-01T00:00:00.000Z"
    assert epoch_ms_to_iso("soon") == "soon" and epoch_ms_to_iso(True) is True


def test_usgs_not_a_feed(tmp_path: Path) -> None:
    p = tmp_path / "x.geojson"
    p.write_text(json.dumps({"type": "Feature", "geometry": None, "properties": {}}))
    with pytest.raises(UnreadableInputError, match="FeatureCollection"):
        read_usgs(p, source=SRC)


# --------------------------------------------------------------------------
# Deployment and infrastructure CSV


def test_deployments_csv() -> None:
    res = read_deployments_csv(DATA / "csv/deployments_partner.csv", source=SRC)
    assert (len(res.frame), len(res.rejected), res.records_read) == (3, 3, 6)
    rows = by_id(res.frame)
    fra = rows["FRA-1"]
    assert xy(fra.geometry) == (21.1655, 42.6629)
    assert (fra.nation, fra.unit_name, fra.unit_type, fra.echelon, fra.strength) == (
        "FRA",
        "1er RIMa",
        "infantry",
        "company",
        140.0,
    )
    assert fra.area.equals(shapely.box(21.1, 42.62, 21.2, 42.7))
    assert fra.marking == "UNCLASSIFIED//REL TO NATO"
    deu = rows["DEU/Panzergrenadier Company 3"]
    assert deu.geometry.x == pytest.approx(20 + 51 / 60 + 56 / 3600, abs=1e-12)  # 20°51'56"E
    assert deu.geometry.y == pytest.approx(42 + 53 / 60 + 28 / 3600, abs=1e-12)  # 42°53'28"N
    ita = rows["ITA-1"]  # MGRS 34T EN 13294 23380: Pristina, see test_adapters' MGRS check
    t = pyproj.Transformer.from_crs("EPSG:32634", "EPSG:4326", always_xy=True)
    assert xy(ita.geometry) == pytest.approx(t.transform(513294.5, 4723380.5), abs=1e-7)
    assert ita.strength == "about 300"
    rej = res.rejected.set_index("source_id")
    assert rej.loc["GBR-1"].reason == reasons.BAD_COORDINATE_TEXT
    assert rej.loc["NLD-1"].reason == reasons.MALFORMED_RECORD and "WKT" in rej.loc["NLD-1"].detail
    assert "expected 13 fields" in rej.loc["POL-1"].detail
    ok = validate(res.frame, "deployments", source=SRC).valid.set_index("source_id")
    assert ok.loc["DEU/Panzergrenadier Company 3"].reported_at == pd.Timestamp("2026-11-20T08:00Z")


def test_infrastructure_csv_and_options(tmp_path: Path) -> None:
    res = read_infrastructure_csv(DATA / "csv/infrastructure_partner.csv", source=SRC)
    assert (len(res.frame), len(res.rejected), res.records_read) == (3, 1, 4)
    rows = by_id(res.frame)
    assert (rows["pristina-airport"].kind, rows["pristina-airport"].code) == ("airport", "BKPR")
    plant = rows["kosovo-b"]
    assert plant.kind == "power_plant" and plant.capacity == 678.0
    assert plant.geometry.equals(shapely.box(21.030, 42.684, 21.046, 42.694))
    hosp = rows["infrastructure_partner#2"]
    assert hosp.geometry.x == pytest.approx(21 + 9 / 60 + 8.6 / 3600, abs=1e-12)
    assert hosp.geometry.y == pytest.approx(42 + 38 / 60 + 58.6 / 3600, abs=1e-12)
    (rej,) = res.rejected.itertuples()
    assert (rej.source_id, rej.reason) == ("gazivoda-dam", reasons.MALFORMED_RECORD)

    p = tmp_path / "hospitals.csv"
    p.write_text("Site;Northing;Easting\nClinic A;42.5;21.0\n")
    res = read_layer_csv(
        p,
        source=SRC,
        layer="infrastructure",
        sep=";",
        columns={"name": "Site", "lat": "Northing", "lon": "Easting"},
        defaults={"kind": "hospital"},
    )
    row = res.frame.iloc[0]
    assert (row["name"], row.kind, row.source_id, xy(row.geometry)) == (
        "Clinic A",
        "hospital",
        "hospitals#0",
        (21.0, 42.5),
    )
    p.write_text("name,kind\nx,airport\n")
    with pytest.raises(UnreadableInputError, match="location columns"):
        read_infrastructure_csv(p, source=SRC)


# --------------------------------------------------------------------------
# GeoPackage


def test_gpkg_real_qgis_multisurface() -> None:
    """A QGIS-digitised MultiSurface (curved type): GDAL hands it over as a MultiPolygon."""
    res = read_gpkg(
        DATA / "gpkg/multisurface.gpkg",
        source=SRC,
        layer="infrastructure",
        defaults={"kind": "restricted_zone", "name": "Zone A"},
    )
    (row,) = [r for _, r in res.frame.iterrows()]
    assert row.source_id == "multisurface:multisurface#1"  # table name and FID
    assert (row.kind, row["name"]) == ("restricted_zone", "Zone A")
    assert row.geometry.geom_type == "MultiPolygon"
    assert row.geometry.geoms[0].exterior.coords[0] == (-95.29698763468994, 63.36578165250125)


def gpkg_blob(wkb: bytes, srs_id: int) -> bytes:
    """A GeoPackage geometry blob: 'GP', version 0, flags (little endian, no envelope),
    srs_id, then the WKB."""
    return b"GP\x00\x01" + struct.pack("<i", srs_id) + wkb


@pytest.fixture
def partner_gpkg(tmp_path: Path) -> Path:
    """Two tables in UTM 34N (EPSG:32634), one feature with a broken ring, one naive time."""
    to_utm = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:32634", always_xy=True)
    p1 = shapely.Point(*to_utm.transform(21.1655, 42.6629))
    p2 = shapely.Point(*to_utm.transform(20.8656, 42.8911))
    aor = shapely.transform(
        shapely.box(21.1, 42.62, 21.2, 42.7),
        lambda a: np.column_stack(to_utm.transform(a[:, 0], a[:, 1])),
    )
    units = gpd.GeoDataFrame(
        {
            "Unit": ["1er RIMa", "Pz Gren Kp 3", "broken"],
            "Nation": ["FRA", "DEU", "NLD"],
            "Echelon": ["Company", "company", "platoon"],
            "PAX": [140, 90, 30],
            "DTG": pd.to_datetime(
                ["2026-11-20T08:00:00Z", "2026-11-20T09:00:00Z", "2026-11-20T07:00:00Z"], utc=True
            ),
            "AOR": [aor.wkt, None, None],
        },
        geometry=[p1, p2, p2],
        crs="EPSG:32634",
    )
    path = tmp_path / "partner.gpkg"
    units.to_file(path, layer="units", engine="pyogrio")
    sites = gpd.GeoDataFrame(
        {"kind": ["hospital"], "name": ["Clinic"]},
        geometry=[shapely.Point(*to_utm.transform(21.0, 42.5))],
        crs="EPSG:32634",
    )
    sites.to_file(path, layer="sites", engine="pyogrio")
    # Replace the third unit's geometry with a polygon whose ring has two points.
    ring = struct.pack("<BII", 1, 3, 1) + struct.pack("<I", 2) + struct.pack("<4d", 0, 0, 1, 1)
    with sqlite3.connect(path) as db:
        # GDAL's R-tree triggers call SpatiaLite functions the stdlib sqlite3 lacks.
        for fn in ("ST_IsEmpty", "ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY"):
            db.create_function(fn, 1, lambda blob: 0)
        srs = db.execute(
            "select srs_id from gpkg_geometry_columns where table_name='units'"
        ).fetchone()[0]
        db.execute("update units set geom = ? where fid = 3", (gpkg_blob(ring, srs),))
    return path


def test_gpkg_tables_reprojection_and_rejection(partner_gpkg: Path) -> None:
    assert detect(partner_gpkg) == "gpkg"
    with pytest.raises(UnreadableInputError, match="2 tables"):
        read_gpkg(partner_gpkg, source=SRC, layer="deployments")
    with pytest.raises(UnreadableInputError, match="no table 'nope'"):
        read_gpkg(partner_gpkg, source=SRC, layer="deployments", table="nope")
    res = read_gpkg(
        partner_gpkg, source=SRC, layer="deployments", table="units", columns={"area": "AOR"}
    )
    assert (len(res.frame), len(res.rejected), res.records_read) == (2, 1, 3)
    rows = by_id(res.frame)
    fra = rows["FRA/1er RIMa"]
    assert fra.geometry.x == pytest.approx(21.1655, abs=1e-9)  # UTM 34N back to lon/lat
    assert fra.geometry.y == pytest.approx(42.6629, abs=1e-9)
    assert (fra.echelon, fra.strength) == ("company", 140.0)
    assert fra.reported_at == "2026-11-20T08:00:00Z"  # GDAL's ISO text, zone kept
    assert fra.area.normalize().equals_exact(shapely.box(21.1, 42.62, 21.2, 42.7).normalize(), 1e-9)
    deu = rows["DEU/Pz Gren Kp 3"]
    assert xy(deu.geometry) == pytest.approx((20.8656, 42.8911), abs=1e-9)
    (rej,) = res.rejected.itertuples()
    assert rej.reason == reasons.MALFORMED_RECORD and "WKB" in rej.detail
    assert json.loads(rej.raw)["fid"] == 3
    sites = read_gpkg(partner_gpkg, source=SRC, layer="infrastructure", table="sites")
    assert sites.frame.iloc[0].source_id == "partner:sites#1"
    assert xy(sites.frame.iloc[0].geometry) == pytest.approx((21.0, 42.5), abs=1e-9)


@pytest.mark.filterwarnings("ignore:'crs' was not provided:UserWarning")
def test_gpkg_without_crs_is_rejected_not_misplaced(tmp_path: Path) -> None:
    path = tmp_path / "nocrs.gpkg"
    gpd.GeoDataFrame(
        {"kind": ["port"], "name": ["x"]}, geometry=[shapely.Point(500000, 4700000)]
    ).to_file(path, engine="pyogrio")
    res = read_gpkg(path, source=SRC, layer="infrastructure")
    assert len(res.frame) == 0 and res.rejected.reason.tolist() == [reasons.MISSING_CRS]


# --------------------------------------------------------------------------
# OpenStreetMap


def test_osm_real_pbf_helsinki() -> None:
    res = read_osm(DATA / "osm/Helsinki.osm.pbf", source=SRC)
    assert (len(res.frame), len(res.rejected)) == (10, 0)
    kinds = res.frame.kind.value_counts().to_dict()
    assert kinds == {"government": 7, "communications": 1, "bridge": 1, "restricted_zone": 1}
    rows = by_id(res.frame)
    # Checked with osmium-tool (`osmium cat Helsinki.osm.pbf -f osm`): node 4544347110
    # lat="60.1690855" lon="24.9490548", office=government, name Ympäristöministeriö.
    env = rows["node/4544347110"]
    assert env["name"] == "Ympäristöministeriö"
    assert xy(env.geometry) == pytest.approx((24.9490548, 60.1690855), abs=1e-9)
    # node 1682211174: man_made=mast with communication:mobile_phone=yes, no name.
    mast = rows["node/1682211174"]
    assert mast.kind == "communications"
    assert mast["name"] == "unnamed communications (OSM node 1682211174)"
    assert xy(mast.geometry) == pytest.approx((24.9468685, 60.1650731), abs=1e-9)
    # way 37380562 landuse=military (Kaartin kasarmi) lists 28 nodes, but the extract is
    # clipped: only these 7 are in the file (osmium), so GDAL's ring is them, closed.
    barracks = rows["way/37380562"]
    assert (barracks.kind, barracks["name"]) == ("restricted_zone", "Kaartin kasarmi")
    ring = list(barracks.geometry.geoms[0].exterior.coords)
    present = [
        (24.9496518, 60.1647089),
        (24.9496678, 60.1645389),
        (24.9496912, 60.1644635),
        (24.9480866, 60.1644304),
        (24.9480799, 60.1645015),
        (24.9480614, 60.1646723),
        (24.9488649, 60.1646908),
        (24.9496518, 60.1647089),
    ]
    assert np.allclose(ring, present, atol=1e-9) or np.allclose(ring, present[::-1], atol=1e-9)
    assert rows["way/34140075"].kind == "bridge"  # a closed way: an area only with our osmconf


def test_osm_every_tag_rule() -> None:
    res = read_osm(DATA / "osm/facilities.osm", source=SRC)
    assert (len(res.frame), len(res.rejected), res.records_read) == (13, 1, 14)
    rows = by_id(res.frame)
    assert {k: rows[k].kind for k in rows} == {
        "node/1": "airport",
        "node/2": "heliport",
        "node/3": "hospital",
        "node/4": "border_crossing",
        "node/5": "communications",
        "node/6": "fuel",
        "node/7": "government",
        "node/10": "restricted_zone",
        "node/11": "water",
        "way/1001": "power_plant",
        "way/1002": "restricted_zone",
        "way/1003": "dam",
        "way/1004": "power_plant",
    }  # node 8 (a flag mast) and node 9 (a cafe) are not infrastructure
    apt = rows["node/1"]
    assert (apt["name"], apt.subkind, apt.code) == (
        "Pristina International Airport",
        "international",
        "BKPR",
    )
    assert xy(apt.geometry) == (21.0358, 42.5728)
    assert rows["node/5"]["name"] == "Vala"  # operator when there is no name
    assert (rows["node/6"]["name"], rows["node/6"].country_code) == ("Petrol", "XK")
    assert rows["node/10"].subkind == "checkpoint"
    plant = rows["way/1001"]
    assert (plant.subkind, plant.capacity) == ("coal", 678.0)
    assert shapely.normalize(plant.geometry).equals(
        shapely.normalize(shapely.MultiPolygon([shapely.box(21.030, 42.684, 21.046, 42.694)]))
    )
    assert is_null(rows["way/1004"].capacity)  # plant:output:electricity=yes
    (rej,) = res.rejected.itertuples()
    assert (rej.source_id, rej.reason) == ("way/1005", reasons.MALFORMED_RECORD)


def test_osm_rules_and_capacity() -> None:
    assert classify({"harbour": "yes"})[0] == "port"
    assert classify({"harbour": "no"}) is None
    assert (
        classify({"industrial": "port"})[0] == "port" and classify({"landuse": "port"})[0] == "port"
    )
    assert classify({"aeroway": "heliport"})[0] == "heliport"
    assert classify({"man_made": "reservoir_covered"})[0] == "water"
    assert classify({"man_made": "tower", "tower:type": "communication"})[0] == "communications"
    assert classify({"man_made": "tower", "tower:type": "observation"}) is None
    assert classify({"military": "barracks"}) == ("restricted_zone", "barracks", None)
    assert classify({"aeroway": "aerodrome", "iata": "PRN"}) == ("airport", None, "PRN")
    assert capacity_mw("30 MW") == 30.0 and capacity_mw("500 kW") == 0.5
    assert capacity_mw("0,4 GW") == 400.0 and capacity_mw("12") == 12.0
    assert capacity_mw("yes") is None and capacity_mw(None) is None


def test_osm_hostile_and_unreadable(tmp_path: Path) -> None:
    dtd = tmp_path / "bad.osm"
    dtd.write_text(
        '<?xml version="1.0"?><!DOCTYPE osm [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        '<osm version="0.6"><node id="1" lat="1" lon="1"><tag k="amenity" v="fuel"/>'
        '<tag k="name" v="&x;"/></node></osm>'
    )
    with pytest.raises(HostileInputError, match="DOCTYPE"):
        read_osm(dtd, source=SRC)
    vrt = tmp_path / "extract.osm.pbf"
    vrt.write_bytes((DATA / "hostile/passwd_vrt.tif").read_bytes())
    with pytest.raises(HostileInputError, match="VRTDataset"):
        read_osm(vrt, source=SRC)
    junk = tmp_path / "junk.osm.pbf"
    junk.write_bytes(b"\x00\x01 not a pbf")
    with pytest.raises(UnreadableInputError):
        read_osm(junk, source=SRC)


# --------------------------------------------------------------------------
# GDAL path guard (raster, GeoPackage, OSM)

GDAL_TRICKS = [
    "/vsicurl/http://127.0.0.1:9/x.tif",
    "/vsizip//tmp/a.zip/a.tif",
    "/VSIMEM/x.tif",
    "MEM:::DATAPOINTER=0x0,PIXELS=1,LINES=1",
    "http://127.0.0.1:9/x.tif",
    "<VRTDataset rasterXSize='1' rasterYSize='1'></VRTDataset>",
    "PG:dbname=postgres",
    "GTIFF_DIR:1:/tmp/x.tif",
]


@pytest.mark.parametrize("text", GDAL_TRICKS)
def test_gdal_path_strings_are_refused_before_gdal(text: str) -> None:
    for reader in (read_raster, read_osm):
        with pytest.raises(HostileInputError) as err:
            reader(text, source=SRC)
        assert err.value.reason
    with pytest.raises(HostileInputError):
        read_gpkg(text, source=SRC, layer="infrastructure")
    with pytest.raises(HostileInputError):
        detect(text)  # type: ignore[arg-type]


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_tif_that_is_a_vrt_reading_etc_passwd(tmp_path: Path) -> None:
    hostile = DATA / "hostile/passwd_vrt.tif"
    # What the guard prevents: plain rasterio opens it with the VRT driver...
    with rasterio.open(hostile) as ds:
        assert ds.driver == "VRT"
    with pytest.raises(HostileInputError, match="VRT") as err:
        read_raster(hostile, source=SRC)
    assert "passwd_vrt.tif" in str(err.value)
    # ...in a folder too, and disguised as a GeoPackage.
    folder = tmp_path / "scenes"
    folder.mkdir()
    (folder / "a.tif").write_bytes(hostile.read_bytes())
    with pytest.raises(HostileInputError):
        read_raster(folder, source=SRC)
    fake = tmp_path / "sites.gpkg"
    fake.write_bytes(hostile.read_bytes())
    with pytest.raises(HostileInputError):
        read_gpkg(fake, source=SRC, layer="infrastructure")


def test_guard_accepts_only_regular_files(tmp_path: Path) -> None:
    with pytest.raises(UnreadableInputError, match="no such file"):
        gdalpath.guard(tmp_path / "missing.tif", "tiff")
    with pytest.raises(UnreadableInputError, match="regular file"):
        gdalpath.guard(tmp_path, "tiff")
    empty = tmp_path / "e.tif"
    empty.write_bytes(b"")
    with pytest.raises(UnreadableInputError, match="empty"):
        gdalpath.guard(empty, "tiff")
    assert (
        gdalpath.guard(DATA / "raster/slope_nodata.tif", "tiff") == DATA / "raster/slope_nodata.tif"
    )


# --------------------------------------------------------------------------
# GeoTIFF -> imagery


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_raster_valid_data_footprint(_home: Path) -> None:
    path = DATA / "raster/slope_nodata.tif"
    res = read_raster(path, source=SRC)
    (row,) = [r for _, r in res.frame.iterrows()]
    assert row.source_id == "slope_nodata"
    assert row.gsd == pytest.approx(25.52514657450613, abs=1e-9)
    assert row.native_crs.startswith("PROJCS[") or row.native_crs.startswith("PROJCRS[")
    assert is_null(row.acquired_at)  # no time in tags or name: validate quarantines it

    # The file (78 x 84 px of 25.525 m) has nodata in rows 0, 20-23 and 77 and columns
    # 0 and 83, so the valid data is two rectangles: rows 1-19 and rows 24-76, columns 1-82.
    with rasterio.open(path) as src:
        t = src.transform
        outline = valid_outline(src)
        crs = src.crs.to_wkt()

    def box(r0: int, r1: int) -> shapely.Polygon:  # rows r0..r1 inclusive, columns 1..82
        x0, y0 = t @ (1, r0)
        x1, y1 = t @ (83, r1 + 1)
        return shapely.box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))

    expected = shapely.MultiPolygon([box(1, 19), box(24, 76)])
    assert outline.symmetric_difference(expected).area < 1e-6
    assert outline.area == pytest.approx((19 + 53) * 82 * 25.52514657450613**2)

    # In EPSG:4326: the corners of both rectangles, projected independently with pyproj,
    # are vertices of the footprint; the bounding box's corner (pixel 0,0) is outside it.
    geom = row.geometry
    assert geom.geom_type == "MultiPolygon" and len(geom.geoms) == 2
    to_ll = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    vertices = shapely.get_coordinates(geom)
    for part in expected.geoms:
        for corner in list(part.exterior.coords)[:4]:
            lon, lat = to_ll.transform(*corner)
            assert np.min(np.hypot(vertices[:, 0] - lon, vertices[:, 1] - lat)) < 1e-9
    assert not geom.covers(shapely.Point(*to_ll.transform(t.c, t.f)))
    lon, lat = to_ll.transform(*(t @ (1, 1)))  # north-west corner of the valid data
    assert (round(lon, 4), round(lat, 4)) == (-124.3631, 42.9878)  # south-west Oregon

    ql = Path(row.quicklook)
    assert ql.parent == _home / "quicklooks" and len(ql.stem) == 32
    with rasterio.open(ql) as png:
        assert png.driver == "PNG" and (png.width, png.height, png.count) == (84, 78, 4)
        alpha = png.read(4)
    assert alpha[0].max() == 0 and alpha[1, 1] == 255  # nodata is transparent
    assert not any(
        p.suffix == ".xml" for p in (DATA / "raster").iterdir()
    )  # no PAM sidecar written
    checked = validate(res.frame, "imagery", source=SRC)
    assert checked.quarantined.reason.tolist() == [reasons.MISSING_TIME]


def write_tif(
    path: Path,
    *,
    crs: str = "EPSG:32634",
    width: int = 40,
    height: int = 30,
    origin: tuple[float, float] = (500000.0, 4730000.0),
    res: float = 10.0,
    tags: dict | None = None,
    imagery: dict | None = None,
    count: int = 1,
    nodata: float | None = 0,
    all_nodata: bool = False,
) -> Path:
    data = np.full((count, height, width), 0 if all_nodata else 7, "uint8")
    data[:, :, : width // 4] = 0  # the west quarter is nodata
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=width,
        height=height,
        count=count,
        dtype="uint8",
        crs=crs,
        transform=from_origin(*origin, res, res),
        nodata=nodata,
    ) as dst:
        dst.write(data)
        if tags:
            dst.update_tags(**tags)
        if imagery:
            dst.update_tags(ns="IMAGERY", **imagery)
    return path


def test_raster_times_platform_and_folder(tmp_path: Path) -> None:
    folder = tmp_path / "scenes"
    folder.mkdir()
    write_tif(
        folder / "S2B_MSIL2A_20261120T101500_N0511.tif",
        tags={"TIFFTAG_DATETIME": "2026:11:21 03:00:00"},
    )
    write_tif(
        folder / "tagged.tif",
        count=3,
        tags={"TIFFTAG_DATETIME": "2026:11:21 03:00:00"},
        imagery={
            "ACQUISITIONDATETIME": "2026-11-19 09:41:07",
            "SATELLITEID": "WV03",
            "CLOUDCOVER": "12",
        },
    )
    write_tif(folder / "processed.TIFF", tags={"TIFFTAG_DATETIME": "2026:11:18 22:00:05"})
    write_tif(folder / "empty.tif", all_nodata=True)  # every pixel is nodata
    (folder / "notes.tif").write_text("not an image")
    (folder / "readme.txt").write_text("ignored: not a .tif")
    res = read_raster(folder, source=SRC, quicklook=False)
    assert (len(res.frame), len(res.rejected), res.records_read) == (3, 2, 5)
    rows = by_id(res.frame)
    assert (
        rows["S2B_MSIL2A_20261120T101500_N0511"].acquired_at == "2026-11-20T10:15:00Z"
    )  # name first
    tagged = rows["tagged"]
    assert tagged.acquired_at == "2026-11-19T09:41:07Z"  # IMAGERY metadata beats everything
    assert (tagged.platform, tagged.cloud_cover, tagged.native_crs, tagged.gsd) == (
        "WV03",
        12.0,
        "EPSG:32634",
        10.0,
    )
    assert rows["processed"].acquired_at == "2026-11-18T22:00:05Z"  # TIFF DateTime, last resort
    assert is_null(rows["processed"].quicklook)
    rej = res.rejected.set_index("source_id")
    assert rej.loc["empty"].reason == reasons.EMPTY_GEOMETRY
    assert rej.loc["notes"].reason == reasons.MALFORMED_RECORD
    # Footprint: 30 columns of 40 are valid: x from 500100 to 500400 m, y from 4729700 to
    # 4730000 m in UTM 34N; its western edge is the line x = 500100 m.
    to_ll = pyproj.Transformer.from_crs("EPSG:32634", "EPSG:4326", always_xy=True)
    west = min(to_ll.transform(500100.0, y)[0] for y in (4729700.0, 4730000.0))
    east = max(to_ll.transform(500400.0, y)[0] for y in (4729700.0, 4730000.0))
    bounds = rows["tagged"].geometry.bounds
    assert (bounds[0], bounds[2]) == pytest.approx((west, east), abs=1e-9)
    ok = validate(res.frame, "imagery", source=SRC).valid
    assert str(ok.acquired_at.dtype) == "datetime64[us, UTC]" and len(ok) == 3
    with pytest.raises(UnreadableInputError, match="not a tiff"):
        read_raster(folder / "notes.tif", source=SRC)


def test_raster_footprint_across_the_antimeridian(tmp_path: Path) -> None:
    # UTM zone 60N; the scene starts 40 km west of 180 degrees and is 100 km wide.
    to_utm = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:32660", always_xy=True)
    x180, y50 = to_utm.transform(180.0, 50.0)
    path = write_tif(
        tmp_path / "dateline.tif",
        crs="EPSG:32660",
        width=100,
        height=50,
        origin=(x180 - 40000, y50 + 25000),
        res=1000.0,
    )
    (row,) = [r for _, r in read_raster(path, source=SRC).frame.iterrows()]
    geom = row.geometry
    assert geom.geom_type == "MultiPolygon" and len(geom.geoms) == 2
    lons = shapely.get_coordinates(geom)[:, 0]
    assert lons.min() >= -180 and lons.max() <= 180
    east, west = sorted(geom.geoms, key=lambda g: g.bounds[0])[::-1]
    assert east.bounds[2] == pytest.approx(180.0) and west.bounds[0] == pytest.approx(-180.0)
    # Valid columns 25-99: from 15 km west of 180 to 60 km east of it.
    assert east.bounds[0] == pytest.approx(
        to_utm.transform(x180 - 15000, y50, direction="INVERSE")[0], abs=0.05
    )
    assert geom.area < 10  # not a band around the world


def test_raster_time_rules() -> None:
    assert (
        time_from_name("S1A_IW_GRDH_1SDV_20261120T101500_20261120T101525_x.tif")
        == "2026-11-20T10:15:00Z"
    )
    assert time_from_name("uav_2026-11-20_10-15-00.tif") == "2026-11-20T10:15:00Z"
    assert time_from_name("LC08_L1TP_107018_20181001_20181001_01_RT.TIF") == "2018-10-01T00:00:00Z"
    assert time_from_name("scene_12345678901.tif") is None
    assert (
        acquisition_time(
            {"DATE_ACQUIRED": "2018-10-01", "SCENE_CENTER_TIME": '"01:08:32.03Z"'}, {}, "x.tif"
        )
        == "2018-10-01T01:08:32.03Z"
    )
    assert (
        acquisition_time({"datetime": "2026-11-20T10:15:00+01:00"}, {}, "x.tif")
        == "2026-11-20T10:15:00+01:00"
    )
    assert acquisition_time({}, {}, "x.tif") is None


# --------------------------------------------------------------------------
# STAC API search against a real local HTTP server


def stac_item(item_id: str, cloud: float | None, lon: float) -> dict[str, Any]:
    props: dict[str, Any] = {
        "datetime": "2026-11-20T09:40:19Z",
        "platform": "sentinel-2b",
        "constellation": "sentinel-2",
        "gsd": 10,
        "proj:code": "EPSG:32634",
    }
    if cloud is not None:
        props["eo:cloud_cover"] = cloud
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": item_id,
        "collection": "sentinel-2-l2a",
        "bbox": [lon, 42.0, lon + 0.5, 42.5],
        "geometry": {
            "type": "Polygon",
            "coordinates": [
                [[lon, 42.0], [lon + 0.5, 42.0], [lon + 0.5, 42.5], [lon, 42.5], [lon, 42.0]]
            ],
        },
        "properties": props,
        "links": [],
        "assets": {
            "thumbnail": {"href": f"https://example.invalid/{item_id}.jpg", "roles": ["thumbnail"]}
        },
    }


class StacServer:
    """A STAC API on 127.0.0.1: landing page, conformance, /search in two pages."""

    def __init__(self, conforms: list[str], page2_next: str | None = None) -> None:
        self.requests: list[tuple[str, str, dict]] = []
        self.conforms = conforms
        self.page2_next = page2_next
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, code: int, doc: Any) -> None:
                body = json.dumps(doc).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                server.requests.append(("GET", url.path, parse_qs(url.query)))
                if url.path == "/":
                    self._send(200, server.landing())
                elif url.path == "/conformance":
                    self._send(200, {"conformsTo": server.conforms})
                elif url.path == "/search":
                    q = parse_qs(url.query)
                    self._send(200, server.page(q.get("token", [None])[0], q))
                elif url.path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
                    self.end_headers()
                else:
                    self._send(500, {"code": "boom", "description": "server error"})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
                server.requests.append(("POST", self.path, body))
                if self.path == "/search":
                    self._send(200, server.page(body.get("token"), body))
                else:
                    self._send(404, {})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def landing(self) -> dict[str, Any]:
        return {
            "type": "Catalog",
            "stac_version": "1.0.0",
            "id": "test-api",
            "description": "test",
            "conformsTo": self.conforms,
            "links": [
                {"rel": "self", "href": f"{self.base}/", "type": "application/json"},
                {"rel": "root", "href": f"{self.base}/", "type": "application/json"},
                {"rel": "conformance", "href": f"{self.base}/conformance"},
                {
                    "rel": "search",
                    "href": f"{self.base}/search",
                    "type": "application/geo+json",
                    "method": "GET",
                },
                {
                    "rel": "search",
                    "href": f"{self.base}/search",
                    "type": "application/geo+json",
                    "method": "POST",
                },
            ],
        }

    def page(self, token: str | None, params: dict) -> dict[str, Any]:
        if token is None:
            feats = [
                stac_item("S2-A", 5.0, 20.5),
                stac_item("S2-CLOUDY", 80.0, 21.0),
                {"type": "Feature", "id": "BROKEN", "stac_version": "1.0.0", "properties": {}},
            ]
            nxt = {
                "rel": "next",
                "href": f"{self.base}/search",
                "method": "POST",
                "body": {"token": "page2"},
                "merge": True,
            }
            if "method" in params or isinstance(params.get("limit"), list):  # a GET search
                nxt = {"rel": "next", "href": f"{self.base}/search?token=page2", "method": "GET"}
            links = [nxt]
        else:
            feats = [stac_item("S1-RADAR", None, 21.5)]
            links = [{"rel": "next", "href": self.page2_next}] if self.page2_next else []
        return {"type": "FeatureCollection", "features": feats, "links": links}

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


CORE = "https://api.stacspec.org/v1.0.0/core"
ITEM_SEARCH = "https://api.stacspec.org/v1.0.0/item-search"
QUERY = "https://api.stacspec.org/v1.0.0/item-search#query"
FILTER = "https://api.stacspec.org/v1.0.0/item-search#filter"


def test_stac_api_search_pages_and_filters() -> None:
    with StacServer([CORE, ITEM_SEARCH, QUERY]) as srv:
        res = search_stac_api(
            srv.base + "/",
            source="stac-api",
            bbox=(20.0, 41.8, 21.8, 43.3),
            datetime="2026-11-01T00:00:00Z/2026-11-21T00:00:00Z",
            collections=["sentinel-2-l2a"],
            max_cloud=20,
            page_size=3,
            default_marking="UNCLASSIFIED",
        )
    assert res.layer == "imagery" and res.default_marking == "UNCLASSIFIED"
    accounted(res)
    # S2-CLOUDY (80 %) was not asked for; BROKEN is rejected; S1-RADAR has no cover: kept.
    assert sorted(res.frame.source_id) == ["S1-RADAR", "S2-A"]
    assert (len(res.rejected), res.records_read) == (1, 3)
    assert res.rejected.iloc[0].source_id == "BROKEN" and "pystac" in res.rejected.iloc[0].detail
    a = by_id(res.frame)["S2-A"]
    assert (a.cloud_cover, a.gsd, a.native_crs, a.collection) == (
        5.0,
        10.0,
        "EPSG:32634",
        "sentinel-2-l2a",
    )
    assert a.geometry.exterior.coords[1] == (21.0, 42.0)
    searches = [r for r in srv.requests if r[1] == "/search"]
    assert len(searches) == 2  # page 1, then the `next` link
    first = searches[0][2]
    assert searches[0][0] == "POST"
    assert first["bbox"] == [20.0, 41.8, 21.8, 43.3] and first["collections"] == ["sentinel-2-l2a"]
    assert first["datetime"] == "2026-11-01T00:00:00Z/2026-11-21T00:00:00Z" and first["limit"] == 3
    assert first["query"] == {"eo:cloud_cover": {"lte": 20}}
    assert searches[1][2]["token"] == "page2" and searches[1][2]["bbox"] == first["bbox"]  # merged


def test_stac_api_filter_extension_get_and_caps() -> None:
    with StacServer([CORE, ITEM_SEARCH, FILTER]) as srv:
        res = search_stac_api(srv.base, source="s", max_cloud=50, method="GET", max_pages=1)
        assert sorted(res.frame.source_id) == ["S2-A"]  # one page only
        (search,) = [r for r in srv.requests if r[1] == "/search"]
        assert search[0] == "GET" and search[2]["filter"] == ['"eo:cloud_cover" <= 50']
        assert search[2]["filter-lang"] == ["cql2-text"]
        srv.requests.clear()
        res = search_stac_api(srv.base, source="s", max_items=1)
        assert list(res.frame.source_id) == ["S2-A"] and res.records_read == 1
        assert len([r for r in srv.requests if r[1] == "/search"]) == 1


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://127.0.0.1/x",
        "gopher://x",
        "/etc/passwd",
        "127.0.0.1:8000",
        "http:///nohost",
    ],
)
def test_stac_api_refuses_other_schemes(url: str) -> None:
    with pytest.raises(HostileInputError):
        search_stac_api(url, source="s")
    with pytest.raises(HostileInputError):
        check_url(url)


@pytest.mark.parametrize(
    "next_href", ["/etc/passwd", "file:///etc/passwd", "http://169.254.169.254/latest/meta-data/"]
)
def test_stac_api_refuses_where_the_catalogue_points(next_href: str) -> None:
    with (
        StacServer([CORE, ITEM_SEARCH], page2_next=next_href) as srv,
        pytest.raises(HostileInputError),
    ):
        search_stac_api(srv.base, source="s")
    assert check_url("HTTP://127.0.0.1/x") == "HTTP://127.0.0.1/x"  # scheme is case-insensitive
    with pytest.raises(HostileInputError, match="not the catalogue's host"):
        check_url("http://10.0.0.1/x", hosts={"127.0.0.1"})


def test_stac_api_errors_and_redirects() -> None:
    with StacServer([CORE, ITEM_SEARCH]) as srv:
        with pytest.raises(UnreadableInputError, match="HTTP 500"):
            search_stac_api(srv.base + "/missing", source="s")
        with pytest.raises(HostileInputError, match="169.254.169.254"):
            search_stac_api(srv.base + "/redirect", source="s")
        with pytest.raises(HostileInputError, match="larger than"):
            search_stac_api(srv.base, source="s", max_response_bytes=100)
        with pytest.raises(ConfigError):
            search_stac_api(srv.base, source="s", max_cloud=120)
    with pytest.raises(UnreadableInputError):  # nothing listens there any more
        search_stac_api(srv.base, source="s", timeout=2)


# --------------------------------------------------------------------------
# Detection of the new formats


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
