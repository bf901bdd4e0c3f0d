"""Need-to-know in the database (migration 0005): a dashboard's reader login, with plain SQL, sees
exactly what layers/access/policy.py lets a viewer of its nation and clearance see; a writer cannot
touch the policies; accounts and wall displays are shared, and a revocation made by one process is
refused by another on its next refresh.

Real PostGIS (WATCHFLOOR_TEST_POSTGRES), a schema per test; the login roles are cluster-wide, so
each test makes its own (unique names) and drops them afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import pytest
import shapely

from ingest.schema import LAYERS
from ingest.store.postgis import PostGISStore, connect, upgrade
from ingest.store.roles import add_login, drop_login, scope
from layers.access import DisabledUser, KioskRefused, Viewer, check_session, restrict, start_session
from layers.access.directory import DatabaseDirectory
from tests.support.oracle import BAD, VIEWERS, gen_marking

pytestmark = pytest.mark.postgis

ROOT = Path(__file__).resolve().parents[3]
T0 = pd.Timestamp("2026-11-21T08:00:00Z")
# The markings every layer gets besides the generated ones: unmarked, unreadable, groups.
FIXED = [None, "", "SECRET", "UNCLASSIFIED", "UNCLASSIFIED//REL TO ALL PARTNERS", "RESTRICTED//REL TO NATO",
         "CONFIDENTIAL//REL TO NORDIC", "SECRET//REL TO USA, GBR", "RESTRICTED//REL TO NONE", "NATO RESTRICTED",
         "TOP SECRET//REL TO UKR", "UNCLASSIFIED//REL TO XKX, EU"]


def _value(kind: str, i: int) -> object:
    return {"str": f"v{i}", "float": float(i), "int": i, "bool": False, "time": T0 + pd.Timedelta(minutes=i),
            "geometry": None}[kind]


def _frame(layer: str, markings: list[object]) -> gpd.GeoDataFrame:
    """One record per marking, every column filled (the store writes conformed frames)."""
    ls = LAYERS[layer]
    n = len(markings)
    data: dict[str, object] = {c.name: [_value(c.kind, i) for i in range(n)] for c in ls.all_columns}
    data["source"] = ["test"] * n
    data["source_id"] = [f"{layer}-{i}" for i in range(n)]
    data["marking"] = pd.Series(markings, dtype=object)
    if "Point" in ls.geometry_types:
        geoms = [shapely.Point(20 + i * 0.01, 42) for i in range(n)]
    elif "LineString" in ls.geometry_types:
        geoms = [shapely.LineString([(20, 42), (20.1, 42 + i * 0.01)]) for i in range(n)]
    else:
        geoms = [shapely.box(20, 42, 20.1 + i * 0.01, 42.1) for i in range(n)]
    return gpd.GeoDataFrame(data, geometry=geoms, crs="EPSG:4326")


def _reader_url(url: str, login: str) -> str:
    """The test database's URL as another login (the test cluster trusts local logins)."""
    assert url.startswith("postgresql://postgres@"), url
    return url.replace("postgresql://postgres@", f"postgresql://{login}:unused-pw@", 1)


@pytest.fixture
def logins(postgis_url):
    """Make logins (kind, scope) with unique names; drop them afterwards."""
    made: list[str] = []

    def make(kind: str, reader_scope=None) -> str:
        name = f"wf_t_{kind}_{uuid.uuid4().hex[:10]}"
        with connect(postgis_url) as conn:
            add_login(conn, kind, name, "unused-pw", reader_scope=reader_scope)
        made.append(name)
        return name

    yield make
    with connect(postgis_url) as conn:
        for name in made:
            try:
                drop_login(conn, name)
            except psycopg.Error:
                conn.execute(f'DROP OWNED BY "{name}"')  # a test left something behind
                drop_login(conn, name)


