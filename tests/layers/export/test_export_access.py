"""Exports hold only what is releasable to the signed-in viewer, and are marked from exactly that.

A small store in its own WATCHFLOOR_HOME holds incidents, deployments, tracks with their fixes and
alerts whose markings cover every case of the model: plain UNCLASSIFIED, REL TO nations, a
coalition, ALL PARTNERS, NATO SECRET, REL TO NONE, lower-case spelling, and missing or garbled
markings. Who may see each record is written down by hand below (`RECORDS`, `ALERTS`), not asked
of layers.access, and every export is compared with it: through `watchfloor export` run as each
user (a real process, password on stdin) and through `export_bytes` as each viewer.

The rule the table follows (README, layers/access/policy.py): a readable marking is visible when the
viewer's clearance is at least its level and its REL TO list names the viewer's nation (or it is
releasable to all partners); a missing or unreadable one only to administrators; an alert only
when every record it names is visible, whoever is asking.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely

from ingest.markings import highest_marking
from ingest.store.delta import DeltaStore
from ingest.tracks import derive_tracks
from ingest.validate import validate
from layers.access import Viewer, restrict
from layers.access.errors import GENERIC_REFUSAL, NotPermitted
from layers.export import ExportError, export_bytes
from layers.filters import View

ROOT = Path(__file__).resolve().parents[3]
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
SINCE = NOW - timedelta(hours=24)
PASSWORD = "Tr0ub4dor&3 staple horse"  # searched for in every output: it must never be printed
LAYERS = ("incidents", "deployments", "tracks", "track_points", "alerts")
VIEW = View(window="custom", start=SINCE, end=NOW, layers=("incidents", "deployments", "tracks", "alerts"))

# username -> (nation, clearance, role)
USERS: dict[str, tuple[str, str, str]] = {
    "usa-analyst": ("USA", "SECRET", "analyst"),
    "fra-analyst": ("FRA", "RESTRICTED", "analyst"),
    "deu-admin": ("DEU", "SECRET", "administrator"),
    "gbr-analyst": ("GBR", "UNCLASSIFIED", "analyst"),
}
U, F, D, G = "usa-analyst", "fra-analyst", "deu-admin", "gbr-analyst"
EVERYONE = {U, F, D, G}
NATO_LIST = ("ALB, BEL, BGR, CAN, CZE, DEU, DNK, ESP, EST, FIN, FRA, GBR, GRC, HRV, HUN, ISL, ITA, LTU, LUX, "
             "LVA, MKD, MNE, NLD, NOR, POL, PRT, ROU, SVK, SVN, SWE, TUR, USA")

# (layer, source_id, marking, who may see it). MISSION = USA GBR FRA DEU ITA TUR POL
# (data/coalitions.default.toml). Track rows are derived from their fixes: the most restrictive
# combination of the fixes' markings.
RECORDS: list[tuple[str, str, str | None, set[str]]] = [
    ("incidents", "U-ALL", "UNCLASSIFIED", EVERYONE),
    ("incidents", "U-NATO", "UNCLASSIFIED//REL TO NATO", EVERYONE),
    ("incidents", "R-FRA-GBR", "RESTRICTED//REL TO FRA, GBR", {F}),  # GBR viewer: cleared too low
    ("incidents", "S-USA", "SECRET//REL TO USA", {U}),
    ("incidents", "S-USA-DEU", "SECRET//REL TO USA, DEU", {U, D}),
    ("incidents", "C-ALL-PARTNERS", "CONFIDENTIAL//REL TO ALL PARTNERS", {U, D}),
    ("incidents", "TS-ALL-PARTNERS", "TOP SECRET//REL TO ALL PARTNERS", set()),  # nobody is cleared TS
    ("incidents", "NATO-SECRET", "NATO SECRET", {U, D}),
    ("incidents", "R-MISSION", "RESTRICTED//REL TO MISSION", {U, F, D}),
    ("incidents", "r-fra-lower", "r//rel to  fra", {F}),  # any case, runs of spaces: still readable
    ("incidents", "U-NONE", "UNCLASSIFIED//REL TO NONE", set()),
    ("incidents", "MISSING", None, {D}),  # unmarked: administrators only
    ("incidents", "GARBLED-NOFORN", "SECRET//NOFORN", {D}),
    ("incidents", "GARBLED-COMMAS", "UNCLASSIFIED//REL TO USA,,GBR", {D}),
    ("incidents", "GARBLED-NO-REL", "SECRET", {D}),  # classified, releasability not stated
    ("deployments", "D-NATO", "UNCLASSIFIED//REL TO NATO", EVERYONE),
    ("deployments", "D-C-DEU", "CONFIDENTIAL//REL TO DEU", {D}),
    ("deployments", "D-EMPTY", "", {D}),
    ("deployments", "D-R-USA-FRA", "RESTRICTED//REL TO USA, FRA", {U, F}),
    ("track_points", "Y-0", "UNCLASSIFIED//REL TO NATO", EVERYONE),
    ("track_points", "Y-1", "UNCLASSIFIED//REL TO NATO", EVERYONE),
    ("track_points", "X-0", "UNCLASSIFIED//REL TO NATO", {U}),  # visible alone, but its track is not:
    ("track_points", "X-1", "SECRET//REL TO USA", {U}),  # only fixes of tracks on screen are exported
    ("tracks", "Y", None, EVERYONE),  # UNCLASSIFIED//REL TO NATO, as Y-0 and Y-1
    ("tracks", "X", None, {U}),  # SECRET//REL TO USA from
]
# Outside the 24 h window, so not exported itself; an alert names it.
OLD_INCIDENT = ("OLD-S-USA-DEU", "SECRET//REL TO USA, DEU")

# alert key -> (subjects, who may see it)
ALERTS: dict[str, tuple[str, set[str]]] = {
    "a-all": ('["incidents/feed/U-ALL"]', EVERYONE),
    "a-usa": ('["incidents/feed/S-USA", "incidents/feed/U-NATO"]', {U}),
    "a-old": ('["incidents/feed/OLD-S-USA-DEU"]', {U, D}),  # its record is outside the picture
    "a-missing": ('["incidents/feed/MISSING"]', {D}),
    "a-track-x": ('["tracks/derived/X"]', {U}),
    "a-ghost": ('["incidents/feed/NOT-IN-THE-STORE"]', set()),
    "a-bad-json": ("incidents/feed/U-ALL", set()),
    "a-empty": ("[]", set()),
}

# The highest marking of what each user's export holds, worked out by hand from the table:
# highest level, REL TO lists intersected, unreadable ones flagged.
EXPECTED_MARKING = {
    U: "SECRET//REL TO USA",  # NATO, USA, USA+DEU, MISSION, USA+FRA -> USA
    F: "RESTRICTED//REL TO FRA",  # NATO, FRA+GBR, MISSION, FRA, USA+FRA -> FRA
    D: "SECRET//REL TO DEU + UNMARKED DATA PRESENT",  # NATO, USA+DEU, MISSION, DEU -> DEU; 3+1 unmarked
    G: f"UNCLASSIFIED//REL TO {NATO_LIST}",  # NATO only
}
EXPECTED_SLUG = {
    U: "SECRET-REL-TO-USA",
    F: "RESTRICTED-REL-TO-FRA",
    D: "SECRET-REL-TO-DEU-UNMARKED-DATA-PRESENT",
    G: "UNCLASSIFIED-REL-TO-" + NATO_LIST.replace(", ", "-"),
}


def expected_ids(user: str) -> dict[str, set[str]]:
    """What `user` should find in an export of VIEW, by layer (source_id; key for alerts)."""
    out: dict[str, set[str]] = {name: set() for name in LAYERS}
    for layer, sid, _, who in RECORDS:
        if user in who:
            out[layer].add(sid)
    out["alerts"] = {key for key, (_, who) in ALERTS.items() if user in who}
    return out


def viewer(user: str) -> Viewer:
    nation, clearance, role = USERS[user]
    return Viewer(user, nation, clearance, role)


# --- the store ----------------------------------------------------------------------------------


def _valid(layer: str, rows: list[dict]) -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(rows, geometry=[r.pop("geometry") for r in rows], crs=4326)
    result = validate(frame, layer, source="feed", now=NOW)
    assert result.quarantined.empty, result.quarantined[["source_id", "reason", "detail"]].to_string()
    return result.valid


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """A WATCHFLOOR_HOME holding the store described by RECORDS and ALERTS, and the four users."""
    from layers.access import add_user

    home = tmp_path_factory.mktemp("access-home")
    store = DeltaStore(home / "store")
    incidents = [{"source_id": sid, "occurred_at": NOW - timedelta(hours=1 + i / 10), "category": "Flood",
                  "severity": "high", "status": "reported", "marking": marking,
                  "geometry": shapely.Point(21.0 + i * 0.01, 42.5)}
                 for i, (layer, sid, marking, _) in enumerate(RECORDS) if layer == "incidents"]
    incidents.append({"source_id": OLD_INCIDENT[0], "occurred_at": NOW - timedelta(days=3), "category": "Flood",
                      "severity": "high", "status": "reported", "marking": OLD_INCIDENT[1],
                      "geometry": shapely.Point(21.3, 42.4)})
    store.write("incidents", _valid("incidents", incidents))
    store.write("deployments", _valid("deployments", [
        {"source_id": sid, "nation": "GBR", "unit_name": sid, "reported_at": NOW - timedelta(hours=5),
         "marking": marking, "geometry": shapely.Point(21.1, 42.6 + i * 0.01)}
        for i, (layer, sid, marking, _) in enumerate(RECORDS) if layer == "deployments"]))
    fixes = _valid("track_points", [
        {"source_id": sid, "track_id": sid[0], "time": NOW - timedelta(minutes=30 - int(sid[2])),
         "marking": marking, "geometry": shapely.Point(21.2 + int(sid[2]) * 0.01, 42.7 if sid[0] == "X" else 42.8)}
        for layer, sid, marking, _ in RECORDS if layer == "track_points"])
    store.write("track_points", fixes)
    store.write("tracks", validate(derive_tracks(fixes), "tracks", now=NOW).valid)
    store.put_alerts(gpd.GeoDataFrame(
        {"rule": "test", "severity": "high", "time": [NOW - timedelta(minutes=10)] * len(ALERTS),
         "key": list(ALERTS), "subjects": [s for s, _ in ALERTS.values()], "message": list(ALERTS),
         "details": "{}"},
        geometry=[shapely.Point(21.0, 42.5)] * len(ALERTS), crs=4326), now=NOW)
    for user, (nation, clearance, role) in USERS.items():
        add_user(home / "users.toml", user, PASSWORD, nation=nation, clearance=clearance, role=role)
    # The alerts here are written by hand to test their releasability; coverage gaps and hot spots
    # (evaluated per viewer over what they see: tests/layers/test_need_to_know.py) would add their own.
    (home / "alerts.toml").write_text("[rules.coverage_gap]\nenabled = false\n[rules.hotspot]\nenabled = false\n")
    # roles decide what one may do: a viewer watches, it does not export
    add_user(home / "users.toml", "usa-viewer", PASSWORD, nation="USA", clearance="SECRET", role="viewer")
    return home


def test_the_store_holds_what_the_table_says(home):
    """Guards the fixture: markings reach the store as written, tracks carry their fixes' combination."""
    store = DeltaStore(home / "store")
    inc = store.read("incidents").set_index("source_id")["marking"]
    assert inc["R-FRA-GBR"] == "RESTRICTED//REL TO FRA, GBR" and pd.isna(inc["MISSING"])
    assert inc["GARBLED-COMMAS"] == "UNCLASSIFIED//REL TO USA,,GBR"
    tracks = store.read("tracks").set_index("source_id")["marking"]
    assert tracks["X"] == "SECRET//REL TO USA" and tracks["Y"] == "UNCLASSIFIED//REL TO NATO"
    assert len(store.alerts()) == len(ALERTS)


