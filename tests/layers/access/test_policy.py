"""Who sees what (layers/access/policy.py): the leak test of shared/notes/security.md.

Many viewers (nations in and out of NATO, every clearance, each role, an administrator, one who
must see nothing) against a few hundred generated records with varied markings, some missing or
garbled; the expected visibility comes from the oracle (tests/support/oracle.py).
"""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest

from ingest.markings import highest_marking
from layers.access import (
    Viewer,
    may_see,
    releasable_mask,
    restrict,
    restrict_alerts,
    signature,
    visible_keys,
)
from tests.support.oracle import (
    O_NATO,
    VIEWERS,
    Spec,
    World,
    build_world,
    keys_of,
    oracle_alerts,
    oracle_banner,
    oracle_sees,
    oracle_visible,
)


@pytest.mark.parametrize(("seed", "all_partners"), [(1, True), (2, True), (3, False)])
def test_no_leak_every_viewer_every_layer(seed, all_partners):
    world = build_world(seed, all_partners=all_partners)
    n_records = sum(len(f) for n, f in world.picture.items() if n != "alerts")
    n_bad = sum(not s.ok for s in world.specs.values())
    assert n_records >= 200 and n_bad >= 20 and len(VIEWERS) >= 8
    report = []
    for ov in VIEWERS:
        v = ov.viewer()
        expected = oracle_visible(world, ov, with_extra=False)
        # releasable_mask, layer by layer
        for layer, frame in world.picture.items():
            if layer == "alerts":
                continue
            keys = [f"{layer}/{s}/{i}" for s, i in zip(frame["source"], frame["source_id"])]
            got = {k for k, ok in zip(keys, releasable_mask(frame, v)) if ok}
            want = {k for k in keys if k in expected}
            assert got == want, (ov.username, layer, sorted(got ^ want)[:5])
        # restrict: every layer, alerts included
        out = restrict(world.picture, v)
        assert list(out) == list(world.picture)
        for layer, frame in out.items():
            if layer == "alerts":
                continue
            got, want = keys_of(layer, frame), {k for k in keys_of(layer, world.picture[layer]) if k in expected}
            assert got == want, (ov.username, layer, sorted(got ^ want)[:5])
        want_alerts = oracle_alerts(world, expected)
        assert out["alerts"]["key"].tolist() == want_alerts, ov.username
        # restrict_alerts on its own, given the oracle's keys; and visible_keys
        assert restrict_alerts(world.picture["alerts"], expected)["key"].tolist() == want_alerts
        assert visible_keys(world.picture, v) == expected
        # with the out-of-picture subjects supplied
        expected_x = oracle_visible(world, ov, with_extra=True)
        out_x = restrict(world.picture, v, extra_subjects=world.extra)
        assert out_x["alerts"]["key"].tolist() == oracle_alerts(world, expected_x), ov.username
        # the banner of what this viewer sees, from the oracle's meanings
        seen = [s for k, s in world.specs.items() if k in expected]
        seen += [_track_spec(world, t) for t in world.track_points if t in expected]
        # a visible alert says what it was derived from: the banner text of its subjects' markings
        # (each of which this viewer may see), never "REL TO NONE"
        subject_specs = [[_subject_spec(world, k) for k in json.loads(world.alert_subjects[int(a[6:])])]
                         for a in want_alerts]
        for a, specs, text in zip(want_alerts, subject_specs, out["alerts"]["marking"].astype(object)):
            assert highest_marking([text]) == oracle_banner(specs), (ov.username, a)
            assert all(oracle_sees(ov, spec) for spec in specs), (ov.username, a)
            assert "REL TO NONE" not in text, (ov.username, a)
        seen += [spec for specs in subject_specs for spec in specs]
        want_banner = oracle_banner(seen)
        shown = [m for layer, f in out.items() if "marking" in f for m in f["marking"].astype(object).tolist()]
        shown += [None] * len(out["notes"])  # the layer without a marking column
        assert highest_marking(shown) == want_banner, ov.username
        if ov.role != "administrator":
            assert "UNMARKED" not in want_banner and all(s.ok for s in seen)
        report.append(f"{ov.username}: {len(expected)} records, {len(want_alerts)} alerts")
    print(f"\nseed {seed} ({n_records} records, {n_bad} unreadable): " + "; ".join(report))
    # the viewer who must see nothing
    nobody = next(o for o in VIEWERS if o.username == "bra.nobody")
    if not all_partners:
        out = restrict(world.picture, nobody.viewer(), extra_subjects=world.extra)
        assert all(f.empty for f in out.values())
        assert oracle_visible(world, nobody, with_extra=True) == set()
        assert highest_marking([m for f in out.values() if "marking" in f for m in f["marking"]]) == "UNCLASSIFIED"


def _subject_spec(world: World, key: str) -> Spec:
    """The meaning of a subject's stored marking (a track's is the combination of its fixes)."""
    if key in world.track_points:
        return oracle_combine([world.point_specs[f] for f in world.track_points[key]])
    return world.specs[key]


def oracle_combine(specs: list[Spec]) -> Spec:
    """The documented marking of a stored derived record (a track), written independently:
    highest level and common nations; with unreadable parts, unreadable if the readable parts
    are UNCLASSIFIED to all partners (or none), else releasable to no nation."""
    good = [s for s in specs if s.ok]
    if not good:
        return Spec(False)
    level = max(s.level for s in good)
    nations = None
    for s in good:
        if s.nations is not None:
            nations = s.nations if nations is None else nations & s.nations
    if len(good) < len(specs):
        return Spec(False) if level == 0 and nations is None else Spec(True, level, frozenset())
    return Spec(True, level, nations)


