"""`watchfloor export -f cot`: a TAK data package that TAK opens and that comes back in whole.

The package is read as TAK reads it (the manifest, one .cot per record, parsed with lxml here, not
with the project's reader), then `watchfloor ingest auto` puts it into an empty store, where every
exported record is back with the same ids, times, markings and geometries.
"""

from __future__ import annotations

import zipfile

import pandas as pd
import pytest
import shapely
from lxml import etree

from layers.cli import main
from layers.export import selected_layers
from layers.export.cot import affiliation, unit_type
from layers.filters import View
from tests.support.exports import NOW, export

VIEW = View(window="24h", layers=("overlays", "deployments", "tracks", "incidents"))


@pytest.fixture(scope="module")
def package(picture, fixes, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cot")
    result = export(picture, VIEW, fmt="cot", tmp_path=tmp, track_points=fixes)
    return result, selected_layers(picture, VIEW, NOW, fixes)


def test_the_package_has_a_manifest_listing_one_cot_per_record(package):
    result, shown = package
    assert result.path.suffix == ".zip" and result.format == "cot"
    with zipfile.ZipFile(result.path) as zf:
        names = zf.namelist()
        root = etree.fromstring(zf.read("MANIFEST/manifest.xml"))
        events = {n: etree.fromstring(zf.read(n)) for n in names if n.endswith(".cot")}
    assert root.tag == "MissionPackageManifest" and root.get("version") == "2"
    params = {p.get("name"): p.get("value") for p in root.find("Configuration")}
    assert set(params) == {"uid", "name"} and params["name"].startswith("watchfloor_")
    listed = [c.get("zipEntry") for c in root.find("Contents")]
    assert sorted(listed) == sorted(n for n in names if n != "MANIFEST/manifest.xml")
    n_records = sum(len(shown[layer]) for layer in ("overlays", "deployments", "tracks", "incidents"))
    assert len(events) == n_records
    # counted and marked as written: no imagery or borders, one fix per track
    assert result.counts == {"overlays": 2, "deployments": 2, "tracks": 2, "incidents": 4, "track_points": 2}
    for name, ev in events.items():
        assert ev.tag == "event" and ev.get("stale") and ev.get("time") and ev.find("point") is not None
        assert name == f"{name.split('/')[0]}/{name.split('/')[0]}.cot"
        assert ev.find("detail/marking") is not None, name  # the record's marking travels with it
    by_uid = {ev.get("uid"): ev for ev in events.values()}
    gbr = by_uid["demo-deploy.GBR-1"]
    assert gbr.get("type") == "a-f-G-U-C-I"  # partner infantry: friendly ground combat infantry
    assert gbr.find("detail/__milsym").get("id") == "SFGPUCI----F---"  # battalion: echelon F
    fence = by_uid["fence-1"]
    assert fence.get("type") == "u-d-f" and fence.find("detail/__geofence").get("trigger") == "Entry"
    assert fence.find("detail/strokeColor").get("value") == str(0xFFFF0000 - (1 << 32))  # #FF0000FF: opaque red
    assert len(fence.findall("detail/link")) == 9  # 8 vertices and the closing one
    assert by_uid["route-1"].get("type") == "b-m-r"
    t1 = by_uid["T1"]
    assert t1.find("detail/contact").get("callsign") == "EAGLE 1"
    assert (t1.find("point").get("lon"), t1.find("point").get("lat")) == ("21.14", "42.62")  # its 5th fix


def test_unit_types_follow_the_sidc_affiliation():
    assert affiliation("SHGPUCI----D---") == "h" and affiliation("10061000001211000000") == "h"
    assert affiliation(None) == "f"
    assert unit_type({"unit_type": "medical", "echelon": "company", "symbol_code": "SNGPUSM----E---"}) == (
        "a-n-G-U-S-M", "SNGPUSM----E---")


def test_the_package_ingests_back_into_an_empty_store_as_the_same_records(package, tmp_path, monkeypatch, capsys):
    result, shown = package
    monkeypatch.setenv("WATCHFLOOR_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("WATCHFLOOR_STORE", raising=False)
    assert main(["ingest", "auto", "--source", "S", str(result.path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split(": ")[1] for line in out if ": " in line and not line.startswith("total")] == [
        "track_points", "incidents", "deployments", "overlays"]
    assert all(", 0 quarantined (" in line for line in out), out
    from ingest.store import open_store

    store = open_store()
    latest = shown["track_points"].sort_values("time").groupby("track_id").tail(1)
    expected = {"overlays": shown["overlays"], "deployments": shown["deployments"],
                "incidents": shown["incidents"], "track_points": latest}
    for layer, want in expected.items():
        got = store.read(layer)
        key = ["source", "source_id"]
        assert sorted(map(tuple, got[key].to_numpy())) == sorted(map(tuple, want[key].to_numpy())), layer
        got, want = got.set_index(key).sort_index(), want.set_index(key).sort_index()
        for col in [c for c in want.columns if c not in ("ingested_at", "geometry_fix")]:
            for k in want.index:
                w, g = want.loc[k, col], got.loc[k, col]
                if isinstance(w, shapely.Geometry):
                    assert shapely.hausdorff_distance(w, g) <= 1e-7, (layer, k, col)
                elif pd.isna(w):
                    assert pd.isna(g), (layer, k, col, g)
                elif isinstance(w, str):  # validate strips feed text at ingest, as it did the first time
                    assert g == w.strip(), (layer, k, col, g, w)
                else:
                    assert g == w, (layer, k, col, g, w)
    # into the same store again: nothing new
    assert main(["ingest", "auto", "--source", "S", str(result.path)]) == 0
    again = [line for line in capsys.readouterr().out.splitlines() if not line.startswith("total")]
    assert again and all("(0 new, 0 updated, " in line for line in again), again
