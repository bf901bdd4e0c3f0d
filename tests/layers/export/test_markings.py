"""The marking of an export: the highest of exactly what it holds."""

from __future__ import annotations

import json

import geopandas as gpd
import pandas as pd
import pytest

from ingest.markings import UNMARKED, highest_marking
from layers.export.provenance import marking_slug
from layers.filters import View
from tests.support.exports import NATO_LIST, export


@pytest.mark.parametrize(("markings", "expected"), [
    ([], "UNCLASSIFIED"),  # nothing to protect
    (["UNCLASSIFIED", "unclassified"], "UNCLASSIFIED"),
    (["UNCLASSIFIED", "CONFIDENTIAL//REL TO ALL PARTNERS", "RESTRICTED//REL TO ALL PARTNERS"],
     "CONFIDENTIAL//REL TO ALL PARTNERS"),
    (["S//REL TO ALL PARTNERS", "TOP SECRET//REL TO ALL PARTNERS"], "TOP SECRET//REL TO ALL PARTNERS"),
    # a classified marking without REL TO states no releasability: unreadable
    (["UNCLASSIFIED", "CONFIDENTIAL", "RESTRICTED"], "UNCLASSIFIED + UNMARKED DATA PRESENT"),
    (["S", "TOP SECRET"], UNMARKED),
    # coalitions are spelled out as their nations
    (["UNCLASSIFIED//REL TO NATO", "UNCLASSIFIED"], f"UNCLASSIFIED//REL TO {NATO_LIST}"),
    (["UNCLASSIFIED//REL TO NATO", "UNCLASSIFIED//REL TO NATO"], f"UNCLASSIFIED//REL TO {NATO_LIST}"),
    (["UNCLASSIFIED//REL TO NATO", "SECRET//REL TO USA, GBR, AUS"], "SECRET//REL TO GBR, USA"),
    (["UNCLAS//RELEASABLE TO ALL PARTNERS", "R//REL TO NONE"], "RESTRICTED//REL TO NONE"),
    (["SECRET//REL TO ALL PARTNERS", "UNCLASSIFIED//REL TO MNE, ALB"], "SECRET//REL TO ALB, MNE"),
    (["UNCLASSIFIED//REL TO NONE, USA"], UNMARKED),
    (["UNCLASSIFIED//REL TO USA, GBR, FRA", "RESTRICTED//REL TO FRA, GBR"], "RESTRICTED//REL TO FRA, GBR"),
    (["UNCLASSIFIED//REL TO USA, GBR", "UNCLASSIFIED//REL TO NATO, AUS"], "UNCLASSIFIED//REL TO GBR, USA"),
    # MISSION (data/coalitions.default.toml): USA GBR FRA DEU ITA TUR POL
    (["UNCLASSIFIED//REL TO MISSION", "RESTRICTED//REL TO DEU, ESP"], "RESTRICTED//REL TO DEU"),
    # KFOR is no coalition we know: that marking is unreadable, the rest still counts
    (["UNCLASSIFIED//REL TO KFOR, GBR", "UNCLASSIFIED//REL TO GBR"], "UNCLASSIFIED//REL TO GBR + UNMARKED DATA PRESENT"),
    (["UNCLASSIFIED//REL TO USA", "UNCLASSIFIED//REL TO FRA"], "UNCLASSIFIED//REL TO NONE"),
    (["UNCLASSIFIED", None], "UNCLASSIFIED + UNMARKED DATA PRESENT"),
    (["UNCLASSIFIED", ""], "UNCLASSIFIED + UNMARKED DATA PRESENT"),
    (["UNCLASSIFIED", float("nan")], "UNCLASSIFIED + UNMARKED DATA PRESENT"),
    (["UNCLASSIFIED", "COSMIC PURPLE"], "UNCLASSIFIED + UNMARKED DATA PRESENT"),
    (["SECRET//NOFORN"], UNMARKED),
    (["UNCLASSIFIED//REL TO <script>"], UNMARKED),
    (["TOP SECRET//REL TO USA", pd.NA], "TOP SECRET//REL TO USA + UNMARKED DATA PRESENT"),
    ([None], "UNMARKED DATA PRESENT"),
])
def test_highest_marking(markings, expected):
    assert highest_marking(markings) == expected