@pytest.fixture
def world(postgis_url):
    """Every layer with records of every kind of marking, alerts over them, feeds, a quarantine."""
    upgrade(postgis_url)
    store = PostGISStore(postgis_url)
    rng = np.random.default_rng(16)
    for layer in LAYERS:
        generated = [gen_marking(rng, all_partners=True)[0] for _ in range(25)]
        store.write(layer, _frame(layer, FIXED + generated + BAD[:6]))
    picture = {layer: store.read(layer) for layer in LAYERS}
    # alerts: one per incident (its only subject), pairs across layers, and ones no one may see
    keys = [f"incidents/test/incidents-{i}" for i in range(len(picture["incidents"]))]
    subjects = [[k] for k in keys] + [[keys[i], f"places/test/places-{i}"] for i in range(len(keys))]
    subjects += [[], ["incidents/test/nope"], ["nolayer/test/x"]]
    texts = [json.dumps(s) for s in subjects] + ["not json", '{"a": 1}', "[1, 2]"]
    findings = gpd.GeoDataFrame({"key": [f"k{i}" for i in range(len(texts))], "rule": "test", "severity": "high",
                                 "time": T0, "subjects": texts, "message": "m", "details": "{}"},
                                geometry=[shapely.Point(20, 42)] * len(texts), crs="EPSG:4326")
    store.put_alerts(findings, now=T0)
    from ingest.store.base import FeedStatus

    for i, marking in enumerate(FIXED):
        store.put_feed_status(FeedStatus(feed=f"feed-{i}", kind="http", state="ok", marking=marking))
    store.quarantine(pd.DataFrame({"layer": ["incidents"], "source": ["x"], "source_id": ["1"], "reason": ["r"],
                                   "detail": ["d"], "raw": ["{}"], "quarantined_at": [T0]}))
    picture["alerts"] = store.alerts()
    yield store, picture
    store.close()


def _ids(url: str, table: str, column: str = "source_id") -> set[str]:
    with connect(url) as conn:
        return {r[0] for r in conn.execute(f'SELECT "{column}" FROM {table}')}


def test_a_reader_sees_with_plain_sql_exactly_what_its_viewers_dashboard_shows(postgis_url, world, logins):
    store, picture = world
    for ov in VIEWERS:
        viewer = ov.viewer()
        login = logins("reader", scope(viewer.nation, viewer.clearance, viewer.is_admin))
        url = _reader_url(postgis_url, login)
        shown = restrict(picture, viewer)
        for layer in LAYERS:
            expected = set(shown[layer]["source_id"])
            assert _ids(url, layer) == expected, (ov, layer)
            assert expected != set(picture[layer]["source_id"]) or viewer.is_admin  # nobody else sees all
        assert _ids(url, "watchfloor_alerts", "key") == set(shown["alerts"]["key"]), ov
        feeds = store.feed_status()
        from layers.access import may_see

        assert _ids(url, "watchfloor_feeds", "feed") == {f for f, m in zip(feeds["feed"], feeds["marking"])
                                                          if may_see(None if pd.isna(m) else m, viewer)}, ov
        assert len(_ids(url, "watchfloor_quarantine", "qkey")) == (1 if viewer.is_admin else 0), ov
        # the store opened with the reader's credential reads the same rows
        as_reader = PostGISStore(url)
        assert set(as_reader.read("incidents")["source_id"]) == set(shown["incidents"]["source_id"])
        as_reader.close()


def test_the_hand_checked_cases(postgis_url, world, logins):
    """Independent of policy.py: a FRA RESTRICTED dashboard and a USA SECRET administrators' one."""
    fra = _reader_url(postgis_url, logins("reader", scope("FRA", "RESTRICTED")))
    usa = _reader_url(postgis_url, logins("reader", scope("usa", "s", administrators=True)))
    fixed = {f"places-{i}": m for i, m in enumerate(FIXED)}
    seen_fra = {fixed[s] for s in _ids(fra, "places") & fixed.keys()}
    assert seen_fra == {"UNCLASSIFIED", "UNCLASSIFIED//REL TO ALL PARTNERS", "RESTRICTED//REL TO NATO",
                        "NATO RESTRICTED", "UNCLASSIFIED//REL TO XKX, EU"}
    seen_usa = {fixed[s] for s in _ids(usa, "places") & fixed.keys()}
    assert seen_usa == {None, "", "SECRET", "UNCLASSIFIED", "UNCLASSIFIED//REL TO ALL PARTNERS",
                        "RESTRICTED//REL TO NATO", "SECRET//REL TO USA, GBR", "NATO RESTRICTED"}
    with connect(postgis_url) as conn:  # a reader login without a scope row sees nothing
        conn.execute("DELETE FROM watchfloor_reader_scopes WHERE role_name = %s", (fra.split("//")[1].split(":")[0],))
    assert _ids(fra, "places") == set() and _ids(fra, "watchfloor_alerts", "key") == set()


