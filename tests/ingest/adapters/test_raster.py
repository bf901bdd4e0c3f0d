"""GeoTIFF/COG files to imagery footprints and quicklooks (ingest/adapters/raster.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyproj
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin

from ingest import reasons
from ingest.adapters.raster import acquisition_time, read_raster, time_from_name, valid_outline
from ingest.errors import UnreadableInputError
from ingest.validate import validate
from tests.ingest.adapters.conftest import DATA, SRC, by_id, is_null

# rasterio.transform.from_origin still uses Affine's `*`, which affine 3 deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:Use `@` matmul:PendingDeprecationWarning")


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