def test_marking_slug_is_filesystem_safe_and_short_enough():
    assert marking_slug("UNCLASSIFIED//REL TO USA, GBR") == "UNCLASSIFIED-REL-TO-USA-GBR"
    assert marking_slug(UNMARKED) == "UNMARKED-DATA-PRESENT"
    assert marking_slug("SECRET//REL TO ABC, DEF + UNMARKED DATA PRESENT") == \
        "SECRET-REL-TO-ABC-DEF-UNMARKED-DATA-PRESENT"
    assert marking_slug("SECRET//REL TO " + ", ".join(["ABC"] * 100)).endswith("-ETC")
    # NATO's 32 nations fit (147 characters) ...
    assert marking_slug(f"UNCLASSIFIED//REL TO {NATO_LIST}") == "UNCLASSIFIED-REL-TO-" + NATO_LIST.replace(", ", "-")
    # ... but not with the unmarked warning, which is never cut: the list is named by its coalition
    assert marking_slug(f"UNCLASSIFIED//REL TO {NATO_LIST} + UNMARKED DATA PRESENT") == \
        "UNCLASSIFIED-REL-TO-NATO-UNMARKED-DATA-PRESENT"
    long = marking_slug("TOP SECRET//REL TO " + ", ".join(["ABC"] * 100) + " + UNMARKED DATA PRESENT")
    assert long.startswith("TOP-SECRET-REL-TO-ABC-") and long.endswith("-ETC-UNMARKED-DATA-PRESENT")
    assert len(long) <= 150


def test_alerts_carry_their_subjects_marking_so_an_export_with_them_is_marked(picture, tmp_path):
    # INC-KOS is UNCLASSIFIED//REL TO USA, GBR, FRA; track T1 is derived from REL TO NATO fixes.
    result = export(picture, View(window="24h", layers=("alerts",)), fmt="geojson", tmp_path=tmp_path)
    assert result.counts == {"alerts": 2}
    assert result.marking == "UNCLASSIFIED//REL TO FRA, GBR, USA"
    assert result.filename.endswith("_UNCLASSIFIED-REL-TO-FRA-GBR-USA.geojson")
    back = gpd.read_file(result.path).set_index("key")
    assert back.loc["proximity|INC-KOS", "marking"] == "UNCLASSIFIED//REL TO FRA, GBR, USA"
    assert back.loc["stale|T1", "marking"] == f"UNCLASSIFIED//REL TO {NATO_LIST}"
    # with the incidents, the highest marking of both
    both = export(picture, View(window="24h", layers=("incidents", "alerts")), fmt="geojson", tmp_path=tmp_path)
    assert both.marking == "UNCLASSIFIED//REL TO FRA, GBR, USA" and both.counts["alerts"] == 2


def test_unmarked_records_in_an_administrators_export_are_said_and_coloured(picture, tmp_path):
    from PIL import Image

    incidents = picture["incidents"].copy()
    incidents["marking"] = incidents["marking"].astype(object)
    incidents.loc[incidents["source_id"] == "INC-LOW", "marking"] = "SECRET"  # no REL TO: unreadable
    mixed = export({**picture, "incidents": incidents}, View(window="24h", layers=("incidents",)), fmt="geojson",
                   tmp_path=tmp_path)
    # PARIS (NATO), KOS (USA, GBR, FRA), FAR (UNCLASSIFIED) readable; LOW unreadable
    assert mixed.marking == "UNCLASSIFIED//REL TO FRA, GBR, USA + UNMARKED DATA PRESENT"
    assert mixed.filename.endswith("_UNCLASSIFIED-REL-TO-FRA-GBR-USA-UNMARKED-DATA-PRESENT.geojson")
    assert json.loads(mixed.path.read_text(encoding="utf-8"))["watchfloor"]["marking"] == mixed.marking
    only = incidents[incidents["source_id"] == "INC-LOW"]
    result = export({"incidents": only}, View(window="24h", layers=("incidents",)), fmt="png", tmp_path=tmp_path)
    assert result.marking == UNMARKED and result.filename.endswith("_UNMARKED-DATA-PRESENT.png")
    px = Image.open(result.path).convert("RGB")
    yellow = (255, 209, 0)  # BANNER_DEFAULT: nothing readable to colour by
    assert px.getpixel((5, 5)) == yellow and px.getpixel((5, px.size[1] - 5)) == yellow
