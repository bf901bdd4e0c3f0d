"""Who sees what (layers/access.py) and who may sign in (layers/users.py).

The leak test follows shared/notes/security.md: many viewers (nations in and out
of NATO, every clearance, each role, an administrator, one who must see nothing)
against a few hundred generated records with varied markings, some missing or
garbled. The EXPECTED visibility comes from a deliberately simple oracle in this
file: the generator knows what each marking it writes means (level, nations),
and the oracle applies the rule to that, with its own member lists. It never
calls ingest.markings or layers.access, so a bug there cannot agree with itself.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import stat
import time
import tomllib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from ingest.errors import ConfigError, WatchfloorError
from layers.access import (
    Viewer,
    may_see,
    releasable_mask,
    restrict,
    restrict_alerts,
    signature,
    visible_keys,
)
from layers.auth_errors import (
    AuthenticationError,
    ClaimsRefused,
    DisabledUser,
    PasswordPolicyError,
    SessionExpired,
    UnknownUser,
    WrongPassword,
)
from ingest.markings import combine_markings, highest_marking

# -- the oracle's own world --------------------------------------------------------------------

O_LEVELS = ["UNCLASSIFIED", "RESTRICTED", "CONFIDENTIAL", "SECRET", "TOP SECRET"]
O_NATO = set("ALB BEL BGR CAN HRV CZE DNK EST FIN FRA DEU GRC HUN ISL ITA LVA LTU LUX MNE NLD MKD NOR "
             "POL PRT ROU SVK SVN ESP SWE TUR GBR USA".split())
O_EU = set("AUT BEL BGR HRV CYP CZE DNK EST FIN FRA DEU GRC HUN IRL ITA LVA LTU LUX MLT NLD POL PRT "
           "ROU SVK SVN ESP SWE".split())
O_MISSION = {"USA", "GBR", "FRA", "DEU", "ITA", "TUR", "POL"}
O_NORDIC = {"DNK", "FIN", "ISL", "NOR", "SWE"}  # written to the site coalitions file below
O_GROUPS = {"NATO": O_NATO, "EU": O_EU, "MISSION": O_MISSION, "NORDIC": O_NORDIC}

SPELLINGS = {0: ["UNCLASSIFIED", "U", "UNCLAS", "unclassified"], 1: ["RESTRICTED", "R", "Restricted"],
             2: ["CONFIDENTIAL", "C"], 3: ["SECRET", "S"], 4: ["TOP SECRET", "TS", "top secret"]}
NATO_WORDS = {0: "NATO UNCLASSIFIED", 1: "NATO RESTRICTED", 2: "NATO CONFIDENTIAL", 3: "NATO SECRET",
              4: "COSMIC TOP SECRET"}
REL_LISTS = [["USA"], ["GBR", "FRA"], ["USA", "GBR"], ["NATO"], ["EU"], ["MISSION"], ["NORDIC"],
             ["NATO", "AUT"], ["UKR"], ["XKX", "ALB"], ["USA", "GBR", "FRA", "DEU", "ITA", "TUR", "POL"],
             ["AUT", "UKR", "XKX"], ["DEU"], ["TUR", "POL"], ["EU", "UKR"], ["NONE"]]
BAD = [None, "", "   ", "SECRET", "RESTRICTED", "OFFICIAL", "SECERT//REL TO USA", "UNCLASSIFIED//REL TO",
       "UNCLASSIFIED/REL TO USA", "UNCLASSIFIED//REL TO USA,,GBR", "UNCLASSIFIED//REL TO USA GBR",
       "UNCLASSIFIED//REL TO XXX", "UNCLASSIFIED//REL TO US", "UNCLASSIFIED//NOFORN",
       "SECRET//REL TO USA//REL TO GBR", "NATO SECRET//REL TO AUT", "UNCLASSIFIED//REL TO ALL PARTNERS, USA",
       "UNCLASSIFIED//REL TO FVEY", "REL TO USA", "UNCLASSIFIED//REL TO USA,", float("nan")]


@dataclass(frozen=True)
class Spec:
    """What a generated marking means: ok False = unreadable; nations None = all partners."""

    ok: bool
    level: int = 0
    nations: frozenset[str] | None = None


def expand(tokens: list[str]) -> frozenset[str]:
    out: set[str] = set()
    for t in tokens:
        if t != "NONE":
            out |= O_GROUPS.get(t, {t})
    return frozenset(out)


def gen_marking(rng: np.random.Generator, *, all_partners: bool) -> tuple[object, Spec]:
    """A marking text and its meaning; ~15% unreadable."""
    r = rng.random()
    if r < 0.15:
        return BAD[int(rng.integers(0, len(BAD)))], Spec(False)
    level = int(rng.integers(0, 5))
    word = SPELLINGS[level][int(rng.integers(0, len(SPELLINGS[level])))]
    if all_partners and r < 0.27:
        if level == 0 and rng.random() < 0.5:
            return word, Spec(True, 0, None)
        return f"{word}//REL TO ALL PARTNERS", Spec(True, level, None)
    if r < 0.33:
        return NATO_WORDS[level], Spec(True, level, frozenset(O_NATO))
    tokens = REL_LISTS[int(rng.integers(0, len(REL_LISTS)))]
    sep = [", ", ",", " , "][int(rng.integers(0, 3))]
    rel = "REL TO" if rng.random() < 0.8 else "RELEASABLE TO"
    return f"{word}//{rel} {sep.join(tokens)}", Spec(True, level, expand(tokens))


@dataclass(frozen=True)
class OViewer:
    username: str
    nation: str
    clearance: str
    role: str

    def viewer(self) -> Viewer:
        return Viewer(self.username, self.nation, self.clearance, self.role, self.username.title())


def oracle_sees(v: OViewer, spec: Spec) -> bool:
    if not spec.ok:
        return v.role == "administrator"
    return O_LEVELS.index(v.clearance) >= spec.level and (spec.nations is None or v.nation in spec.nations)


def oracle_banner(specs: list[Spec]) -> str:
    good = [s for s in specs if s.ok]
    unmarked = len(good) < len(specs)
    if not good:
        return "UNMARKED DATA PRESENT" if unmarked else "UNCLASSIFIED"
    level = max(s.level for s in good)
    nations: frozenset[str] | None = None
    for s in good:
        if s.nations is not None:
            nations = s.nations if nations is None else nations & s.nations
    if nations is None:
        text = O_LEVELS[level] if level == 0 else f"{O_LEVELS[level]}//REL TO ALL PARTNERS"
    else:
        text = f"{O_LEVELS[level]}//REL TO {', '.join(sorted(nations)) if nations else 'NONE'}"
    return text + (" + UNMARKED DATA PRESENT" if unmarked else "")


VIEWERS = [
    OViewer("usa.analyst", "USA", "SECRET", "analyst"),
    OViewer("gbr.viewer", "GBR", "RESTRICTED", "viewer"),
    OViewer("fra.viewer", "FRA", "CONFIDENTIAL", "viewer"),
    OViewer("tur.viewer", "TUR", "UNCLASSIFIED", "viewer"),
    OViewer("aut.analyst", "AUT", "SECRET", "analyst"),          # EU, not NATO
    OViewer("ukr.viewer", "UKR", "TOP SECRET", "viewer"),         # partner outside NATO and the EU
    OViewer("xkx.viewer", "XKX", "RESTRICTED", "viewer"),         # Kosovo: not in ISO 3166
    OViewer("nor.analyst", "NOR", "CONFIDENTIAL", "analyst"),     # NATO and NORDIC, not EU
    OViewer("deu.admin", "DEU", "SECRET", "administrator"),
    OViewer("usa.admin", "USA", "UNCLASSIFIED", "administrator"),  # an administrator with a low clearance
    OViewer("bra.nobody", "BRA", "UNCLASSIFIED", "viewer"),       # sees nothing but all-partner records
]

LAYER_SIZES = {"incidents": 80, "deployments": 40, "imagery": 30, "infrastructure": 30, "places": 25,
               "borders": 10}


@dataclass
class World:
    picture: dict[str, gpd.GeoDataFrame]
    specs: dict[str, Spec]                  # record key -> meaning of its marking
    track_points: dict[str, list[str]]      # track key -> keys of its fixes (in `point_specs`)
    point_specs: dict[str, Spec]
    extra: dict[str, object]                # subjects outside the picture, with markings
    extra_specs: dict[str, Spec]
    alert_subjects: list[object]            # per alert row, the raw subjects value


def build_world(seed: int, *, all_partners: bool) -> World:
    rng = np.random.default_rng(seed)
    picture: dict[str, gpd.GeoDataFrame] = {}
    specs: dict[str, Spec] = {}
    bad_cycle = iter(BAD * 3)  # every garbled form appears at least once
    for li, (layer, n) in enumerate(LAYER_SIZES.items()):
        texts, ids = [], []
        for i in range(n):
            if i < 4:  # guarantee unreadable rows in every layer
                text, spec = next(bad_cycle), Spec(False)
            else:
                text, spec = gen_marking(rng, all_partners=all_partners)
            sid = f"{layer[:3]}-{i:03d}"
            texts.append(text)
            ids.append(sid)
            specs[f"{layer}/src-{li % 2}/{sid}"] = spec
        dtype = {"deployments": "string", "infrastructure": "category"}.get(layer, object)
        picture[layer] = gpd.GeoDataFrame(
            {"source": [f"src-{li % 2}"] * n, "source_id": ids,
             "marking": pd.Series(texts, dtype=dtype), "title": [f"{layer} {i}" for i in range(n)]},
            geometry=shapely.points(rng.uniform(18, 23, n), rng.uniform(40, 45, n)), crs="EPSG:4326")
    # Derived tracks: each built from fixes with their own markings; the track carries
    # combine_markings of its fixes (what ingest should store). The oracle's rule is the
    # invariant that makes that safe: a track is visible only if ALL its fixes are.
    track_points: dict[str, list[str]] = {}
    point_specs: dict[str, Spec] = {}
    rows = []
    for t in range(24):
        fixes = []
        for j in range(int(rng.integers(1, 5))):
            if t < 3 and j == 0:
                text, spec = BAD[t + 1], Spec(False)
            else:
                text, spec = gen_marking(rng, all_partners=all_partners)
            key = f"track_points/demo-cot/trk-{t:02d}-{j}"
            point_specs[key] = spec
            fixes.append((key, text))
        tkey = f"tracks/derived/trk-{t:02d}"
        track_points[tkey] = [k for k, _ in fixes]
        rows.append({"source": "derived", "source_id": f"trk-{t:02d}", "track_id": f"trk-{t:02d}",
                     "marking": combine_markings([m for _, m in fixes]),
                     "geometry": shapely.LineString([(19, 41), (19.1 + t / 100, 41.1)])})
    picture["tracks"] = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")
    # A layer without a marking column at all: unmarked, so administrators only.
    picture["notes"] = gpd.GeoDataFrame({"source": ["ops"] * 3, "source_id": ["n1", "n2", "n3"]},
                                        geometry=shapely.points([19, 20, 21], [42, 42, 42]), crs="EPSG:4326")
    for i in range(3):
        specs[f"notes/ops/n{i + 1}"] = Spec(False)
    # Records outside the picture that alerts may name, with their markings.
    extra, extra_specs = {}, {}
    for i in range(12):
        text, spec = gen_marking(rng, all_partners=all_partners)
        key = f"incidents/archive/old-{i}"
        extra[key] = text
        extra_specs[key] = spec
    # The same record known twice (an older copy in the picture, a newer one named by the caller)
    # with different markings: hidden in either means hidden.
    for i, key in enumerate(sorted(specs)[::29]):
        extra[key], extra_specs[key] = ("UNCLASSIFIED", Spec(True, 0, None)) if i % 2 else (None, Spec(False))
    # Alerts: 1-3 subjects from all of the above; some dangling, some garbled.
    record_keys = list(specs) + list(track_points)
    subjects: list[object] = []
    for a in range(90):
        if a < 8:
            subjects.append(['not json', '[]', '{"a": 1}', '"tracks/derived/trk-00"', None, '[1, 2]',
                             '[null]', '["incidents/src-0/inc-004", 7]'][a])
            continue
        pool = record_keys + list(extra) if a % 5 == 0 else record_keys
        chosen = [pool[int(k)] for k in rng.choice(len(pool), size=int(rng.integers(1, 4)), replace=False)]
        if a % 17 == 0:
            chosen.append("incidents/src-0/never-stored")  # dangling: hidden from everyone
        subjects.append(json.dumps(chosen))
    picture["alerts"] = gpd.GeoDataFrame(
        {"key": [f"alert-{a}" for a in range(90)], "rule": ["test"] * 90,
         "subjects": pd.Series(subjects, dtype="string"), "message": ["m"] * 90},
        geometry=shapely.points(np.full(90, 20.0), np.full(90, 42.0)), crs="EPSG:4326")
    return World(picture, specs, track_points, point_specs, extra, extra_specs, subjects)


def oracle_track_sees(world: World, v: OViewer, tkey: str) -> bool:
    """The documented rule for derived tracks, written independently: with every fix readable,
    visible iff every fix is; with unreadable fixes, administrators only if the readable fixes
    are all UNCLASSIFIED to all partners (or there are none), else nobody."""
    fixes = [world.point_specs[f] for f in world.track_points[tkey]]
    if all(s.ok for s in fixes):
        return all(oracle_sees(v, s) for s in fixes)
    readable = [s for s in fixes if s.ok]
    if all(s.level == 0 and s.nations is None for s in readable):
        return v.role == "administrator"
    return False


def oracle_visible(world: World, v: OViewer, *, with_extra: bool) -> set[str]:
    keys = {k for k, s in world.specs.items() if oracle_sees(v, s)}
    keys |= {t for t in world.track_points if oracle_track_sees(world, v, t)}
    if with_extra:
        hidden = ({k for k in world.specs if k not in keys}
                  | {k for k, s in world.extra_specs.items() if not oracle_sees(v, s)})
        keys = (keys | {k for k, s in world.extra_specs.items() if oracle_sees(v, s)}) - hidden
    return keys


def oracle_alerts(world: World, visible: set[str]) -> list[str]:
    out = []
    for a, raw in enumerate(world.alert_subjects):
        try:
            items = json.loads(raw) if isinstance(raw, str) else None
        except ValueError:
            items = None
        if isinstance(items, list) and items and all(isinstance(i, str) and i in visible for i in items):
            out.append(f"alert-{a}")
    return out


def keys_of(layer: str, frame: pd.DataFrame) -> set[str]:
    return {f"{layer}/{s}/{i}" for s, i in zip(frame["source"], frame["source_id"])}


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    (home / "coalitions.toml").write_text('[coalitions.NORDIC]\nmembers = ["DNK", "FIN", "ISL", "NOR", "SWE"]\n')
    monkeypatch.setenv("WATCHFLOOR_HOME", str(home))
    return home


# -- the leak test -------------------------------------------------------------------------------

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


# -- sign-in -------------------------------------------------------------------------------------

PASSWORDS = {"alice": "correct horse battery staple", "bob": "Tr0ub4dor&3-but-longer",
             "carol": "admin pass phrase 2026!"}


@pytest.fixture(scope="module")
def users_file(tmp_path_factory):
    from layers.users import add_user

    path = tmp_path_factory.mktemp("users") / "users.toml"
    add_user(path, "alice", PASSWORDS["alice"], nation="FRA", clearance="RESTRICTED", role="analyst",
             display_name="Capt. Alice \"Al\" Martin\\")
    add_user(path, "bob", PASSWORDS["bob"], nation="GBR", clearance="SECRET", disabled=True)
    add_user(path, "carol", PASSWORDS["carol"], nation="DEU", clearance="S", role="administrator")
    return path


@pytest.fixture
def users(users_file):
    from layers.users import load_users

    return load_users(users_file)


def test_sign_in_succeeds(users):
    from layers.users import authenticate

    v = authenticate(users, "alice", PASSWORDS["alice"])
    assert v == Viewer("alice", "FRA", "RESTRICTED", "analyst", 'Capt. Alice "Al" Martin\\')
    assert authenticate(users, " Carol ", PASSWORDS["carol"]).is_admin


@pytest.mark.parametrize(("username", "password", "error"), [
    ("alice", "wrong password here", WrongPassword),
    ("alice", "", WrongPassword),
    ("alice", PASSWORDS["alice"].upper(), WrongPassword),
    ("alice", "x" * 5000, WrongPassword),
    ("mallory", "whatever password", UnknownUser),
    ("", "whatever password", UnknownUser),
    ("correct horse battery staple", "x", UnknownUser),       # a password typed into the username box
    ("bob", PASSWORDS["bob"], DisabledUser),                  # right password, disabled account
    ("bob", "wrong password here", WrongPassword),           # wrong password: do not reveal "disabled"
])
def test_sign_in_refused_with_specific_error(users, username, password, error, caplog):
    from layers.users import authenticate

    caplog.set_level(logging.DEBUG)
    with pytest.raises(error) as info:
        authenticate(users, username, password)
    exc = info.value
    assert isinstance(exc, AuthenticationError) and isinstance(exc, WatchfloorError)
    for secret in {*PASSWORDS.values(), password} - {""}:
        assert secret not in str(exc) and secret not in repr(exc) and secret not in exc.public_message
        assert secret not in caplog.text
        assert all(secret not in str(r.args) for r in caplog.records)
    if error in (WrongPassword, UnknownUser):
        assert exc.public_message == "Sign-in failed: wrong username or password."


def test_unknown_user_costs_a_real_verification(users, monkeypatch):
    """Timing must not reveal which usernames exist: every path runs one argon2 verify."""
    import layers.users as mod
    from layers.users import authenticate

    calls = []
    real = mod._HASHER

    class Counting:
        def verify(self, h, p):
            calls.append(h)
            return real.verify(h, p)

        def __getattr__(self, name):
            return getattr(real, name)

    monkeypatch.setattr(mod, "_HASHER", Counting())

    def timed(username, password):
        start = time.perf_counter()
        with pytest.raises(AuthenticationError):
            authenticate(users, username, password)
        return time.perf_counter() - start

    timed("nobody", "some password")  # the dummy hash is made once
    for username, password in (("nobody", "pw one two three"), ("alice", "pw one two three"),
                               ("alice", "y" * 5000), ("", ""), ("bob", "pw one two three")):
        calls.clear()
        timed(username, password)
        assert len(calls) == 1, username
        assert calls[0].startswith("$argon2id$")
    unknown = sorted(timed("nobody", "pw one two three") for _ in range(3))[1]
    known = sorted(timed("alice", "pw one two three") for _ in range(3))[1]
    assert 0.4 < unknown / known < 2.5, (unknown, known)


def test_sessions_expire(users):
    from layers.users import check_session, start_session

    now = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)
    alice = users["alice"].viewer()
    s = start_session(alice, now=now, lifetime=timedelta(hours=12))
    assert check_session(s, now + timedelta(hours=11, minutes=59)) == alice
    with pytest.raises(SessionExpired):
        check_session(s, now + timedelta(hours=12))
    with pytest.raises(SessionExpired):
        check_session(s, now - timedelta(hours=1))   # issued in the future
    with pytest.raises(SessionExpired):
        check_session(None, now)
    with pytest.raises(ValueError):
        check_session(s, datetime(2026, 3, 1, 9))    # naive time: a bug, not a refusal


def test_session_rechecks_the_account(users):
    from layers.users import UserRecord, check_session, start_session

    now = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)
    s = start_session(users["alice"].viewer(), now=now)
    a = users["alice"]
    lowered = {**users, "alice": UserRecord(a.username, a.nation, "UNCLASSIFIED", a.role, a.password_hash,
                                            a.display_name)}
    assert check_session(s, now, lowered).clearance == "UNCLASSIFIED"
    disabled = {**users, "alice": UserRecord(a.username, a.nation, a.clearance, a.role, a.password_hash,
                                             a.display_name, disabled=True)}
    with pytest.raises(DisabledUser):
        check_session(s, now, disabled)
    with pytest.raises(UnknownUser):
        check_session(s, now, {})


def test_users_file_holds_no_password(users_file, users):
    from layers.users import start_session

    text = users_file.read_text(encoding="utf-8")
    for pw in PASSWORDS.values():
        assert pw not in text
    assert stat.S_IMODE(users_file.stat().st_mode) == 0o600
    doc = tomllib.loads(text)
    assert set(doc["users"]) == {"alice", "bob", "carol"}
    assert all(u["password_hash"].startswith("$argon2id$") for u in doc["users"].values())
    assert not [p for p in users_file.parent.iterdir() if p.name.endswith(".tmp")]
    for name, pw in PASSWORDS.items():
        v = users[name].viewer()
        s = start_session(v, now=datetime.now(timezone.utc))
        for text in (repr(v), repr(s), repr(users[name]), str(users[name])):
            assert pw not in text and "$argon2" not in text


def test_adding_users_and_refusals(tmp_path, caplog):
    from layers.users import add_user, load_users, set_disabled

    caplog.set_level(logging.DEBUG)
    path = tmp_path / "u" / "users.toml"
    pw = "a brand new passphrase"
    add_user(path, "dave", pw, nation="XKX", clearance="CONFIDENTIAL")
    with pytest.raises(ConfigError):
        add_user(path, "dave", pw, nation="XKX", clearance="CONFIDENTIAL")
    add_user(path, "dave", pw, nation="UKR", clearance="C", replace=True)
    assert load_users(path)["dave"].nation == "UKR"
    for bad in ({"nation": "XX", "clearance": "SECRET"}, {"nation": "FRA", "clearance": "NATO SECRET"},
                {"nation": "FRA", "clearance": "SECRET", "role": "root"}):
        with pytest.raises(ConfigError):
            add_user(path, "erin", pw, **bad)
    with pytest.raises(ConfigError):
        add_user(path, "Bad Name!", pw, nation="FRA", clearance="SECRET")
    with pytest.raises(PasswordPolicyError) as info:
        add_user(path, "erin", "short pw", nation="FRA", clearance="SECRET")
    assert "short pw" not in str(info.value)
    assert set_disabled(path, "dave").disabled and load_users(path)["dave"].disabled
    assert pw not in caplog.text and pw not in path.read_text()


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    import layers.users as mod

    path = tmp_path / "w" / "users.toml"
    mod.add_user(path, "dave", "a brand new passphrase", nation="FRA", clearance="SECRET")
    before = path.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(mod.os, "replace", boom)
    with pytest.raises(OSError):
        mod.add_user(path, "erin", "another long passphrase", nation="FRA", clearance="SECRET")
    assert path.read_bytes() == before
    assert not [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize(("body", "shown_not"), [
    (('[users.x]\nnation = "FRA"\nclearance = "SECRET"\nrole = "viewer"\npassword = "plaintext-secret"\n'
     'password_hash = "$argon2id$x"\n'), "plaintext-secret"),
    ('[users.x]\nnation = "FRA"\nclearance = "SECRET"\nrole = "viewer"\npassword_hash = "plaintext-secret"\n',
     "plaintext-secret"),
    (('[users.x]\nnation = "FRA"\nclearance = "SECRET"\nrole = "viewer"\npassword_hash = "$argon2id$x"\n'
     'disable = true\n'), None),
    ('[users.x]\nnation = "FR"\nclearance = "SECRET"\nrole = "viewer"\npassword_hash = "$argon2id$x"\n', None),
    ('[users.X]\nnation = "FRA"\nclearance = "SECRET"\nrole = "viewer"\npassword_hash = "$argon2id$x"\n', None),
])
def test_bad_users_files_are_refused_without_echoing_secrets(tmp_path, body, shown_not):
    from layers.users import load_users

    path = tmp_path / "users.toml"
    path.write_text(body)
    with pytest.raises(ConfigError) as info:
        load_users(path)
    if shown_not:
        assert shown_not not in str(info.value)


def test_cli_users_add_list_disable(tmp_path, monkeypatch, capsys):
    from layers.users import add_users_arguments, users_command

    parser = argparse.ArgumentParser(prog="watchfloor users")
    add_users_arguments(parser)
    path = tmp_path / "users.toml"
    pw = "typed on stdin, not argv"
    monkeypatch.setattr("sys.stdin", io.StringIO(pw + "\n"))
    args = parser.parse_args(["--file", str(path), "add", "frank", "--nation", "POL", "--clearance", "R",
                              "--role", "analyst", "--display-name", "Frank", "--password-stdin"])
    assert args.func is users_command and users_command(args) == 0
    assert users_command(parser.parse_args(["--file", str(path), "list"])) == 0
    assert users_command(parser.parse_args(["--file", str(path), "disable", "frank"])) == 0
    out = capsys.readouterr().out
    assert "frank\tFrank\tPOL\tRESTRICTED\tanalyst\tenabled" in out and "frank: disabled" in out
    assert pw not in out and "$argon2" not in out and pw not in path.read_text()
    with pytest.raises(SystemExit):  # there is no --password option to leak into shell history
        parser.parse_args(["--file", str(path), "add", "g", "--nation", "POL", "--clearance", "R",
                           "--password", pw])


def test_oidc_claims_to_viewer():
    from layers.users import OidcMapping, oidc_mapping, oidc_viewer

    m = oidc_mapping({"auth": {"oidc": {"issuer": "https://idp.example", "client_id": "watchfloor",
                                        "roles": {"wf-admins": "administrator", "wf-analysts": "analyst"}}}})
    claims = {"preferred_username": "g.rossi", "name": "G. Rossi", "nationality": "ITA", "clearance": "SECRET",
              "roles": ["offline_access", "wf-analysts", "wf-admins"], "iss": "https://idp.example/"}
    assert oidc_viewer(claims, m) == Viewer("g.rossi", "ITA", "SECRET", "administrator", "G. Rossi")
    for issuer in ("https://evil.example", None):  # a token from another provider proves nothing here
        with pytest.raises(ClaimsRefused):
            oidc_viewer({**claims, "iss": issuer}, m)
    assert oidc_viewer({**claims, "roles": "other"}, m).role == "viewer"  # default role
    strict = OidcMapping(roles={"wf-admins": "administrator"}, default_role=None)
    with pytest.raises(ClaimsRefused):
        oidc_viewer({**claims, "roles": ["other"]}, strict)
    for broken in ({"nationality": "IT"}, {"nationality": None}, {"clearance": "VERY SECRET"},
                   {"preferred_username": ""}):
        with pytest.raises(ClaimsRefused):
            oidc_viewer({**claims, **broken}, m)
    with pytest.raises(ConfigError):
        oidc_mapping({"auth": {"oidc": {"roles": {"x": "superuser"}}}})
    with pytest.raises(ConfigError):
        oidc_mapping({"auth": {"oidc": {"client_secret": "s3cr3t"}}})


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
