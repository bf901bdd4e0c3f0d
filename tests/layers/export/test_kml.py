"""KML and KMZ exports (layers/export/kml.py): GDAL opens them; styled, timed, escaped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile

import defusedxml.ElementTree as DET
import pandas as pd

from layers import style
from layers.export import (
    selected_layers,
)
from layers.export.kml import kml_colour
from layers.filters import View
from tests.support.exports import KML_NS, MARKED_VIEW, NOW, XSS, export


def test_kml_opens_with_gdals_kml_driver(picture, fixes, tmp_path):
    """The plain KML driver (not LIBKML): what older tools and GDAL builds without libkml read."""
    result = export(picture, MARKED_VIEW, fmt="kml", tmp_path=tmp_path, track_points=fixes)
    script = (
        "import json, sys, pyogrio\n"
        "p = sys.argv[1]\n"
        "info = pyogrio.read_info(p, layer='incidents')\n"
        "out = {'driver': info['driver'], 'layers': {}}\n"
        "for name in pyogrio.list_layers(p)[:, 0]:\n"
        "    f = pyogrio.read_dataframe(p, layer=name)\n"
        "    out['layers'][name] = [[g.geom_type, g.representative_point().x, g.representative_point().y, n]\n"
        "                           for g, n in zip(f.geometry, f['Name'])]\n"
        "print(json.dumps(out))\n")
    env = {**os.environ, "OGR_SKIP": "LIBKML"}
    run = subprocess.run([sys.executable, "-c", script, str(result.path)], env=env, capture_output=True, text=True,
                         timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout)
    assert got["driver"] == "KML"
    shown = selected_layers(picture, MARKED_VIEW, NOW, fixes)
    for layer in ("incidents", "imagery", "deployments", "infrastructure", "places", "borders", "disputed_areas"):
        assert len(got["layers"][layer]) == len(shown[layer]), layer
    # gx:Track is beyond the KML driver; the paths folder gives it the tracks all the same
    assert len(got["layers"]["tracks_path"]) == len(shown["tracks"])
    paris = [r for r in got["layers"]["incidents"] if r[0] == "Point" and abs(r[1] - 2.35) < 1e-9]
    assert paris and abs(paris[0][2] - 48.85) < 1e-9


def test_kml_is_styled_timed_and_escaped(picture, fixes, tmp_path):
    result = export(picture, MARKED_VIEW, fmt="kml", tmp_path=tmp_path, track_points=fixes)
    raw = result.path.read_text(encoding="utf-8")
    root = DET.fromstring(raw.encode("utf-8"))  # well-formed, no entities
    doc = root.find("k:Document", KML_NS)
    # styles from layers/style.py, KML's aabbggrr
    styles = {s.get("id"): s for s in doc.findall("k:Style", KML_NS)}
    for sev, rgba in style.SEVERITY.items():
        assert styles[f"incidents-{sev}"].find("k:IconStyle/k:color", KML_NS).text == kml_colour(rgba)
    assert kml_colour([235, 50, 40, 230]) == "e62832eb"
    folders = {f.find("k:name", KML_NS).text: f for f in doc.findall("k:Folder", KML_NS)}
    paris = next(p for p in folders["incidents"].findall("k:Placemark", KML_NS)
                 if "INC-PARIS" in DET.tostring(p, encoding="unicode"))
    assert paris.find("k:styleUrl", KML_NS).text == "#incidents-high"
    assert paris.find("k:TimeStamp/k:when", KML_NS).text == "2026-11-21T11:30:00.123456Z"
    assert paris.find("k:Point/k:coordinates", KML_NS).text == "2.35,48.85"
    # imagery has a TimeStamp too; each track is a gx:Track, one <when> per fix in the window
    scene = folders["imagery"].find("k:Placemark", KML_NS)
    assert scene.find("k:TimeStamp/k:when", KML_NS).text == "2026-11-21T09:45:00Z"
    tracks = folders["tracks"].findall("k:Placemark", KML_NS)
    t1 = next(p for p in tracks if p.find("k:name", KML_NS).text == "EAGLE 1")
    gx = t1.find("gx:Track", KML_NS)
    whens = [w.text for w in gx.findall("k:when", KML_NS)]
    coords = [c.text for c in gx.findall("gx:coord", KML_NS)]
    assert len(whens) == len(coords) == 5 and whens == sorted(whens)
    assert coords[0] == "21.1 42.6 -12.5"
    # feed text is escaped twice in the balloon (HTML inside XML), so no live markup reaches Google Earth
    balloon = paris.find("k:description", KML_NS).text
    assert "<img" not in balloon and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in balloon
    assert "<img" not in raw.replace("&lt;img", "")
    data = {d.get("name"): d.find("k:value", KML_NS).text for d in paris.findall("k:ExtendedData/k:Data", KML_NS)}
    assert data["description"] == XSS and data["marking"] == "UNCLASSIFIED//REL TO NATO"
    assert "\x01" not in raw  # XML 1.0 cannot carry control characters: removed


def test_kml_tracks_without_fixes_take_times_from_the_path(picture, tmp_path):
    result = export(picture, View(window="24h", layers=("tracks",)), fmt="kml", tmp_path=tmp_path)
    root = DET.fromstring(result.path.read_bytes())
    track = next(p for p in root.iter(f"{{{KML_NS['k']}}}Placemark")
                 if p.find("k:name", KML_NS).text == "EAGLE 1" and p.find("gx:Track", KML_NS) is not None)
    whens = [w.text for w in track.find("gx:Track", KML_NS).findall("k:when", KML_NS)]
    first, last = picture["tracks"].set_index("track_id").loc["T1", ["first_seen", "last_seen"]]
    assert pd.Timestamp(whens[0]) == first and pd.Timestamp(whens[-1]) == last and len(whens) == 5


def test_kmz_holds_doc_kml_first_and_its_icon(picture, tmp_path):
    result = export(picture, MARKED_VIEW, fmt="kmz", tmp_path=tmp_path)
    with zipfile.ZipFile(result.path) as zf:
        names = zf.namelist()
        assert names[0] == "doc.kml" and "files/dot.png" in names
        assert zf.read("files/dot.png").startswith(b"\x89PNG")
        assert all(i.file_size < 2**31 for i in zf.infolist())


def test_each_folder_of_records_names_its_layer_and_schema(picture, fixes, tmp_path):
    """How `watchfloor ingest auto` maps a KML back to layers: Schemas before the folders (KML 2.2's
    order), and every folder of records names its layer and Schema; the gx:Track folder names none."""
    result = export(picture, MARKED_VIEW, fmt="kml", tmp_path=tmp_path, track_points=fixes)
    doc = DET.fromstring(result.path.read_bytes()).find("k:Document", KML_NS)
    children = [c.tag.split("}")[1] for c in doc]
    assert children.index("ExtendedData") < children.index("Schema")
    assert max(i for i, t in enumerate(children) if t == "Schema") < children.index("Folder")
    schemas = {s.get("id"): s for s in doc.findall("k:Schema", KML_NS)}
    assert schemas["watchfloor-incidents"].get("name") == "incidents"
    fields = {f.get("name"): f.get("type") for f in schemas["watchfloor-incidents"].findall("k:SimpleField", KML_NS)}
    assert fields["occurred_at"] == "string" and fields["fatalities"] == "int" and fields["marking"] == "string"
    assert {f.get("name"): f.get("type") for f in schemas["watchfloor-track_points"]}["speed_mps"] == "double"
    named = {}
    for folder in doc.findall("k:Folder", KML_NS):
        data = {d.get("name"): d.find("k:value", KML_NS).text for d in folder.findall("k:ExtendedData/k:Data", KML_NS)}
        named[folder.find("k:name", KML_NS).text] = (data.get("watchfloor:layer"), data.get("watchfloor:column"),
                                                     data.get("watchfloor:schema"))
    assert named["incidents"] == ("incidents", None, "#watchfloor-incidents")
    assert named["tracks"] == (None, None, None)  # for viewers
    assert named["tracks_path"] == ("tracks", None, "#watchfloor-tracks")
    assert named["deployments_area"] == ("deployments", "area", "#watchfloor-deployments")
    assert named["track_points"] == ("track_points", None, "#watchfloor-track_points")
    points = next(f for f in doc.findall("k:Folder", KML_NS) if f.find("k:name", KML_NS).text == "track_points")
    assert points.find("k:visibility", KML_NS).text == "0"  # the gx:Tracks draw the fixes already
    assert len(points.findall("k:Placemark", KML_NS)) == result.counts["track_points"]