# --- through the command line ---------------------------------------------------------------------


def run_export(home: Path, out: Path, *args: str, password: str = PASSWORD) -> subprocess.CompletedProcess:
    """`watchfloor export` as a user runs it, the password on stdin."""
    env = {**os.environ, "WATCHFLOOR_HOME": str(home)}
    env.pop("WATCHFLOOR_STORE", None)
    out.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "layers.cli", "export", *args, "--password-stdin",
         "--since", SINCE.strftime("%Y-%m-%dT%H:%M:%SZ"), "--until", NOW.strftime("%Y-%m-%dT%H:%M:%SZ"),
         "--layers", ",".join(VIEW.layers), "--format", "gpkg", "-o", str(out)],
        cwd=ROOT, env=env, input=password + "\n", capture_output=True, text=True, timeout=300, check=False)


def read_gpkg(path: Path) -> tuple[dict[str, pd.DataFrame], dict]:
    """Each exported table (absent tables: empty) and the provenance stamped into the file."""
    tables = set(pyogrio.list_layers(path)[:, 0])
    frames = {name: pyogrio.read_dataframe(path, layer=name) if name in tables else pd.DataFrame()
              for name in LAYERS}
    first = next(n for n in LAYERS if n in tables)
    meta = json.loads(pyogrio.read_info(path, layer=first)["dataset_metadata"]["watchfloor"])
    return frames, meta


