"""GeoPackage: one table per layer in a single file, through pyogrio (GDAL's GPKG driver).

Provenance goes where GeoPackage keeps it: the dataset metadata (`gpkg_metadata`, through GDAL's
metadata domain, readable with `pyogrio.read_info(path)["dataset_metadata"]["watchfloor"]`), each
table's `gpkg_contents.description`, and a small attribute table `watchfloor_provenance` (key,
value) that every GIS shows without knowing about metadata tables.

Each layer is written in chunks (the first creates the table, the rest append), so memory stays
at one converted chunk. Times are GeoPackage DateTime fields: GDAL stores them to the millisecond.
A deployment's `area` (a second geometry) is written as WKT text: GDAL writes one geometry column
per table.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyogrio

from layers.export.constants import GPKG_PROVENANCE_TABLE, PROVENANCE_KEY
from layers.export.frames import chunks, for_gdal
from layers.export.job import ExportJob

PROVENANCE_TABLE = GPKG_PROVENANCE_TABLE


def geometry_type(frame) -> str:
    """The table's declared type: the one type present, else 'Unknown' (any geometry)."""
    types = sorted(t for t in frame.geom_type.dropna().unique())
    return types[0] if len(types) == 1 else "Unknown"


def write_geopackage(job: ExportJob, path: Path) -> None:
    prov = job.provenance
    first_table = True
    for name, frame in job.non_empty().items():
        description = f"{name}: {len(frame):,} records. {prov.marking}. " \
                      f"Window {prov.to_dict()['window']['start']} to {prov.to_dict()['window']['end']}."
        gtype = geometry_type(frame)
        for i, chunk in enumerate(chunks(frame)):
            kwargs: dict = {}
            if i == 0:
                kwargs["layer_options"] = {"DESCRIPTION": description, "IDENTIFIER": name}
                kwargs["layer_metadata"] = {f"{PROVENANCE_KEY}_marking": prov.marking}
                if first_table:
                    kwargs["dataset_metadata"] = {PROVENANCE_KEY: prov.to_json(),
                                                  f"{PROVENANCE_KEY}_marking": prov.marking}
            pyogrio.write_dataframe(for_gdal(chunk), path, layer=name, driver="GPKG", geometry_type=gtype,
                                    append=i > 0, use_arrow=True, **kwargs)
        first_table = False
    table = pd.DataFrame({"key": ["json", *[f"line{i:02d}" for i in range(len(prov.lines()))]],
                          "value": [prov.to_json(), *prov.lines()]})
    pyogrio.write_dataframe(table, path, layer=PROVENANCE_TABLE, driver="GPKG",
                            **({"dataset_metadata": {PROVENANCE_KEY: prov.to_json(),
                                                     f"{PROVENANCE_KEY}_marking": prov.marking}}
                               if first_table else {}))
