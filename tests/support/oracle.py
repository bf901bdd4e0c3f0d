"""The oracle of the releasability tests: what each generated marking means, and who may see it.

The EXPECTED visibility of the leak tests comes from this deliberately simple oracle: the
generator knows what each marking it writes means (level, nations), and the oracle applies the
rule to that, with its own member lists. It never calls ingest.markings or layers.access, so a
bug there cannot agree with itself. Used by tests/layers/access/test_policy.py and by the
end-to-end tests (tests/support/leakworld.py, tests/dashboard/test_leak.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ingest.markings import combine_markings
from layers.access import (
    Viewer,
)

O_LEVELS = ["UNCLASSIFIED", "RESTRICTED", "CONFIDENTIAL", "SECRET", "TOP SECRET"]


O_NATO = set("ALB BEL BGR CAN HRV CZE DNK EST FIN FRA DEU GRC HUN ISL ITA LVA LTU LUX MNE NLD MKD NOR "
             "POL PRT ROU SVK SVN ESP SWE TUR GBR USA".split())


O_EU = set("AUT BEL BGR HRV CYP CZE DNK EST FIN FRA DEU GRC HUN IRL ITA LVA LTU LUX MLT NLD POL PRT "
           "ROU SVK SVN ESP SWE".split())


O_MISSION = {"USA", "GBR", "FRA", "DEU", "ITA", "TUR", "POL"}


O_NORDIC = {"DNK", "FIN", "ISL", "NOR", "SWE"}  # the site coalitions file of tests/layers/access/conftest.py


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