def exported_ids(frames: dict[str, pd.DataFrame]) -> dict[str, set[str]]:
    return {name: set(f["key" if name == "alerts" else "source_id"]) if len(f) else set()
            for name, f in frames.items()}


def exported_markings(frames: dict[str, pd.DataFrame]) -> list[object]:
    return [m for f in frames.values() if len(f) for m in f["marking"].tolist()]


@pytest.mark.parametrize("user", sorted(USERS))
def test_cli_exports_only_what_the_user_may_see(home, tmp_path, user):
    run = run_export(home, tmp_path / "out", "--user", user)
    assert run.returncode == 0, run.stderr
    assert PASSWORD not in run.stdout + run.stderr
    files = list((tmp_path / "out").iterdir())
    assert len(files) == 1, files
    path = files[0]
    frames, meta = read_gpkg(path)
    assert exported_ids(frames) == expected_ids(user)
    # the marking in the name, the metadata and the summary line: the highest of exactly these records
    assert highest_marking(exported_markings(frames)) == EXPECTED_MARKING[user]
    assert meta["marking"] == EXPECTED_MARKING[user]
    assert path.name == ("watchfloor_incidents-deployments-tracks-alerts-track_points_20261121T1200Z_"
                         f"{EXPECTED_SLUG[user]}.gpkg")
    assert f"marking {EXPECTED_MARKING[user]}; as {user} ({USERS[user][0]}, {USERS[user][1]})" in run.stdout
    # each alert is marked with what its records add up to (an unmarked record: says so, never REL TO NONE)
    alerts = frames["alerts"].set_index("key")["marking"] if len(frames["alerts"]) else pd.Series(dtype=object)
    want = {"a-all": "UNCLASSIFIED", "a-usa": "SECRET//REL TO USA", "a-old": "SECRET//REL TO DEU, USA",
            "a-missing": "UNMARKED DATA PRESENT", "a-track-x": "SECRET//REL TO USA"}
    for key, marking in alerts.items():
        assert (None if pd.isna(marking) else marking) == want[key], key


