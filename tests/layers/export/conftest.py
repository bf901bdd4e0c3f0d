"""The picture and track fixes the export tests export (built once per test module)."""

from __future__ import annotations

import geopandas as gpd
import pytest

from tests.support.exports import make_fixes, make_picture


@pytest.fixture(scope="module")
def picture() -> dict[str, gpd.GeoDataFrame]:
    return make_picture()


@pytest.fixture(scope="module")
def fixes() -> gpd.GeoDataFrame:
    return make_fixes()
