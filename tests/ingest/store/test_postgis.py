"""The PostGIS store beyond the shared contract (tests/ingest/store/test_store.py runs that against it too):
migrations, the schema they make, choosing the store by URL, `watchfloor db`.

These tests need a PostgreSQL server with PostGIS, named by WATCHFLOOR_TEST_POSTGRES; without
it they are skipped (and fail under WATCHFLOOR_REQUIRE_SYSTEM=1, as in CI). `.ci/run` starts a
throwaway cluster itself. For a local run on Debian/Ubuntu (`apt-get install postgresql
postgresql-15-postgis-3`), as a user other than root (or prefix the commands with
`runuser -u postgres --` and use a folder that user owns):

    PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    $PGBIN/initdb -D /tmp/wf-pg -U postgres --auth=trust
    $PGBIN/pg_ctl -D /tmp/wf-pg -l /tmp/wf-pg.log -o "-c listen_addresses=127.0.0.1 -p 55432 -k /tmp" start
    $PGBIN/createdb -h 127.0.0.1 -p 55432 -U postgres watchfloor_test
    $PGBIN/psql -h 127.0.0.1 -p 55432 -U postgres -d watchfloor_test -c "CREATE EXTENSION postgis"
    export WATCHFLOOR_TEST_POSTGRES=postgresql://postgres@127.0.0.1:55432/watchfloor_test
    make test                      # every store test now runs against both backends
    $PGBIN/pg_ctl -D /tmp/wf-pg stop

Every test works in a schema of its own (`postgis_url` in conftest.py), dropped afterwards.
"""

from __future__ import annotations

import argparse
import shutil

import pandas as pd
import pytest
import shapely

from ingest.schema import LAYERS
from ingest.store import open_store, postgis
from ingest.store.postgis import (
    PostGISStore,
    SchemaBehindError,
    add_db_arguments,
    connect,
    db_command,
    migrations,
    upgrade,
)

pytestmark = pytest.mark.postgis

PG_TYPES = {"str": "text", "float": "double precision", "int": "bigint", "bool": "boolean",
            "time": "timestamp with time zone", "geometry": "geometry"}


def test_upgrade_applies_every_migration_once_and_is_idempotent(postgis_url):
    names = [n for n, _ in migrations()]
    assert names and names[0] == "0001_initial" and names == sorted(names)
    assert upgrade(postgis_url) == names
    assert upgrade(postgis_url) == []  # nothing left to apply
    with connect(postgis_url) as conn:
        rows = conn.execute("SELECT name FROM watchfloor_migrations ORDER BY name").fetchall()
    assert [r[0] for r in rows] == names
    PostGISStore(postgis_url).write("incidents", _incidents())  # and the store opens on it


def test_a_store_refuses_a_database_that_was_never_migrated(postgis_url):
    with pytest.raises(SchemaBehindError) as err:
        PostGISStore(postgis_url)
    msg = str(err.value)
    assert "0001_initial" in msg and "watchfloor db upgrade" in msg
    assert "127.0.0.1" in msg or "localhost" in msg
    with pytest.raises(SchemaBehindError):
        open_store(postgis_url)


def test_a_store_refuses_a_schema_behind_and_upgrade_applies_only_the_new_migration(
        postgis_url, tmp_path, monkeypatch):
    upgrade(postgis_url)
    later = tmp_path / "migrations"
    shutil.copytree(postgis.MIGRATIONS_DIR, later)
    (later / "0002_test_column.sql").write_text("ALTER TABLE incidents ADD COLUMN test_extra text;\n")
    monkeypatch.setattr(postgis, "MIGRATIONS_DIR", later)
    with pytest.raises(SchemaBehindError, match=r"migration 0002_test_column is not applied.*watchfloor db upgrade"):
        PostGISStore(postgis_url)
    assert upgrade(postgis_url) == ["0002_test_column"]
    assert upgrade(postgis_url) == []
    PostGISStore(postgis_url)


def test_a_failing_migration_leaves_nothing_half_applied(postgis_url, tmp_path, monkeypatch):
    from ingest.errors import StoreError

    upgrade(postgis_url)
    later = tmp_path / "migrations"
    shutil.copytree(postgis.MIGRATIONS_DIR, later)
    (later / "0002_broken.sql").write_text("CREATE TABLE half_done (x int);\nSELECT no_such_function();\n")
    monkeypatch.setattr(postgis, "MIGRATIONS_DIR", later)
    with pytest.raises(StoreError, match="no_such_function"):
        upgrade(postgis_url)
    with connect(postgis_url) as conn:
        assert conn.execute("SELECT to_regclass('half_done')").fetchone()[0] is None
        assert "0002_broken" not in {r[0] for r in conn.execute("SELECT name FROM watchfloor_migrations")}