@pytest.mark.parametrize(("user", "password"), [
    ("usa-analyst", "wrong password, long enough"),  # a real user, a wrong password
    ("nobody-here", PASSWORD),  # no such user, a password that is someone's
    ("fra-analyst", ""),  # nothing on stdin
])
def test_cli_refuses_a_failed_sign_in_with_status_2_and_no_file(home, tmp_path, user, password):
    out = tmp_path / "out"
    run = run_export(home, out, "--user", user, password=password)
    assert run.returncode == 2
    assert list(out.iterdir()) == []
    # the public message only: the same whether the user exists or not, and no password
    assert run.stderr.strip() == f"error: {GENERIC_REFUSAL}"
    assert run.stdout == ""
    if password:
        assert password not in run.stderr


def test_a_viewer_role_may_not_export_from_the_cli_or_the_api(home, tmp_path, loaded):
    out = tmp_path / "out"
    run = run_export(home, out, "--user", "usa-viewer")
    assert run.returncode == 2 and list(out.iterdir()) == []
    assert run.stderr.strip() == "error: Not permitted: export needs the analyst or administrator role."
    picture, _, points = loaded
    with pytest.raises(NotPermitted):
        export_bytes(picture, VIEW, viewer=Viewer("usa-viewer", "USA", "SECRET", "viewer"), fmt="geojson",
                     now=NOW, track_points=points)


def test_cli_without_a_user_or_an_account_exports_nothing(home, tmp_path):
    env = {**os.environ, "WATCHFLOOR_HOME": str(home)}
    env.pop("WATCHFLOOR_STORE", None)
    no_user = subprocess.run([sys.executable, "-m", "layers.cli", "export", "-f", "gpkg", "-o", str(tmp_path)],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert no_user.returncode == 2 and "--user" in no_user.stderr
    # a home with a store but no users file: nobody can sign in, so no password is asked for
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "store").symlink_to(home / "store")
    run = run_export(bare, tmp_path / "out", "--user", "usa-analyst")
    assert run.returncode == 2 and "users.toml" in run.stderr and "no accounts" in run.stderr
    assert list((tmp_path / "out").iterdir()) == [] and PASSWORD not in run.stderr


