"""OpenStreetMap .osm.pbf/.osm through GDAL (ingest/adapters/osm.py), checked against osmium-tool's numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely

from ingest import reasons
from ingest.adapters.osm import capacity_mw, classify, read_osm
from ingest.errors import HostileInputError, UnreadableInputError
from tests.ingest.adapters.conftest import DATA, SRC, by_id, is_null, xy

# rasterio.transform.from_origin still uses Affine's `*`, which affine 3 deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:Use `@` matmul:PendingDeprecationWarning")


def test_osm_real_pbf_helsinki() -> None:
    res = read_osm(DATA / "osm/Helsinki.osm.pbf", source=SRC)
    assert (len(res.frame), len(res.rejected)) == (10, 0)
    kinds = res.frame.kind.value_counts().to_dict()
    assert kinds == {"government": 7, "communications": 1, "bridge": 1, "restricted_zone": 1}
    rows = by_id(res.frame)
    # Checked with osmium-tool (`osmium cat Helsinki.osm.pbf -f osm`): node 4544347110
    # lat="60.1690855" lon="24.9490548", office=government, name Ympäristöministeriö.
    env = rows["node/4544347110"]
    assert env["name"] == "Ympäristöministeriö"
    assert xy(env.geometry) == pytest.approx((24.9490548, 60.1690855), abs=1e-9)
    # node 1682211174: man_made=mast with communication:mobile_phone=yes, no name.
    mast = rows["node/1682211174"]
    assert mast.kind == "communications"
    assert mast["name"] == "unnamed communications (OSM node 1682211174)"
    assert xy(mast.geometry) == pytest.approx((24.9468685, 60.1650731), abs=1e-9)
    # way 37380562 landuse=military (Kaartin kasarmi) lists 28 nodes, but the extract is
    # clipped: only these 7 are in the file (osmium), so GDAL's ring is them, closed.
    barracks = rows["way/37380562"]
    assert (barracks.kind, barracks["name"]) == ("restricted_zone", "Kaartin kasarmi")
    ring = list(barracks.geometry.geoms[0].exterior.coords)
    present = [
        (24.9496518, 60.1647089),
        (24.9496678, 60.1645389),
        (24.9496912, 60.1644635),
        (24.9480866, 60.1644304),
        (24.9480799, 60.1645015),
        (24.9480614, 60.1646723),
        (24.9488649, 60.1646908),
        (24.9496518, 60.1647089),
    ]
    assert np.allclose(ring, present, atol=1e-9) or np.allclose(ring, present[::-1], atol=1e-9)
    assert rows["way/34140075"].kind == "bridge"  # a closed way: an area only with our osmconf


def test_osm_every_tag_rule() -> None:
    res = read_osm(DATA / "osm/facilities.osm", source=SRC)
    assert (len(res.frame), len(res.rejected), res.records_read) == (13, 1, 14)
    rows = by_id(res.frame)
    assert {k: rows[k].kind for k in rows} == {
        "node/1": "airport",
        "node/2": "heliport",
        "node/3": "hospital",
        "node/4": "border_crossing",
        "node/5": "communications",
        "node/6": "fuel",
        "node/7": "government",
        "node/10": "restricted_zone",
        "node/11": "water",
        "way/1001": "power_plant",
        "way/1002": "restricted_zone",
        "way/1003": "dam",
        "way/1004": "power_plant",
    }  # node 8 (a flag mast) and node 9 (a cafe) are not infrastructure
    apt = rows["node/1"]
    assert (apt["name"], apt.subkind, apt.code) == (
        "Pristina International Airport",
        "international",
        "BKPR",
    )
    assert xy(apt.geometry) == (21.0358, 42.5728)
    assert rows["node/5"]["name"] == "Vala"  # operator when there is no name
    assert (rows["node/6"]["name"], rows["node/6"].country_code) == ("Petrol", "XK")
    assert rows["node/10"].subkind == "checkpoint"
    plant = rows["way/1001"]
    assert (plant.subkind, plant.capacity) == ("coal", 678.0)
    assert shapely.normalize(plant.geometry).equals(
        shapely.normalize(shapely.MultiPolygon([shapely.box(21.030, 42.684, 21.046, 42.694)]))
    )
    assert is_null(rows["way/1004"].capacity)  # plant:output:electricity=yes
    (rej,) = res.rejected.itertuples()
    assert (rej.source_id, rej.reason) == ("way/1005", reasons.MALFORMED_RECORD)


def test_osm_rules_and_capacity() -> None:
    assert classify({"harbour": "yes"})[0] == "port"
    assert classify({"harbour": "no"}) is None
    assert (
        classify({"industrial": "port"})[0] == "port" and classify({"landuse": "port"})[0] == "port"
    )
    assert classify({"aeroway": "heliport"})[0] == "heliport"
    assert classify({"man_made": "reservoir_covered"})[0] == "water"
    assert classify({"man_made": "tower", "tower:type": "communication"})[0] == "communications"
    assert classify({"man_made": "tower", "tower:type": "observation"}) is None
    assert classify({"military": "barracks"}) == ("restricted_zone", "barracks", None)
    assert classify({"aeroway": "aerodrome", "iata": "PRN"}) == ("airport", None, "PRN")
    assert capacity_mw("30 MW") == 30.0 and capacity_mw("500 kW") == 0.5
    assert capacity_mw("0,4 GW") == 400.0 and capacity_mw("12") == 12.0
    assert capacity_mw("yes") is None and capacity_mw(None) is None


def test_osm_hostile_and_unreadable(tmp_path: Path) -> None:
    dtd = tmp_path / "bad.osm"
    dtd.write_text(
        '<?xml version="1.0"?><!DOCTYPE osm [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        '<osm version="0.6"><node id="1" lat="1" lon="1"><tag k="amenity" v="fuel"/>'
        '<tag k="name" v="&x;"/></node></osm>'
    )
    with pytest.raises(HostileInputError, match="DOCTYPE"):
        read_osm(dtd, source=SRC)
    vrt = tmp_path / "extract.osm.pbf"
    vrt.write_bytes((DATA / "hostile/passwd_vrt.tif").read_bytes())
    with pytest.raises(HostileInputError, match="VRTDataset"):
        read_osm(vrt, source=SRC)
    junk = tmp_path / "junk.osm.pbf"
    junk.write_bytes(b"\x00\x01 not a pbf")
    with pytest.raises(UnreadableInputError):
        read_osm(junk, source=SRC)
