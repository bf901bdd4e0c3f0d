"""The analysis fast paths against the plain formulation they replace, on seeded data.

Point-in-polygon by grid cells, fixes sliced by longitude, crossings found
from those memberships, findings concatenated and text built in Arrow: each
must give exactly what the straightforward shapely / pandas / Python
expression gives, including on the edges (points on a boundary or a cell
edge, -0.0, ties in rounding, quotes in names, missing times).
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from ingest.config import REFERENCE_DIR
from ingest.schema import TIME_DTYPE
from layers.analysis import (
    _text,
    area_entries,
    border_crossings,
    concat_findings,
    coverage_gaps,
    prepare_fixes,
)
from layers.analysis.coverage import _rectangles
from layers.analysis.findings import FINDING_COLUMNS
from layers.analysis.geofence import _intersects_xy, _membership

T0 = pd.Timestamp("2026-11-21T00:00:00Z")
BALKANS = (18.5, 40.5, 23.5, 44.5)


@pytest.fixture(scope="module")
def borders() -> gpd.GeoDataFrame:
    return gpd.read_parquet(REFERENCE_DIR / "borders.parquet")


@pytest.fixture(scope="module")
def disputed() -> gpd.GeoDataFrame:
    return gpd.read_parquet(REFERENCE_DIR / "disputed_areas.parquet")


def walks(n_tracks: int, per: int, seed: int, step_deg: float = 0.002) -> gpd.GeoDataFrame:
    """Random-walk tracks over the Balkans, one fix every 5 s, in shuffled row order."""
    rng = np.random.default_rng(seed)
    x0 = np.repeat(rng.uniform(BALKANS[0], BALKANS[2], n_tracks), per)
    y0 = np.repeat(rng.uniform(BALKANS[1], BALKANS[3], n_tracks), per)
    heading = np.radians(np.cumsum(rng.normal(0, 10, n_tracks * per)))
    grp = np.arange(n_tracks * per) // per
    x = x0 + pd.Series(step_deg * np.sin(heading)).groupby(grp).cumsum().to_numpy()
    y = y0 + pd.Series(step_deg * np.cos(heading)).groupby(grp).cumsum().to_numpy()
    frame = gpd.GeoDataFrame({
        "track_id": pd.array([f"t{g}" for g in grp], dtype="string"),
        "time": pd.Series(T0 + pd.to_timedelta(np.tile(np.arange(per) * 5, n_tracks), unit="s")).astype(TIME_DTYPE),
        "callsign": pd.array([None] * len(grp), dtype="string"),
    }, geometry=gpd.GeoSeries(shapely.points(x, y), crs=4326), crs=4326)
    return frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)


# -- point in polygon -----------------------------------------------------------------------

def test_grid_point_in_polygon_is_shapelys_answer_on_boundaries_vertices_and_cell_edges(borders):
    serbia = np.asarray(borders.geometry.values)[(borders["name"] == "Serbia").to_numpy()][0]
    holed = shapely.Polygon([(0, 0), (4, 0), (4, 4), (0, 4)], [[(1, 1), (3, 1), (3, 3), (1, 3)]])
    rng = np.random.default_rng(5)
    for area in (serbia, holed):
        x0, y0, x1, y1 = shapely.bounds(area)
        x, y = rng.uniform(x0, x1, 40_000), rng.uniform(y0, y1, 40_000)
        ring = shapely.get_coordinates(shapely.boundary(area))
        edge = shapely.get_coordinates(shapely.line_interpolate_point(
            shapely.boundary(area), rng.uniform(0, 1, 2_000), normalized=True))
        # Points on the cells' own edges (the grid spans the points' bounding box).
        gx = np.r_[x, ring[:, 0], edge[:, 0]]
        gy = np.r_[y, ring[:, 1], edge[:, 1]]
        w, h = (gx.max() - gx.min()) / 32, (gy.max() - gy.min()) / 32
        cut_x = gx.min() + w * rng.integers(0, 33, 2_000)
        cut_y = gy.min() + h * rng.integers(0, 33, 2_000)
        px, py = np.r_[gx, cut_x, cut_x], np.r_[gy, rng.uniform(y0, y1, 2_000), cut_y]
        np.testing.assert_array_equal(_intersects_xy(area, px, py), shapely.intersects_xy(area, px, py))


def test_membership_is_a_point_tree_query_with_every_border(borders, disputed):
    fixes = prepare_fixes(walks(300, 200, seed=1))
    for layer in (borders, disputed):
        polys = np.asarray(layer.geometry.values)
        hits = _membership(fixes, polys)
        got = {(int(f), k) for k, v in hits.items() for f in v}
        pk, fk = shapely.STRtree(shapely.points(fixes.x, fixes.y)).query(polys, predicate="intersects")
        assert got == set(zip(fk.tolist(), pk.tolist()))
        assert len(got) > 1000


# -- crossings and entries, against a plain walk along each track -------------------------------

def plain_crossings(points: gpd.GeoDataFrame, borders: gpd.GeoDataFrame) -> set[tuple[str, str, str, str]]:
    """(track, from, to, fix after) for every change of country along a track, the country carried
    over fixes outside every polygon; the smallest polygon wins where they overlap."""
    polys = np.asarray(borders.geometry.values)
    codes = borders["country_code"].astype(str).to_numpy()
    by_area = np.argsort(shapely.area(polys), kind="stable")
    out = set()
    for track, g in points.sort_values(["track_id", "time"]).groupby("track_id", sort=False):
        held = None
        for pt, t in zip(g.geometry, g["time"]):
            inside = [k for k in by_area if shapely.intersects(polys[k], pt)]
            now = inside[0] if inside else None
            if now is not None and held is not None and now != held:
                out.add((str(track), codes[held], codes[now], t.strftime("%Y-%m-%dT%H:%M:%SZ")))
            held = now if now is not None else held
    return out


def test_border_crossings_are_the_changes_of_country_along_each_track(borders):
    near = borders.cx[BALKANS[0] - 2:BALKANS[2] + 2, BALKANS[1] - 2:BALKANS[3] + 2].reset_index(drop=True)
    points = walks(60, 400, seed=2, step_deg=0.01)
    found = border_crossings(points, borders)
    got = set()
    for key in found["key"]:
        _, track, change, after = key.split("|")
        frm, to = change.split(">")
        got.add((track.rsplit("/", 1)[1], frm, to, after))
    assert got == plain_crossings(points, near)
    assert len(got) > 20


def test_area_entries_are_the_segments_that_meet_an_area_from_outside(disputed):
    """An entry: a segment from a fix outside an area to one inside it; a pass-through: a segment
    with both fixes outside that still crosses it (tested with shapely, segment by segment)."""
    kosovo = disputed[disputed["name"] == "Kosovo"].reset_index(drop=True)
    zone = gpd.GeoDataFrame({"name": ["zone"], "source_id": ["zone"]},
                            geometry=[shapely.box(20.9, 42.5, 20.93, 42.52)], crs=4326)
    areas = pd.concat([kosovo, zone], ignore_index=True)
    points = walks(200, 300, seed=3, step_deg=0.01)
    got = {(k.split("|")[1].rsplit("/", 1)[1], k.split("|")[2].rsplit("/", 1)[1], k.split("|")[3])
           for k in area_entries(points, areas)["key"]}
    want = set()
    polys = np.asarray(areas.geometry.values)
    names = areas["source_id"].astype(str).tolist()
    for track, g in points.sort_values(["track_id", "time"]).groupby("track_id", sort=False):
        pts, times = list(g.geometry), list(g["time"])
        for k, poly in enumerate(polys):
            inside = shapely.intersects(poly, np.array(pts, dtype=object))
            for i in range(1, len(pts)):
                if inside[i - 1]:
                    continue
                if inside[i] or shapely.intersects(poly, shapely.LineString([pts[i - 1], pts[i]])):
                    want.add((str(track), names[k], times[i].strftime("%Y-%m-%dT%H:%M:%SZ")))
    assert got == want
    assert len(want) > 20


# -- findings and text ------------------------------------------------------------------------

def test_concatenation_keeps_the_first_of_each_key_newest_first_missing_times_last():
    rng = np.random.default_rng(4)
    frames = []
    for r in range(4):
        n = 500
        t = pd.Series(T0 + pd.to_timedelta(rng.integers(0, 50, n), unit="min")).astype(TIME_DTYPE)
        t[rng.random(n) < 0.05] = pd.NaT
        frames.append(gpd.GeoDataFrame({
            "rule": pd.array([f"r{r}"] * n, dtype="string"), "severity": pd.array(["low"] * n, dtype="string"),
            "time": t, "key": pd.array([f"k{v}" for v in rng.integers(0, 800, n)], dtype="string"),
            "subjects": pd.array(["[]"] * n, dtype="string"), "message": pd.array([f"m{r}"] * n, dtype="string"),
            "details": pd.array(["{}"] * n, dtype="string")},
            geometry=gpd.GeoSeries(shapely.points(rng.random(n), rng.random(n)), crs=4326), crs=4326))
    plain = pd.concat([f[FINDING_COLUMNS] for f in frames], ignore_index=True)
    plain = plain[~plain["key"].duplicated(keep="first")]
    plain = plain.sort_values(["time", "key"], ascending=[False, True], kind="stable").reset_index(drop=True)
    got = concat_findings(frames)
    pd.testing.assert_frame_equal(pd.DataFrame(got), pd.DataFrame(plain))


def test_numbers_print_as_python_prints_them():
    rng = np.random.default_rng(6)
    for places in range(1, 7):
        v = np.round(rng.uniform(-1e6, 1e6, 20_000) * rng.choice([1.0, 1e-3, 1e-6], 20_000), places)
        v[:6] = [0.0, -0.0, 1e-4, 5e-5, -3.0, 123456789.5]
        assert _text.float_repr(v).to_pylist() == [repr(float(x)) for x in v]
    odd = np.array([1 / 3, np.nan, np.inf, -np.inf, 1e20, 2.5e-7, -0.0, 0.1 + 0.2])
    assert _text.float_repr(odd).to_pylist() == [repr(float(x)) if np.isfinite(x) else "null" for x in odd]
    near_ties = np.r_[np.arange(0, 3000, 0.05), rng.uniform(0, 1e5, 20_000), [0.25, 0.35, 2.675, -0.04]]
    for places in (0, 1):
        assert _text.fixed(near_ties, places).to_pylist() == [f"{x:.{places}f}" for x in near_ties]


def test_blank_is_what_python_strips():
    assert _text.WHITESPACE == "".join(chr(c) for c in range(0x110000) if chr(c).isspace())
    values = ["", " ", "\u3000\x1c\t", "a", " a ", None, "\u200b"]  # a zero-width space is not whitespace
    got = _text.blank(_text.strings(np.array(values, dtype=object))).to_pylist()
    assert got == [v is None or not v.strip() for v in values]


def test_text_is_json_as_python_writes_it():
    values = ['plain', 'a "quote"', "back\\slash", "tab\tnew\nline", "\x01", "Ünïcödé ✓", "", None]
    got = _text.json_strings(_text.strings(np.array(values, dtype=object))).to_pylist()
    assert got == [json.dumps(v, ensure_ascii=False) for v in values]


def test_rectangular_footprints_are_told_apart_exactly():
    shapes = np.array([shapely.box(0, 0, 1, 2), shapely.box(0, 0, 1, 2, ccw=False),
                       shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1)]),  # a bow tie on the corners
                       shapely.Polygon([(0, 0), (2, 0), (1, 1)]), shapely.box(0, 0, 1, 1).buffer(0.1),
                       shapely.box(0, 0, 1, 1).difference(shapely.box(0.4, 0.4, 0.6, 0.6)),
                       shapely.MultiPolygon([shapely.box(0, 0, 1, 1)]), shapely.Point(0, 0), None], dtype=object)
    assert _rectangles(shapes).tolist() == [True, True, False, False, False, False, False, False, False]


def test_coverage_counts_rectangles_and_other_footprints_alike():
    """The same scenes as boxes (envelope test) and as five-vertex polygons (GEOS test) give the same gaps."""
    rng = np.random.default_rng(8)
    n = 2_000
    inc = gpd.GeoDataFrame({
        "source": ["t"] * n, "source_id": [f"i{i}" for i in range(n)],
        "occurred_at": pd.Series(T0 + pd.to_timedelta(rng.uniform(0, 86_400, n), unit="s")).astype(TIME_DTYPE),
        "severity": rng.choice(["high", "critical"], n), "title": ["x"] * n},
        geometry=gpd.GeoSeries(shapely.points(rng.uniform(20, 22, n), rng.uniform(41, 43, n)), crs=4326), crs=4326)
    m = 300
    cx, cy, half = rng.uniform(20, 22, m), rng.uniform(41, 43, m), rng.uniform(0.05, 0.4, m)
    boxes = shapely.box(cx - half, cy - half, cx + half, cy + half)
    # The same boxes with a sixth vertex in the middle of the east edge: same shape, no longer "a box".
    pentagons = np.array([shapely.Polygon(shapely.get_coordinates(b).tolist()[:1] + [[cx[i] + half[i], cy[i]]]
                                          + shapely.get_coordinates(b).tolist()[1:]) for i, b in enumerate(boxes)])
    scenes = pd.DataFrame({"source": ["s"] * m, "source_id": [f"s{i}" for i in range(m)],
                           "acquired_at": pd.Series(T0 + pd.to_timedelta(rng.uniform(0, 86_400, m), unit="s")
                                                    ).astype(TIME_DTYPE),
                           "cloud_cover": np.where(rng.random(m) < 0.1, np.nan, rng.uniform(0, 100, m))})
    as_boxes = coverage_gaps(inc, gpd.GeoDataFrame(scenes, geometry=gpd.GeoSeries(boxes, crs=4326), crs=4326))
    as_pentagons = coverage_gaps(inc, gpd.GeoDataFrame(scenes, geometry=gpd.GeoSeries(pentagons, crs=4326),
                                                       crs=4326))
    assert not _rectangles(pentagons).any()
    pd.testing.assert_frame_equal(pd.DataFrame(as_boxes), pd.DataFrame(as_pentagons))
    assert 50 < len(as_boxes) < n