# --- through the API ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def loaded(home):
    """The picture, alerts, extra subjects and track points as the CLI and the dashboard read them."""
    from layers.picture import Window, load_picture, operational_bounds, subject_markings

    store = DeltaStore(home / "store")
    picture = load_picture(store, Window(SINCE, NOW), operational_bounds(store))
    alerts = store.alerts(since=SINCE)
    extra = subject_markings(store, alerts, picture)
    assert set(extra) == {"incidents/feed/OLD-S-USA-DEU"}  # the one subject outside the picture
    points = store.read("track_points", start=SINCE, end=NOW)
    return {**picture, "alerts": alerts}, extra, points


def read_geojson_bytes(data: bytes, counts: dict[str, int]) -> tuple[dict[str, set[str]], list[object], set[str]]:
    """ids by layer, every record's marking and the provenance markings of a GeoJSON export."""
    docs: dict[str, dict] = {}
    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            docs = {n.removesuffix(".geojson"): json.loads(zf.read(n)) for n in zf.namelist() if n.endswith(".geojson")}
    else:
        (only,) = [n for n, c in counts.items() if c]
        docs = {only: json.loads(data)}
    ids = {name: set() for name in LAYERS}
    markings: list[object] = []
    stamped = set()
    for name, doc in docs.items():
        for f in doc["features"]:
            ids[name].add(f["properties"]["key" if name == "alerts" else "source_id"])
            markings.append(f["properties"].get("marking"))
        stamped.add(doc["watchfloor"]["marking"])
    return ids, markings, stamped


@pytest.mark.parametrize("user", sorted(USERS))
def test_export_bytes_holds_only_what_the_viewer_may_see(loaded, user):
    picture, extra, points = loaded
    r = export_bytes(picture, VIEW, viewer=viewer(user), fmt="geojson", now=NOW, track_points=points,
                     extra_subjects=extra)
    ids, markings, stamped = read_geojson_bytes(r.data, dict(r.counts))
    assert ids == expected_ids(user)
    assert {k: v for k, v in r.counts.items() if v} == {k: len(v) for k, v in expected_ids(user).items() if v}
    assert highest_marking(markings) == r.marking == EXPECTED_MARKING[user]
    assert stamped == {EXPECTED_MARKING[user]}
    assert r.filename.endswith(f"_{EXPECTED_SLUG[user]}.geojson.zip")


def test_a_careless_callers_full_picture_is_still_restricted(loaded):
    """The whole picture, extra fixes nobody asked for, no extra_subjects: FRA still gets FRA's share."""
    picture, _, points = loaded
    # a USA-only fix on track Y, which FRA sees: passed by the caller, it must not be written
    stray = points[points["source_id"] == "Y-1"].copy()
    stray["source_id"], stray["marking"] = "Y-SECRET", "SECRET//REL TO USA"
    stray["time"] = stray["time"] + pd.Timedelta(seconds=1)
    fra = viewer(F)
    r = export_bytes(picture, VIEW, viewer=fra, fmt="geojson", now=NOW,
                     track_points=pd.concat([points, stray], ignore_index=True))
    ids, _, _ = read_geojson_bytes(r.data, dict(r.counts))
    assert ids == expected_ids(F) and "Y-SECRET" not in ids["track_points"]
    assert r.marking == EXPECTED_MARKING[F]
    # a picture already restricted (for someone else, or for FRA) is restricted again, losing nothing
    for restricted_for in (viewer(D), fra):
        shown = restrict(picture, restricted_for)
        r2 = export_bytes(shown, VIEW, viewer=fra, fmt="geojson", now=NOW, track_points=points)
        ids2, _, _ = read_geojson_bytes(r2.data, dict(r2.counts))
        both = {name: {i for i in expected_ids(F)[name] if i in expected_ids(restricted_for.username)[name]}
                for name in LAYERS}
        assert ids2 == both, restricted_for.username
    # nothing releasable in what was passed: an error, never an empty or unrestricted file
    usa_only = picture["incidents"][picture["incidents"]["source_id"] == "S-USA"]
    with pytest.raises(ExportError, match="nothing to export"):
        export_bytes({"incidents": usa_only}, View(window="custom", start=SINCE, end=NOW, layers=("incidents",)),
                     viewer=fra, fmt="geojson", now=NOW)


def test_an_export_needs_a_viewer(loaded):
    picture, _, _ = loaded
    with pytest.raises(TypeError, match="viewer"):
        export_bytes(picture, VIEW, fmt="geojson", now=NOW)  # type: ignore[call-arg]
    with pytest.raises(ExportError, match="expected the signed-in viewer"):
        export_bytes(picture, VIEW, viewer=None, fmt="geojson", now=NOW)  # type: ignore[arg-type]
