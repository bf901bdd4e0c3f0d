"""Incidents without post-event imagery (layers/analysis/coverage.py)."""

from __future__ import annotations

import json

import pandas as pd
import shapely

from layers.analysis import (
    coverage_gaps,
    covering_scenes,
)
from tests.support.frames import T0, assert_findings, details, incidents, scenes


def test_coverage_gap_before_cloudy_and_clear_scenes():
    a, b, c = (20.0, 42.0), (21.0, 42.0), (22.0, 42.0)
    inc = incidents([a, b, c], titles=["Bridge damaged", "Dam breach", "Fire"])
    box = lambda p: shapely.box(p[0] - 0.1, p[1] - 0.1, p[0] + 0.1, p[1] + 0.1)
    img = scenes([
        ("before", T0 - pd.Timedelta(hours=2), 0.0, box(a)),     # covers A, but before it
        ("cloudy", T0 + pd.Timedelta(hours=2), 80.0, box(b)),    # covers B after, too cloudy
        ("clear", T0 + pd.Timedelta(hours=3), 10.0, box(c)),     # covers C after, clear
        ("elsewhere", T0 + pd.Timedelta(hours=1), 0.0, box((25.0, 45.0))),
        ("unknown", T0 + pd.Timedelta(hours=1), None, box(a)),    # no cloud figure: not clear
    ])
    f = coverage_gaps(inc, img, max_cloud=30)
    assert_findings(f)
    got = {json.loads(s)[0]: details(f, i) for i, s in enumerate(f["subjects"])}
    assert set(got) == {"incidents/test/i0", "incidents/test/i1"}
    assert got["incidents/test/i0"]["scenes_before"] == 1
    assert got["incidents/test/i1"]["later_scenes_too_cloudy"] == 1
    assert got["incidents/test/i1"]["clearest_later_cloud"] == 80.0
    msg = dict(zip([json.loads(s)[0] for s in f["subjects"]], f["message"]))
    assert msg["incidents/test/i1"] == ("No clear imagery (<= 30% cloud) of incident 'Dam breach' since it occurred "
                                        "21 Nov 08:00 UTC (1 later scene(s) too cloudy)")
    # The UI's list: C is covered by the clear scene, 3 h after it.
    sc = covering_scenes(inc, img, max_cloud=30)
    assert sc[["incident", "scene_source_id"]].values.tolist() == [["incidents/test/i2", "clear"]]
    assert sc["lag_s"].iloc[0] == 3 * 3600
    # Raising the cloud limit to 90 covers B.
    assert {json.loads(s)[0] for s in coverage_gaps(inc, img, max_cloud=90)["subjects"]} == {"incidents/test/i0"}
    # Only incidents at least min_severity count.
    assert coverage_gaps(incidents([a], severity="medium"), img, min_severity="high").empty
    # No imagery at all: every qualifying incident is a gap.
    assert len(coverage_gaps(inc, None)) == 3