def test_a_reader_cannot_widen_its_scope_or_write_records(postgis_url, world, logins):
    login = logins("reader", scope("GBR", "RESTRICTED"))
    other = logins("reader", scope("USA", "TOP SECRET", administrators=True))
    with connect(_reader_url(postgis_url, login)) as conn:
        rows = conn.execute("SELECT role_name FROM watchfloor_reader_scopes").fetchall()
        assert rows == [(login,)]  # its own scope only, not the others'
        for stmt in ("UPDATE watchfloor_reader_scopes SET level = 4",
                     f"INSERT INTO watchfloor_reader_scopes VALUES ('{login}x', 'GBR', 'TOP SECRET', 4, true)",
                     "UPDATE places SET marking = 'UNCLASSIFIED'", "DELETE FROM incidents",
                     "ALTER TABLE places DISABLE ROW LEVEL SECURITY", "DROP POLICY reader_scope ON places",
                     f"SET ROLE {other}", "UPDATE watchfloor_users SET disabled = false"):
            with pytest.raises(psycopg.Error):
                conn.execute(stmt)
        conn.execute("SET ROLE watchfloor_reader")  # a member may become the group: it has no scope at all
        assert conn.execute("SELECT count(*) FROM places").fetchone()[0] == 0


def test_a_writer_writes_every_record_but_cannot_alter_the_policies(postgis_url, world, logins):
    url = _reader_url(postgis_url, logins("writer"))
    writer = PostGISStore(url)
    report = writer.write("incidents", _frame("incidents", ["SECRET//REL TO USA"]).assign(source="w"))
    assert report.inserted == 1
    assert len(writer.read("incidents")) == len(world[1]["incidents"]) + 1  # everything, unfiltered
    writer.close()
    with connect(url) as conn:
        for stmt in ("ALTER TABLE incidents DISABLE ROW LEVEL SECURITY", "DROP POLICY reader_scope ON incidents",
                     "ALTER POLICY reader_scope ON incidents USING (true)",
                     "CREATE POLICY mine ON incidents FOR SELECT TO watchfloor_reader USING (true)",
                     "ALTER TABLE incidents NO FORCE ROW LEVEL SECURITY",
                     "SELECT * FROM watchfloor_reader_scopes",
                     "UPDATE watchfloor_reader_scopes SET level = 4",
                     ("CREATE OR REPLACE FUNCTION watchfloor_subjects_visible(subjects text) RETURNS boolean "
                      "LANGUAGE sql AS 'SELECT true'"),
                     "UPDATE watchfloor_users SET disabled = false",
                     "GRANT watchfloor_owner TO CURRENT_USER"):
            with pytest.raises(psycopg.Error):
                conn.execute(stmt)


def test_upgrade_derives_the_marking_columns_of_rows_written_before(postgis_url, world, logins):
    """Rows from before 0005 (or written by hand) carry no parsed marking: nobody but administrators'
    instances sees them, until `watchfloor db upgrade` derives the columns again."""
    fra = _reader_url(postgis_url, logins("reader", scope("FRA", "RESTRICTED")))
    before = _ids(fra, "incidents")
    with connect(postgis_url) as conn:
        conn.execute("UPDATE incidents SET _mk_level = NULL, _mk_rel = NULL")
    assert _ids(fra, "incidents") == set()
    version = world[0].version("incidents")
    assert upgrade(postgis_url) == []
    assert _ids(fra, "incidents") == before
    assert world[0].version("incidents") == version + 1  # caches keyed on the version refresh


# -- accounts and wall displays ------------------------------------------------------------------

