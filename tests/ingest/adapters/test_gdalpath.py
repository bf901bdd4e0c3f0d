"""The GDAL path guard for raster, GeoPackage and OSM inputs (ingest/adapters/gdalpath.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import rasterio

from ingest.adapters import detect, gdalpath
from ingest.adapters.gpkg import read_gpkg
from ingest.adapters.osm import read_osm
from ingest.adapters.raster import read_raster
from ingest.errors import HostileInputError, UnreadableInputError
from tests.ingest.adapters.conftest import DATA, SRC

# rasterio.transform.from_origin still uses Affine's `*`, which affine 3 deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:Use `@` matmul:PendingDeprecationWarning")


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
