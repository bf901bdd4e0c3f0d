"""Exports for analysts: exactly what is on screen, in the formats their tools read.

    from layers.export import export_view, export_bytes, FORMATS

    result = export_view(picture, view, viewer=viewer, fmt="gpkg", out=Path("exports"), now=now,
                         track_points=points, extra_subjects=subject_markings(store, alerts, picture))
    result.path, result.filename, result.counts, result.marking

    r = export_bytes(picture, view, viewer=viewer, fmt="kmz", now=now)      # dashboard download buttons
    st.download_button(f"KMZ ({r.marking})", data=r.data, file_name=r.filename, mime=r.mime)

One module per format (geojson, geopackage, kml, csvfile, geoparquet, shapefile, html_snapshot,
png_snapshot), each a pure writer `(ExportJob, path) -> None`; `api` restricts the picture to the
signed-in viewer (`layers.access.restrict`, always: `viewer` is required), selects what is on
screen, works out the marking (`ingest.markings.highest_marking` of what is written) and
provenance, and writes through `atomic.atomic_output` so a failed export leaves no file. Numbers
and names live in `constants`.
"""

from __future__ import annotations

from layers.export.api import (
    FORMATS,
    ExportError,
    ExportFormat,
    ExportResult,
    export_bytes,
    export_view,
    resolve_format,
    selected_layers,
)
from layers.export.provenance import Provenance
from layers.export.shapefile import shapefile_field_names

__all__ = [
    "FORMATS",
    "ExportError",
    "ExportFormat",
    "ExportResult",
    "Provenance",
    "export_bytes",
    "export_view",
    "resolve_format",
    "selected_layers",
    "shapefile_field_names",
]