def test_the_migrated_tables_have_the_layer_schema_keys_and_indexes(postgis_url):
    """ingest/schema.py and the migrations agree: a column added to a layer needs a migration."""
    upgrade(postgis_url)
    with connect(postgis_url) as conn:
        for name, ls in LAYERS.items():
            cols = conn.execute(
                "SELECT column_name, CASE WHEN data_type = 'USER-DEFINED' THEN udt_name ELSE data_type END "
                "FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = %s "
                "ORDER BY ordinal_position", (name,)).fetchall()
            expected = [(c.name, PG_TYPES[c.kind]) for c in ls.all_columns]
            expected += [("geometry", "geometry"), ("_version", "timestamp with time zone"), ("_hash", "text"),
                         ("_mk_level", "smallint"), ("_mk_rel", "ARRAY")]  # the parsed marking (0005)
            assert cols == expected, name
            srids = dict(conn.execute("SELECT f_geometry_column, srid FROM geometry_columns "
                                      "WHERE f_table_schema = current_schema() AND f_table_name = %s", (name,)))
            assert srids == {g: 4326 for g in ["geometry", *ls.extra_geometry_columns]}, name
            pk = conn.execute(
                "SELECT array_agg(a.attname ORDER BY k.ord) FROM pg_index i "
                "CROSS JOIN unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) "
                "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
                "WHERE i.indrelid = %s::regclass AND i.indisprimary", (name,)).fetchone()[0]
            assert pk == ["source", "source_id"], name
            indexes = [r[0] for r in conn.execute(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = %s", (name,))]
            assert any("USING gist (geometry)" in d for d in indexes), name
            for col in filter(None, {ls.time_column, ls.end_column}):
                assert any(f"btree ({col})" in d.replace('"', "") for d in indexes), (name, col)
        assert any("btree (track_id" in r[0] for r in conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'track_points'"))


def test_open_store_chooses_postgis_for_a_postgresql_url(postgis_url, monkeypatch):
    upgrade(postgis_url)
    monkeypatch.setenv("WATCHFLOOR_STORE", postgis_url)
    store = open_store()
    assert isinstance(store, PostGISStore) and "postgres@" not in repr(store)
    assert store.is_empty()


def test_version_changes_on_every_changing_write_and_only_then(postgis_url):
    upgrade(postgis_url)
    store = PostGISStore(postgis_url)
    assert store.version("incidents") == 0 and store.version("_alerts") == 0
    store.write("incidents", _incidents())
    v1 = store.version("incidents")
    store.write("incidents", _incidents())  # the same content again: nothing changes
    assert store.version("incidents") == v1
    store.write("incidents", _incidents(severity="high"))
    assert store.version("incidents") == v1 + 1
    store.delete("incidents", pd.DataFrame({"source": ["feed"], "source_id": ["inc-0"]}))
    assert store.version("incidents") == v1 + 2 and store.version("tracks") == 0
    with pytest.raises(Exception, match="unknown layer"):
        store.version("nope")


def test_a_batch_with_a_key_twice_keeps_the_newest_version(postgis_url):
    upgrade(postgis_url)
    store = PostGISStore(postgis_url)
    frame = _incidents(2)
    frame = pd.concat([frame, _incidents(2, status="verified", updated_at=pd.Timestamp("2026-12-01T00:00:00Z"))])
    rep = store.write("incidents", frame.iloc[[2, 0, 1, 3]])
    assert rep.inserted == 2 and rep.written == 4
    assert set(store.read("incidents")["status"]) == {"verified"}


def test_three_dimensional_and_empty_strings_round_trip(postgis_url):
    upgrade(postgis_url)
    store = PostGISStore(postgis_url)
    frame = _incidents(3)
    frame["description"] = pd.array(["", None, 'quote " comma , newline \n end'], dtype="string")  # "" kept
    frame["geometry"] = [shapely.Point(20, 42, 150.5), shapely.Point(21, 42), shapely.Point(-179.9, -17)]
    store.write("incidents", frame)
    back = store.read("incidents").sort_values("source_id").reset_index(drop=True)
    assert back.loc[0, "description"] == "" and pd.isna(back.loc[1, "description"])
    assert back.loc[2, "description"] == 'quote " comma , newline \n end'
    assert back.geometry.iloc[0].has_z and back.geometry.iloc[0].z == 150.5


def test_a_nul_character_in_a_string_does_not_fail_the_write(postgis_url):
    """PostgreSQL text cannot hold NUL; hostile or broken feeds can send one."""
    upgrade(postgis_url)
    store = PostGISStore(postgis_url)
    frame = _incidents(1)
    frame["description"] = pd.array(["before\x00after"], dtype="string")
    assert store.write("incidents", frame).inserted == 1
    assert store.read("incidents")["description"].iloc[0] == "before\ufffdafter"
    assert store.write("incidents", frame).unchanged == 1  # the same input again changes nothing
    q = pd.DataFrame({"layer": ["incidents"], "source": ["feed"], "source_id": ["x"], "reason": ["bad_value"],
                      "detail": ["nul"], "raw": ["{\"a\": \"\x00\"}"], "quarantined_at": [pd.Timestamp.now("UTC")]})
    assert store.quarantine(q) == 1 and store.quarantine(q) == 0
    assert store.quarantined().iloc[0]["raw"] == '{"a": "\ufffd"}'


def test_db_command_upgrade_and_status(postgis_url, capsys):
    p = argparse.ArgumentParser()
    add_db_arguments(p)
    assert db_command(p.parse_args(["status", "--url", postgis_url])) == 1
    assert "PENDING  0001_initial" in capsys.readouterr().out
    assert db_command(p.parse_args(["upgrade", "--url", postgis_url])) == 0
    assert "applied 0001_initial" in capsys.readouterr().out
    assert db_command(p.parse_args(["upgrade", "--url", postgis_url])) == 0
    assert "0 migration(s) applied now" in capsys.readouterr().out
    assert db_command(p.parse_args(["status", "--url", postgis_url])) == 0
    assert "schema up to date" in capsys.readouterr().out


def test_db_command_needs_a_postgresql_url(monkeypatch):
    from ingest.errors import ConfigError

    monkeypatch.delenv("WATCHFLOOR_STORE", raising=False)
    p = argparse.ArgumentParser()
    add_db_arguments(p)
    with pytest.raises(ConfigError, match="postgresql://"):
        db_command(p.parse_args(["upgrade"]))


def _incidents(n: int = 3, **over):
    from tests.ingest.store.test_store import incidents

    return incidents(n, **over)
