"""TAK drawings sent as CoT become shapes on `overlays`, not track points (ingest/adapters/cot_drawings.py).

The samples are real ATAK-CIV 4.0 and WinTAK events (tests/data/README.md). Expected values are
read off the XML by hand; distances and bearings are checked with pyproj's geodesic inverse, never
with the adapter's own forward computation.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import shapely
from pyproj import Geod

from ingest import reasons
from ingest.adapters import detect, read
from ingest.errors import HostileInputError
from ingest.pipeline import ingest_results
from ingest.store.delta import DeltaStore
from tests.ingest.adapters.conftest import DATA, SRC

GEOD = Geod(ellps="WGS84")


def layers(path: Path) -> dict:
    return {r.layer: r for r in read(path, source=SRC)}


def overlay(name: str):
    got = layers(DATA / "cot" / name)
    assert set(got) == {"overlays"}, f"{name}: a drawing must not become a track point"
    frame = got["overlays"].frame
    assert len(frame) == 1
    return frame.iloc[0]


def distances_from(lon: float, lat: float, geom) -> list[float]:
    coords = shapely.get_coordinates(geom)
    return [GEOD.inv(lon, lat, x, y)[2] for x, y in coords]


def test_an_atak_circle_is_a_geodesic_polygon_of_its_radius():
    row = overlay("atak_circle.cot")
    assert (row.kind, row.label, row.cot_type) == ("circle", "Drawing Circle 1", "u-d-c-c")
    assert row.source_id == "df11ad17-79d8-436b-ba7f-6c12a7d147d3" and row.drawn_at == "2020-08-30T18:50:27.452Z"
    assert row.geometry.geom_type == "Polygon" and row.geometry.is_valid
    # every vertex 10.557862958543073 m from the centre <point lat=39.52907656661326 lon=-105.75665450279342>
    d = distances_from(-105.75665450279342, 39.52907656661326, row.geometry)
    assert max(abs(x - 10.557862958543073) for x in d) < 1e-6
    # strokeColor -16776961 = 0xFF0000FF (ARGB): opaque blue; fillColor -1778384641 = 0x960000FF
    assert (row.stroke_color, row.fill_color) == ("#0000FFFF", "#0000FF96")
    assert not row.geofence


def test_a_wintak_geofence_keeps_its_trigger_and_monitor():
    row = overlay("wintak_geofence.cot")
    assert (row.kind, row.label, row.geofence, row.geofence_trigger, row.geofence_monitor) == (
        "circle", "Geo Fence Circle", True, "Entry", "All")
    d = distances_from(-77.06586686880725, 38.830898851915514, row.geometry)
    assert max(abs(x - 297.72) for x in d) < 1e-6


def test_an_atak_rectangle_is_its_four_corners():
    row = overlay("atak_rectangle.cot")
    assert (row.kind, row.label, row.remarks) == ("rectangle", "Rectangle 1", "Nice")
    ring = shapely.get_coordinates(row.geometry.exterior).tolist()
    assert ring == [[-105.000951756657, 39.734374690892466], [-104.9910075127075, 39.72561220672946],
                    [-104.98916936139345, 39.72685459182151], [-104.99911502806049, 39.735616232147535],
                    [-105.000951756657, 39.734374690892466]]
    assert (row.stroke_color, row.fill_color) == ("#007F00FF", "#007F0096")  # -16744704, -1778352384


def test_a_wintak_free_form_shape_is_a_polygon_of_its_links():
    row = overlay("wintak_freeform.cot")
    assert (row.kind, row.label) == ("freeform", "Shape 1")
    assert row.geometry.geom_type == "Polygon" and len(row.geometry.exterior.coords) == 7  # 6 + closing
    assert shapely.get_coordinates(row.geometry)[1].tolist() == [-77.06579790102278, 38.83745360129687]


def test_an_atak_route_stays_a_route_line_in_waypoint_order():
    row = overlay("atak_route.cot")
    assert (row.kind, row.label, row.cot_type) == ("route", "Route 7", "b-m-r")
    coords = shapely.get_coordinates(row.geometry).tolist()
    assert row.geometry.geom_type == "LineString" and len(coords) == 11
    assert coords[0] == [-105.76095833293527, 39.530711638779984]  # "Route 7 SP"
    assert coords[-1] == [-105.75470659697383, 39.52982102980656]  # "TGT"


def test_a_range_and_bearing_line_runs_along_its_bearing_for_its_range():
    row = overlay("wintak_range_bearing.cot")
    assert (row.kind, row.label, row.stroke_color) == ("range_bearing", "R&B 1", "#FF0000FF")  # -65536
    (x0, y0), (x1, y1) = shapely.get_coordinates(row.geometry).tolist()
    assert (x0, y0) == (-77.05494586670942, 38.82080657998482)
    azimuth, _, distance = GEOD.inv(x0, y0, x1, y1)
    assert distance == pytest.approx(886.144457943895, abs=1e-6)
    assert azimuth == pytest.approx(45.59655671674022, abs=1e-9)


def mixed(tmp_path: Path) -> Path:
    """One position report, three drawings (one unusable), a chat message: one stream."""
    parts = [(DATA / "cot" / n).read_bytes().split(b"?>", 1)[1] for n in ("atak_circle.cot", "atak_route.cot")]
    text = b"".join([
        b"<?xml version='1.0' encoding='UTF-8'?><events>",
        (b'<event version="2.0" uid="UAV-1" type="a-h-A-M-F-Q" time="2026-11-21T10:00:00Z" '
        b'stale="2026-11-21T10:05:00Z"><point lat="42.6" lon="21.1" hae="300"/><detail/></event>'),
        *parts,
        (b"<event version='2.0' uid='bad-rect' type='u-d-r' time='2026-11-21T10:00:00Z'>"
        b"<point lat='39.7' lon='-105'/><detail><link point='39.73,-105.0'/><link point='39.72,-104.99'/></detail></event>"),
        (b"<event version='2.0' uid='GeoChat.X' type='b-t-f' time='2026-11-21T10:00:01Z'>"
        b"<point lat='39.7' lon='-105'/><detail><remarks>hello</remarks></detail></event>"),
        b"</events>",
    ])
    path = tmp_path / "mixed.cot"
    path.write_bytes(text)
    return path


def test_only_position_reports_stay_track_points_and_nothing_read_is_lost(tmp_path):
    path = mixed(tmp_path)
    got = layers(path)
    assert set(got) == {"track_points", "overlays"}
    assert list(got["track_points"].frame["track_id"]) == ["UAV-1"]
    assert list(got["track_points"].rejected["reason"]) == [reasons.UNSUPPORTED_TYPE]
    assert "b-t-f" in got["track_points"].rejected["detail"].iloc[0]
    assert sorted(got["overlays"].frame["kind"]) == ["circle", "route"]
    bad = got["overlays"].rejected.iloc[0]
    assert bad["reason"] == reasons.INVALID_GEOMETRY and bad["source_id"] == "bad-rect"
    assert "4 corners" in bad["detail"] and "found 2 distinct" in bad["detail"]
    store = DeltaStore(tmp_path / "store")
    summary = ingest_results(store, read(path, source=SRC), source=SRC, default_marking="UNCLASSIFIED")
    assert (summary.read, summary.stored, summary.quarantined) == (5, 3, 2)
    assert summary.stored + summary.quarantined == summary.read
    shapes = store.read("overlays")
    assert sorted(shapes["kind"]) == ["circle", "route"] and set(shapes["marking"]) == {"UNCLASSIFIED"}
    assert list(store.read("tracks")["track_id"]) == ["UAV-1"]  # no drawing became a contact


def test_a_drawing_with_a_doctype_is_refused(tmp_path):
    path = tmp_path / "evil.cot"
    path.write_text('<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x "boom">]>'
                    "<event version='2.0' uid='x' type='u-d-r' time='2026-11-21T10:00:00Z'>"
                    "<point lat='1' lon='1'/><detail><remarks>&x;</remarks></detail></event>")
    assert detect(path) == "cot"
    with pytest.raises(HostileInputError):
        read(path, source=SRC)


def test_a_circle_without_a_radius_is_quarantined_with_the_reason(tmp_path):
    path = tmp_path / "c.cot"
    path.write_text("<event version='2.0' uid='c1' type='u-d-c-c' time='2026-11-21T10:00:00Z'>"
                    "<point lat='42' lon='21'/><detail><shape><ellipse major='abc' minor='5'/></shape></detail></event>")
    result = layers(path)["overlays"]
    assert result.frame.empty and result.records_read == 1
    assert result.rejected.iloc[0]["reason"] == reasons.MALFORMED_RECORD
    assert "<ellipse major>" in result.rejected.iloc[0]["detail"] and "'abc'" in result.rejected.iloc[0]["detail"]


@pytest.fixture(params=["delta", pytest.param("postgis", marks=pytest.mark.postgis)])
def any_store(request, tmp_path):
    """Each backend (this folder's `store` is the embedded one only)."""
    if request.param == "delta":
        yield DeltaStore(tmp_path / "store")
        return
    from ingest.store.postgis import PostGISStore, upgrade

    url = request.getfixturevalue("postgis_url")
    upgrade(url)
    s = PostGISStore(url)
    yield s
    s.close()


def test_both_stores_keep_the_shapes_and_a_redrawn_shape_replaces_its_old_version(any_store, tmp_path):
    """Every drawing sample into the embedded store and PostGIS (migration 0004); then the geofence
    sent again, moved and later, replaces the first version (its uid is the key)."""
    for name in ("atak_circle.cot", "atak_rectangle.cot", "atak_route.cot", "wintak_freeform.cot",
                 "wintak_geofence.cot", "wintak_range_bearing.cot"):
        summary = ingest_results(any_store, read(DATA / "cot" / name, source=SRC), source=SRC,
                                 default_marking="UNCLASSIFIED")
        assert (summary.stored, summary.quarantined) == (1, 0), name
    shapes = any_store.read("overlays").set_index("source_id")
    assert sorted(shapes["kind"]) == ["circle", "circle", "freeform", "range_bearing", "rectangle", "route"]
    fence = shapes.loc["d0be1c6b-4d86-40ec-bf8f-0e94b621eb3b"]
    assert bool(fence["geofence"]) and fence["geofence_trigger"] == "Entry"
    assert str(fence["drawn_at"]) == "2020-12-16 19:50:57.629000+00:00"
    moved = (DATA / "cot" / "wintak_geofence.cot").read_text().replace("2020-12-16T19:50:57.629Z", "2020-12-16T20:00:00Z")
    moved = moved.replace("lon='-77.06586686880725'", "lon='-77.0'")
    path = tmp_path / "moved.cot"
    path.write_text(moved)
    ingest_results(any_store, read(path, source=SRC), source=SRC, default_marking="UNCLASSIFIED")
    again = any_store.read("overlays").set_index("source_id")
    assert len(again) == 6
    assert abs(again.loc["d0be1c6b-4d86-40ec-bf8f-0e94b621eb3b"].geometry.centroid.x + 77.0) < 1e-3
