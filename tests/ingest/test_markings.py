"""Releasability markings (ingest/markings.py): strict parsing, coalitions, combining, rendering.

The expectations here are written out by hand (member lists, canonical texts), not
computed with the module under test, so a wrong table in the module shows up as a
failure rather than agreeing with itself.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd
import pytest

from ingest.errors import ConfigError
from ingest.markings import (
    UNMARKED,
    Marking,
    coalitions,
    combine_markings,
    filename_tag,
    highest_marking,
    load_coalitions,
    parse_column,
    parse_marking,
    render_marking,
    summarise_markings,
)

NATO_2026 = sorted("ALB BEL BGR CAN HRV CZE DNK EST FIN FRA DEU GRC HUN ISL ITA LVA LTU LUX MNE NLD MKD NOR "
                   "POL PRT ROU SVK SVN ESP SWE TUR GBR USA".split())
EU_2026 = sorted("AUT BEL BGR HRV CYP CZE DNK EST FIN FRA DEU GRC HUN IRL ITA LVA LTU LUX MLT NLD POL PRT "
                 "ROU SVK SVN ESP SWE".split())
MISSION = sorted("USA GBR FRA DEU ITA TUR POL".split())


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    """Each test gets an empty $WATCHFLOOR_HOME: no site coalitions unless the test writes them."""
    home = tmp_path / "home"
    monkeypatch.setenv("WATCHFLOOR_HOME", str(home))
    return home


def fs(*codes: str) -> frozenset[str]:
    return frozenset(codes)


# -- parsing ---------------------------------------------------------------------------------

GOOD = [
    # the demo's markings (ingest/demo/ M_*)
    ("UNCLASSIFIED", 0, None),
    ("UNCLASSIFIED//REL TO USA, GBR, FRA, DEU, ITA, TUR, POL", 0, fs(*MISSION)),
    ("UNCLASSIFIED//REL TO NATO", 0, fs(*NATO_2026)),
    ("UNCLASSIFIED//REL TO USA, GBR", 0, fs("USA", "GBR")),
    ("RESTRICTED//REL TO GBR, FRA", 1, fs("GBR", "FRA")),
    # spellings, case and whitespace
    ("U", 0, None),
    ("UNCLAS", 0, None),
    ("unclassified", 0, None),
    ("  Unclassified  //  rel  to   usa ,gbr  ", 0, fs("USA", "GBR")),
    ("R//REL TO FRA", 1, fs("FRA")),
    ("C//REL TO DEU", 2, fs("DEU")),
    ("CONFIDENTIAL//RELEASABLE TO DEU, POL", 2, fs("DEU", "POL")),
    ("S//REL TO USA", 3, fs("USA")),
    ("SECRET//REL TO USA, GBR", 3, fs("USA", "GBR")),
    ("TS//REL TO GBR", 4, fs("GBR")),
    ("TOP SECRET//REL TO USA", 4, fs("USA")),
    ("top\tsecret//rel to usa", 4, fs("USA")),
    # coalitions
    ("UNCLASSIFIED//REL TO EU", 0, fs(*EU_2026)),
    ("UNCLASSIFIED//REL TO MISSION", 0, fs(*MISSION)),
    ("RESTRICTED//REL TO NATO, AUT", 1, fs(*NATO_2026, "AUT")),
    ("RESTRICTED//REL TO NATO, EU", 1, fs(*NATO_2026, *EU_2026)),
    ("UNCLASSIFIED//REL TO XKX, ALB", 0, fs("XKX", "ALB")),
    ("UNCLASSIFIED//REL TO USA, USA", 0, fs("USA")),
    # all partners, no nation
    ("UNCLASSIFIED//REL TO ALL PARTNERS", 0, None),
    ("SECRET//REL TO ALL PARTNERS", 3, None),
    ("RESTRICTED//REL TO NONE", 1, fs()),
    # NATO classifications
    ("NATO UNCLASSIFIED", 0, fs(*NATO_2026)),
    ("NATO RESTRICTED", 1, fs(*NATO_2026)),
    ("NATO CONFIDENTIAL", 2, fs(*NATO_2026)),
    ("NATO SECRET", 3, fs(*NATO_2026)),
    ("COSMIC TOP SECRET", 4, fs(*NATO_2026)),
]

UNREADABLE = [
    None, float("nan"), pd.NA, 3, b"UNCLASSIFIED", "", "   ", "\n",
    "SECRET",                                     # classified, releasability not stated
    "RESTRICTED", "TOP SECRET", "TS", "C",
    "OFFICIAL", "OFFICIAL-SENSITIVE", "DIFFUSION RESTREINTE", "SECERT//REL TO USA", "UNCLASSIFED",
    "UNCLASSIFIED//", "//REL TO USA", "UNCLASSIFIED//REL TO", "UNCLASSIFIED//REL TO ",
    "UNCLASSIFIED/REL TO USA", "UNCLASSIFIED///REL TO USA", "UNCLASSIFIED//REL TO USA/GBR",
    "UNCLASSIFIED//REL TO USA,,GBR", "UNCLASSIFIED//REL TO USA,", "UNCLASSIFIED//REL TO ,USA",
    "UNCLASSIFIED//REL TO USA GBR", "UNCLASSIFIED//REL TO USA AND GBR", "UNCLASSIFIED//REL TO USA; GBR",
    "UNCLASSIFIED//REL TO US", "UNCLASSIFIED//REL TO UK", "UNCLASSIFIED//REL TO XXX",
    "UNCLASSIFIED//REL TO FVEY",                  # not configured
    "UNCLASSIFIED//REL TO ALL PARTNERS, USA", "UNCLASSIFIED//REL TO NONE, USA", "UNCLASSIFIED//REL TO ALL",
    "UNCLASSIFIED//NOFORN", "SECRET//NOFORN", "SECRET//ORCON//REL TO USA",
    "SECRET//REL TO USA//REL TO GBR", "REL TO USA", "UNCLASSIFIED REL TO USA", "UNCLASSIFIED//RELTO USA",
    "NATO SECRET//REL TO FIN", "NATO UNCLASSIFIED//REL TO AUT", "NATO", "NATO TOP SECRET",
    "(U)", "U//REL TO USA\u200b", "UNCLASSİFİED", "SECRET//REL TO ÜSA", "U" * 5000,
]


@pytest.mark.parametrize(("text", "level", "rel_to"), GOOD)
def test_good_markings_parse(text, level, rel_to):
    m = parse_marking(text)
    assert m is not None, text
    assert (m.level, m.rel_to) == (level, rel_to)
    assert m.classification == ["UNCLASSIFIED", "RESTRICTED", "CONFIDENTIAL", "SECRET", "TOP SECRET"][level]
    assert m.raw == text


@pytest.mark.parametrize("text", UNREADABLE, ids=lambda t: repr(t)[:40])
def test_unreadable_markings_are_none(text):
    assert parse_marking(text) is None


def test_spellings_of_one_marking_are_equal():
    a = parse_marking("UNCLASSIFIED//REL TO USA, GBR")
    b = parse_marking("u//rel to gbr,usa")
    assert a == b and hash(a) == hash(b) and a.raw != b.raw


@pytest.mark.parametrize(("text", "level", "rel_to"), GOOD)
def test_canonical_text_round_trips(text, level, rel_to):
    m = parse_marking(text)
    again = parse_marking(m.canonical)
    assert again == m
    assert parse_marking(again.canonical).canonical == again.canonical


def test_canonical_texts():
    assert render_marking(1, fs("GBR", "FRA")) == "RESTRICTED//REL TO FRA, GBR"
    assert render_marking(0, None) == "UNCLASSIFIED"
    assert render_marking(3, None) == "SECRET//REL TO ALL PARTNERS"
    assert render_marking(2, fs()) == "CONFIDENTIAL//REL TO NONE"
    assert render_marking(0, fs(*NATO_2026), abbreviate=True) == "UNCLASSIFIED//REL TO NATO"
    assert render_marking(0, fs(*MISSION), abbreviate=True) == "UNCLASSIFIED//REL TO MISSION"
    assert render_marking(0, fs("USA"), abbreviate=True) == "UNCLASSIFIED//REL TO USA"


# -- coalitions ------------------------------------------------------------------------------

def test_builtin_coalitions():
    co = coalitions()
    assert sorted(co.get("NATO")) == NATO_2026 and len(NATO_2026) == 32
    assert sorted(co.get("EU")) == EU_2026 and len(EU_2026) == 27
    assert sorted(co.get("MISSION")) == MISSION  # bundled data/coalitions.default.toml


def test_site_coalitions_file_is_read_and_reloaded(_home):
    _home.mkdir(parents=True, exist_ok=True)
    path = _home / "coalitions.toml"
    assert parse_marking("UNCLASSIFIED//REL TO NORDIC") is None
    path.write_text('[coalitions.NORDIC]\nmembers = ["DNK", "FIN", "ISL", "NOR", "SWE"]\n'
                    '[coalitions.MISSION]\nmembers = ["FRA", "AUT"]\n')
    assert parse_marking("UNCLASSIFIED//REL TO NORDIC").rel_to == fs("DNK", "FIN", "ISL", "NOR", "SWE")
    assert parse_marking("UNCLASSIFIED//REL TO MISSION").rel_to == fs("FRA", "AUT")  # replaces the bundled one
    path.write_text('[coalitions.NORDIC]\nmembers = ["DNK", "NOR"]\n')
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))
    assert parse_marking("UNCLASSIFIED//REL TO NORDIC").rel_to == fs("DNK", "NOR")
    assert parse_marking("UNCLASSIFIED//REL TO MISSION").rel_to == fs(*MISSION)


@pytest.mark.parametrize("body", [
    '[coalitions.NATO]\nmembers = ["USA"]\n',                       # built-ins cannot be redefined
    '[coalitions.FRA]\nmembers = ["USA"]\n',                        # a nation code is not a coalition name
    '[coalitions.ALL]\nmembers = ["USA"]\n',
    '[coalitions.NONE]\nmembers = ["USA"]\n',
    '[coalitions.lower]\nmembers = ["USA"]\n',
    '[coalitions.X]\nmembers = ["USA"]\n',
    '[coalitions.GOOD]\nmembers = ["USA", "XXX"]\n',                # unknown code
    '[coalitions.GOOD]\nmembers = ["usa"]\n',
    '[coalitions.GOOD]\nmembers = ["MISSION"]\n',                   # only built-ins nest
    '[coalitions.GOOD]\nmembers = []\n',
    '[coalitions.GOOD]\nmember = ["USA"]\n',                        # typo in a key
    '[coalitions.GOOD]\nmembers = "USA"\n',
    '[coalition.GOOD]\nmembers = ["USA"]\n',
    'not toml [',
])
def test_bad_coalition_files_are_refused(tmp_path, body):
    path = tmp_path / "coalitions.toml"
    path.write_text(body)
    with pytest.raises(ConfigError):
        load_coalitions(path)


def test_coalition_may_include_builtins(tmp_path):
    path = tmp_path / "coalitions.toml"
    path.write_text('[coalitions.NATO-PLUS]\ntitle = "NATO and partners"\nmembers = ["NATO", "AUT", "XKX"]\n')
    co = load_coalitions(path)
    assert co.get("NATO-PLUS") == fs(*NATO_2026, "AUT", "XKX")
    assert parse_marking("RESTRICTED//REL TO NATO-PLUS", co).rel_to == fs(*NATO_2026, "AUT", "XKX")


# -- highest_marking / combine_markings ------------------------------------------------------

def test_highest_marking_takes_highest_level_and_intersects():
    demo = ["UNCLASSIFIED", "UNCLASSIFIED//REL TO USA, GBR, FRA, DEU, ITA, TUR, POL",
            "UNCLASSIFIED//REL TO NATO", "RESTRICTED//REL TO GBR, FRA"]
    assert highest_marking(demo) == "RESTRICTED//REL TO FRA, GBR"
    assert highest_marking(["UNCLASSIFIED", "UNCLASSIFIED//REL TO ALL PARTNERS"]) == "UNCLASSIFIED"
    assert highest_marking(["UNCLASSIFIED", "SECRET//REL TO ALL PARTNERS"]) == "SECRET//REL TO ALL PARTNERS"
    assert highest_marking(["UNCLASSIFIED//REL TO NATO", "U//REL TO EU"]) == (
        "UNCLASSIFIED//REL TO " + ", ".join(sorted(set(NATO_2026) & set(EU_2026))))
    assert highest_marking(["UNCLASSIFIED//REL TO NATO"], abbreviate=True) == "UNCLASSIFIED//REL TO NATO"
    assert highest_marking(["U//REL TO USA", "U//REL TO FRA"]) == "UNCLASSIFIED//REL TO NONE"
    assert highest_marking([]) == "UNCLASSIFIED"


def test_highest_marking_says_when_unmarked_data_is_present():
    assert highest_marking([None]) == UNMARKED == "UNMARKED DATA PRESENT"
    assert highest_marking(["garbage", float("nan")]) == UNMARKED
    assert highest_marking(["RESTRICTED//REL TO GBR, FRA", "SECRET"]) == (
        "RESTRICTED//REL TO FRA, GBR + UNMARKED DATA PRESENT")
    series = pd.Series(["UNCLASSIFIED//REL TO USA, GBR", None, "U//REL TO GBR"], dtype="string")
    assert highest_marking(series) == "UNCLASSIFIED//REL TO GBR + UNMARKED DATA PRESENT"
    s = summarise_markings(series)
    assert (s.level, s.rel_to, s.unmarked) == (0, fs("GBR"), True)


def test_combine_markings_is_most_restrictive():
    assert combine_markings(["UNCLASSIFIED//REL TO NATO", "RESTRICTED//REL TO GBR, FRA", "UNCLASSIFIED"]) == (
        "RESTRICTED//REL TO FRA, GBR")
    assert combine_markings(["UNCLASSIFIED", "U"]) == "UNCLASSIFIED"
    assert combine_markings(["U//REL TO USA", "U//REL TO GBR"]) == "UNCLASSIFIED//REL TO NONE"
    assert combine_markings(["UNCLASSIFIED", None]) is None       # every administrator may see every part
    assert combine_markings([None, "garbage"]) is None
    # mixed with a restricted readable part: "administrators cleared for it" is not writable: nobody
    assert combine_markings(["UNCLASSIFIED//REL TO USA", "SECRET"]) == "UNCLASSIFIED//REL TO NONE"
    assert combine_markings(["RESTRICTED//REL TO ALL PARTNERS", None]) == "RESTRICTED//REL TO NONE"
    assert combine_markings([]) is None
    combined = combine_markings(["UNCLASSIFIED//REL TO MISSION", "CONFIDENTIAL//REL TO NATO"])
    assert parse_marking(combined) == Marking("CONFIDENTIAL", 2, fs(*MISSION))


def test_filename_tag():
    assert filename_tag("RESTRICTED//REL TO FRA, GBR") == "RESTRICTED_REL_TO_FRA_GBR"
    assert filename_tag("UNCLASSIFIED + UNMARKED DATA PRESENT") == "UNCLASSIFIED_UNMARKED_DATA_PRESENT"
    assert filename_tag("../..//") == "UNMARKED"


# -- parse_column ----------------------------------------------------------------------------

def test_parse_column_maps_rows_to_distinct_markings():
    values = ["UNCLASSIFIED", None, "RESTRICTED//REL TO GBR, FRA", "UNCLASSIFIED", "bad", pd.NA]
    for col in (pd.Series(values, dtype=object), pd.Series(values, dtype="string"),
                pd.Series(values, dtype="category"), values):
        parsed = parse_column(col)
        got = [parsed.markings[c] for c in parsed.codes]
        assert got == [parse_marking(v) for v in values]
        assert parsed.unreadable.tolist() == [False, True, False, False, True, True]
        assert len(parsed.markings) <= 5  # distinct values + one for missing


def test_parse_column_is_fast_on_a_million_rows():
    rng = np.random.default_rng(7)
    nations = sorted(set(NATO_2026) | set(EU_2026))
    distinct = [f"{lvl}//REL TO {', '.join(rng.choice(nations, size=int(rng.integers(1, 6)), replace=False))}"
                for lvl in ("UNCLASSIFIED", "RESTRICTED", "SECRET") for _ in range(100)] + ["garbage", None]
    col = pd.Series(np.asarray(distinct, dtype=object)[rng.integers(0, len(distinct), 1_000_000)], dtype="string")
    parse_column(col.iloc[:10])  # warm the coalition cache
    start = time.perf_counter()
    parsed = parse_column(col)
    mask = parsed.mask(lambda m: m is not None and m.level == 0)
    elapsed = time.perf_counter() - start
    print(f"parse_column + mask on 1M rows, {len(distinct)} distinct: {elapsed * 1000:.0f} ms")
    assert mask.shape == (1_000_000,) and 0 < mask.sum() < 1_000_000
    assert elapsed < 2.0  # tens of ms in practice; generous for loaded CI machines
