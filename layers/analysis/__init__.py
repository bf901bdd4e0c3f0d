"""Analysis rules: pure functions from layers (GeoDataFrames) to findings.

Every rule returns the same `findings` frame (see findings.py), so the rules
engine (layers/alerts/evaluate.py) can run them all and concatenate the results, and
the store can keep them as alerts on their stable keys.
"""

from layers.analysis.coverage import coverage_gaps, covering_scenes
from layers.analysis.findings import FINDING_COLUMNS, concat_findings, empty_findings, make_findings
from layers.analysis.geofence import Fixes, area_entries, border_crossings, loitering, prepare_fixes
from layers.analysis.hotspots import SEVERITY_WEIGHTS, hex_density, hotspots
from layers.analysis.proximity import incidents_near
from layers.analysis.staleness import stale_deployments, stale_tracks

__all__ = [
    "FINDING_COLUMNS", "SEVERITY_WEIGHTS", "Fixes", "area_entries", "border_crossings", "concat_findings",
    "coverage_gaps", "covering_scenes", "empty_findings", "hex_density", "hotspots", "incidents_near",
    "loitering", "make_findings", "prepare_fixes", "stale_deployments", "stale_tracks",
]