def _cli(*args: str, url: str, home: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "WATCHFLOOR_STORE": url, "WATCHFLOOR_HOME": str(home), "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "layers.cli", *args], env=env, input=stdin, text=True,
                         capture_output=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    return run


def test_accounts_are_shared_and_a_revocation_elsewhere_is_refused_on_the_next_refresh(
        postgis_url, logins, tmp_path, monkeypatch):
    upgrade(postgis_url)
    admin_home = tmp_path / "admin"
    admin_home.mkdir()
    pw = "a long enough password 1\n"
    # the administrator's machine (owner credential), another process
    _cli("users", "add", "fra.one", "--nation", "FRA", "--clearance", "RESTRICTED", "--password-stdin",
         url=postgis_url, home=admin_home, stdin=pw)
    _cli("users", "add", "fra.high", "--nation", "FRA", "--clearance", "SECRET", "--password-stdin",
         url=postgis_url, home=admin_home, stdin=pw)
    _cli("users", "add", "usa.one", "--nation", "USA", "--clearance", "RESTRICTED", "--password-stdin",
         url=postgis_url, home=admin_home, stdin=pw)
    out = _cli("users", "kiosk", "add", "wall-1", "--nation", "FRA", "--clearance", "RESTRICTED",
               url=postgis_url, home=admin_home).stdout
    code = out.split("code=")[1].split()[0]
    assert not (admin_home / "users.toml").exists() and not (admin_home / "kiosks.toml").exists()

    # a FRA RESTRICTED dashboard (reader credential) in this process
    reader = DatabaseDirectory(_reader_url(postgis_url, logins("reader", scope("FRA", "RESTRICTED"))))
    users = reader.users()
    assert set(users) == {"fra.one"}  # not the SECRET account, not the USA one: not even their hashes
    from layers.access import authenticate

    viewer = authenticate(users, "fra.one", pw.strip())
    session = start_session(viewer)
    stamp = reader.stamp("users")
    from layers.access.kiosk import check_token, enrol

    monkeypatch.setenv("WATCHFLOOR_STORE", reader.store.url)
    _kiosk, token = enrol(code)  # the dashboard's /kiosk/enrol, with the reader credential
    assert check_token(token, reader.kiosks()).name == "wall-1"

    _cli("users", "disable", "fra.one", url=postgis_url, home=admin_home)
    _cli("users", "kiosk", "revoke", "wall-1", url=postgis_url, home=admin_home)
    assert reader.stamp("users") != stamp  # the next refresh sees that something changed...
    with pytest.raises(DisabledUser):
        check_session(session, users=reader.users())  # ...and refuses the disabled account
    with pytest.raises(KioskRefused):
        check_token(token, reader.kiosks())
    reader.store.close()


def test_a_reader_cannot_change_accounts(postgis_url, logins, tmp_path, monkeypatch):
    upgrade(postgis_url)
    monkeypatch.setenv("WATCHFLOOR_STORE", postgis_url)
    from layers.access import add_user, set_disabled
    from layers.access.kiosk import add_kiosk

    add_user(None, "fra.one", "a long enough password 1", nation="FRA", clearance="RESTRICTED")
    add_kiosk("wall-1", nation="FRA", clearance="RESTRICTED")
    monkeypatch.setenv("WATCHFLOOR_STORE", _reader_url(postgis_url, logins("reader", scope("FRA", "RESTRICTED"))))
    from ingest.errors import StoreError

    with pytest.raises(StoreError, match="permission denied"):
        set_disabled(None, "fra.one")
    with pytest.raises(StoreError, match="permission denied"):
        add_user(None, "fra.two", "a long enough password 2", nation="FRA", clearance="RESTRICTED")
    from layers.access.kiosk import revoke_kiosk

    with pytest.raises(StoreError, match="permission denied"):
        revoke_kiosk("wall-1")


def test_users_import_copies_a_users_file_into_the_database(postgis_url, tmp_path):
    upgrade(postgis_url)
    from layers.access import add_user, load_users

    add_user(tmp_path / "users.toml", "gbr.one", "a long enough password 1", nation="GBR", clearance="SECRET",
             role="analyst")
    out = _cli("users", "import", str(tmp_path / "users.toml"), url=postgis_url, home=tmp_path).stdout
    assert "copied 1 account(s)" in out and "gbr.one" in out
    got = DatabaseDirectory(postgis_url).users()
    assert got == load_users(tmp_path / "users.toml")


def test_a_dashboard_on_a_reader_login_acknowledges_and_draws_zones_within_its_scope(postgis_url, world, logins):
    """The two things a dashboard writes; and it never evaluates the alert rules (it sees a part)."""
    store, picture = world
    url = _reader_url(postgis_url, logins("reader", scope("FRA", "RESTRICTED")))
    reader = PostGISStore(url)
    assert reader.scoped() and not store.scoped()
    visible = sorted(set(restrict(picture, Viewer("x", "FRA", "RESTRICTED"))["alerts"]["key"]))
    hidden = sorted(set(picture["alerts"]["key"]) - set(visible))
    assert visible and hidden
    assert reader.acknowledge(visible[0], "Fra One (fra.one, FRA)")
    assert not reader.acknowledge(hidden[0], "Fra One (fra.one, FRA)")  # as if it did not exist
    assert set(store.alerts(states=["acknowledged"])["key"]) == {visible[0]}

    from layers.zones import zone_frame

    zone = zone_frame("Exclusion 1", "POLYGON ((20 42, 20.1 42, 20.1 42.1, 20 42))", by="fra.one", now=T0)
    from ingest.pipeline import ingest_frame

    ok = ingest_frame(reader, "infrastructure", zone.assign(marking="RESTRICTED//REL TO FRA"), source="drawn")
    assert ok.quarantined == 0 and "Exclusion 1" in set(store.read("infrastructure")["name"])
    from ingest.errors import StoreError

    for frame in (zone.assign(marking="SECRET//REL TO FRA"),                        # beyond its scope
                  zone.assign(marking="UNCLASSIFIED", kind="power_plant")):         # not a zone
        with pytest.raises(StoreError, match="row-level security"):
            ingest_frame(reader, "infrastructure", frame, source="drawn")
    reader.close()


def test_an_administrator_login_that_is_not_superuser_upgrades_and_owns(postgis_url, logins):
    """The admin's machine: a login with CREATEROLE that owns the schema (as the database owner owns
    public), no superuser."""
    name = f"wf_t_admin_{uuid.uuid4().hex[:10]}"
    schema = postgis_url.split("search_path%3D")[1].split(",")[0]
    with connect(postgis_url) as conn:
        conn.execute(f"CREATE ROLE {name} LOGIN CREATEROLE")
        conn.execute(f"ALTER SCHEMA {schema} OWNER TO {name}")  # as the database owner owns public
    try:
        url = _reader_url(postgis_url, name)
        assert upgrade(url)  # every migration, 0005 included
        with connect(url) as conn:
            assert conn.execute("SELECT pg_has_role(current_user, 'watchfloor_owner', 'MEMBER')").fetchone()[0]
            add_login(conn, "reader", f"{name}_r", "unused-pw", reader_scope=scope("FRA", "RESTRICTED"))
        assert upgrade(url) == []
        writer = _reader_url(postgis_url, logins("writer"))
        from ingest.errors import StoreError

        with connect(postgis_url) as conn:  # a migration that is not there yet, as after a watchfloor upgrade
            conn.execute("DELETE FROM watchfloor_migrations WHERE name LIKE '0005%'")
        with pytest.raises(StoreError, match="must be owner|permission denied"):
            upgrade(writer)
    finally:
        with connect(postgis_url) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
            conn.execute(f"CREATE SCHEMA {schema}")  # for the fixture to drop
            for role in (f"{name}_r", name):
                if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
                    conn.execute(f"DROP OWNED BY {role}")
                    conn.execute(f"DROP ROLE {role}")


def test_alerts_run_refuses_a_reader_login(postgis_url, logins, tmp_path):
    upgrade(postgis_url)
    url = _reader_url(postgis_url, logins("reader", scope("FRA", "RESTRICTED")))
    env = {**os.environ, "WATCHFLOOR_STORE": url, "WATCHFLOOR_HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "layers.cli", "alerts", "run"], env=env, capture_output=True,
                         text=True, timeout=120, check=False)
    assert run.returncode == 2 and "writer credential" in run.stderr and "reader login" in run.stderr