def _track_spec(world: World, tkey: str) -> Spec:
    """What a visible track shows: all its fixes (unreadable if any fix is)."""
    fixes = [world.point_specs[f] for f in world.track_points[tkey]]
    if not all(s.ok for s in fixes):
        return Spec(False)
    nations = None
    for s in fixes:
        if s.nations is not None:
            nations = s.nations if nations is None else nations & s.nations
    return Spec(True, max(s.level for s in fixes), nations)


def test_derived_track_visible_only_if_every_fix_is():
    """The invariant behind combine_markings: seeing a track means seeing all its fixes."""
    world = build_world(4, all_partners=True)
    for ov in VIEWERS:
        out = restrict(world.picture, ov.viewer())
        for tkey in keys_of("tracks", out["tracks"]):
            assert all(oracle_sees(ov, world.point_specs[f]) for f in world.track_points[tkey]), (ov, tkey)


def test_same_signature_same_picture():
    world = build_world(5, all_partners=True)
    a = Viewer("one", "FRA", "RESTRICTED", "viewer")
    b = Viewer("two", "FRA", "R", "analyst", "Someone else")
    assert signature(a) == signature(b) == ("FRA", 1, False)
    ra, rb = restrict(world.picture, a), restrict(world.picture, b)
    assert all(ra[k].equals(rb[k]) for k in ra)
    assert signature(Viewer("adm", "FRA", "RESTRICTED", "administrator")) != signature(a)
    assert signature(Viewer("x", "GBR", "RESTRICTED")) != signature(a)
    assert signature(Viewer("x", "FRA", "SECRET")) != signature(a)


def test_restrict_never_mutates_the_shared_picture():
    world = build_world(6, all_partners=True)
    before = {k: f.copy() for k, f in world.picture.items()}
    restrict(world.picture, Viewer("t", "TUR", "UNCLASSIFIED"))
    assert all(before[k].equals(world.picture[k]) for k in before)


def test_demo_markings():
    demo = {
        "UNCLASSIFIED": {"USA", "GBR", "FRA", "DEU", "ITA", "TUR", "POL", "AUT", "UKR"},
        "UNCLASSIFIED//REL TO USA, GBR, FRA, DEU, ITA, TUR, POL": {"USA", "GBR", "FRA", "DEU", "ITA", "TUR", "POL"},
        "UNCLASSIFIED//REL TO NATO": {"USA", "GBR", "FRA", "DEU", "ITA", "TUR", "POL"},
        "UNCLASSIFIED//REL TO USA, GBR": {"USA", "GBR"},
        "RESTRICTED//REL TO GBR, FRA": {"GBR", "FRA"},
    }
    for marking, nations in demo.items():
        for nation in ("USA", "GBR", "FRA", "DEU", "ITA", "TUR", "POL", "AUT", "UKR"):
            assert may_see(marking, Viewer("v", nation, "RESTRICTED")) == (nation in nations), (marking, nation)
    assert not may_see("RESTRICTED//REL TO GBR, FRA", Viewer("v", "GBR", "UNCLASSIFIED"))
    assert not may_see("RESTRICTED//REL TO GBR, FRA", Viewer("v", "USA", "TOP SECRET", "administrator"))
    assert may_see(None, Viewer("v", "USA", "UNCLASSIFIED", "administrator"))
    assert not may_see(None, Viewer("v", "USA", "TOP SECRET", "analyst"))


@pytest.mark.parametrize(("args", "bad"), [
    (("u", "US", "SECRET"), "nation"), (("u", "NATO", "SECRET"), "nation"), (("u", "usa", "SECRET"), "nation"),
    (("u", "USA", "NATO SECRET"), "clearance"), (("u", "USA", "SEKRET"), "clearance"),
    (("u", "USA", "SECRET", "admin"), "role"), (("", "USA", "SECRET"), "username"),
])
def test_viewer_is_validated(args, bad):
    with pytest.raises(ValueError, match=bad):
        Viewer(*args)


def test_releasable_mask_is_fast_on_a_million_rows():
    rng = np.random.default_rng(11)
    distinct = [f"UNCLASSIFIED//REL TO {', '.join(rng.choice(sorted(O_NATO), 3, replace=False))}"
                for _ in range(300)] + ["UNCLASSIFIED", "SECRET", None]
    frame = pd.DataFrame({"marking": pd.Series(np.asarray(distinct, dtype=object)[
        rng.integers(0, len(distinct), 1_000_000)], dtype="string")})
    v = Viewer("v", "FRA", "SECRET")
    releasable_mask(frame.iloc[:5], v)
    start = time.perf_counter()
    mask = releasable_mask(frame, v)
    elapsed = time.perf_counter() - start
    print(f"releasable_mask, 1M rows, {len(distinct)} distinct markings: {elapsed * 1000:.0f} ms")
    assert 0 < mask.sum() < len(frame) and elapsed < 2.0


def test_restricting_twice_is_restricting_once():
    """Callers may restrict again (the export API does): nothing more disappears, administrators
    included (an alert over an unmarked and a marked record says "+ UNMARKED DATA PRESENT" after the
    first), and the alerts' marking texts stay what they were."""
    world = build_world(1, all_partners=True)
    for ov in VIEWERS:
        once = restrict(world.picture, ov.viewer(), extra_subjects=world.extra)
        twice = restrict(once, ov.viewer(), extra_subjects=world.extra)
        for layer in once:
            assert twice[layer].index.equals(once[layer].index), (ov.username, layer)
        assert twice["alerts"]["marking"].equals(once["alerts"]["marking"]), ov.username
