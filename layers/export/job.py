"""What a writer is handed: the layers to write, exactly as selected, and the provenance to stamp.

One value instead of a growing argument list, so a new option reaches every writer without
changing seven signatures.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import geopandas as gpd
from shapely.geometry.base import BaseGeometry

from layers.export.provenance import Provenance
from layers.filters import View


@dataclass(frozen=True)
class ExportJob:
    # Layer name -> the features on screen, in the view's layer order. Includes "track_points"
    # (the fixes of the tracks on screen, inside the window) when the caller passed them.
    layers: Mapping[str, gpd.GeoDataFrame]
    provenance: Provenance
    view: View
    now: datetime
    aoi: BaseGeometry | None = None
    csv_geometry: str = "wkt"
    # Write a zip archive (formats that can be one plain file or a zip: GeoJSON, GeoParquet, CSV).
    archive: bool = False
    options: Mapping[str, object] = field(default_factory=dict)

    def non_empty(self) -> dict[str, gpd.GeoDataFrame]:
        return {name: f for name, f in self.layers.items() if len(f)}
