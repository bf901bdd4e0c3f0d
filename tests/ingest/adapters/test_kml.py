"""KML and KMZ (ingest/adapters/kml.py): tracks, deployments, infrastructure."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import shapely

from ingest import reasons
from ingest.adapters import detect, read
from ingest.adapters.kml import parse_coordinates, read_kml
from ingest.errors import HostileInputError, UnreadableInputError
from ingest.validate import validate
from tests.ingest.adapters.conftest import DATA, SRC, by_id, is_null, make_zip, xy

# rasterio.transform.from_origin still uses Affine's `*`, which affine 3 deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:Use `@` matmul:PendingDeprecationWarning")


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
