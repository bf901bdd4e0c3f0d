"""Leases (ingest/store/locks.py, `Store.exclusive`): one holder of a duty at a time, among the
threads of a process and among processes, on every backend; released when the holder dies.

The processes are real (tests/support/storeproc.py `lease`), killed with SIGKILL: nothing of
theirs runs after it, so what frees the lease is the kernel (a flock) or PostgreSQL (a session
that ended), as in a crash.
"""

from __future__ import annotations

import pytest

from ingest.errors import StoreQueryError
from ingest.store.locks import ALERTS, advisory_key, feed_lease, holder_id
from tests.support.storeproc import DEADLINE_S, Child, store_root
from tests.support.waiting import wait_for


def test_one_holder_at_a_time_and_the_next_after_a_release(store):
    first, second = store.exclusive(feed_lease("partner-uav")), store.exclusive(feed_lease("partner-uav"))
    assert not first and first.holder() is None  # not acquired yet: nobody holds it
    assert first.acquire() and first and first.held()
    assert first.acquire()  # again: still held, no error
    assert not second.acquire() and not second and not second.held()
    assert second.holder() == holder_id()  # this process holds it, through the other lease
    with store.exclusive(feed_lease("gcs-north")) as other:  # another name: another lease
        assert other
    first.release()
    assert not first and second.holder() is None
    assert second.acquire() and not first.acquire()
    second.release()


def test_as_a_context_manager_it_is_released_on_leaving(store):
    with store.exclusive(ALERTS) as lease:
        assert lease
        with store.exclusive(ALERTS) as again:
            assert not again  # never waits: says no at once
    assert not lease
    with store.exclusive(ALERTS) as after:
        assert after


def test_another_process_holds_it_until_it_releases_or_dies(store):
    root = store_root(store)
    child = Child("lease", root, ALERTS)
    pid = int(child.expect("held True").split()[2])
    lease = store.exclusive(ALERTS)
    try:
        assert not lease.acquire()
        assert lease.holder() is not None and lease.holder().startswith(f"pid {pid} on ")
        child.send("release")
        child.expect("released")
        assert lease.acquire()  # a release is immediate
        lease.release()

        crashing = Child("lease", root, ALERTS)
        pid = int(crashing.expect("held True").split()[2])
        assert not lease.acquire() and f"pid {pid} " in lease.holder()
        crashing.kill()  # SIGKILL: no release, no cleanup of its own
        assert wait_for(lease.acquire, DEADLINE_S), "the lease of a killed process was never freed"
        assert lease.holder() == holder_id()
    finally:
        lease.release()
        child.finish()


def test_a_lease_name_must_name_something(store):
    with pytest.raises(StoreQueryError, match="lease name"):
        store.exclusive(" ")


@pytest.mark.postgis
def test_postgis_a_lost_connection_is_a_lost_lease_and_another_takes_it(postgis_url):
    from ingest.store.postgis import PostGISStore, connect, upgrade

    upgrade(postgis_url)
    store = PostGISStore(postgis_url)
    holding, standby = store.exclusive(feed_lease("drones")), store.exclusive(feed_lease("drones"))
    assert holding.acquire() and not standby.acquire()
    with connect(postgis_url) as admin:  # the database drops the holder's session (a network cut, a restart)
        backend = holding._conn.info.backend_pid
        assert admin.execute("SELECT pg_terminate_backend(%s)", (backend,)).fetchone()[0]
    assert wait_for(standby.acquire, DEADLINE_S)
    assert not holding.held() and not holding  # the holder finds out at its next check
    assert not holding.acquire()  # and cannot take it back while the other holds it
    standby.release()
    store.close()


@pytest.mark.postgis
def test_postgis_keys_are_stable_and_differ_per_schema(postgres_url, postgis_url):
    """Two deployments (schemas) in one database have leases of the same name that never collide,
    and a key is the same in every process and version: a hash of its own, not Python's."""
    from ingest.store.postgis import PostGISStore, connect, upgrade, with_schema

    assert advisory_key("public", "alerts") == advisory_key("public", "alerts")
    assert advisory_key("public", "alerts") != advisory_key("other", "alerts")
    # the first 8 bytes of sha256 as a signed bigint, from coreutils:
    # printf 'watchfloor\x1fpublic\x1falerts' | sha256sum  ->  a8c8fbf8e8a59c0a...
    # a key that changed between versions would let an old and a new runner both hold a duty
    assert advisory_key("public", "alerts") == 0xA8C8FBF8E8A59C0A - (1 << 64)
    schema = postgis_url.rsplit("%3D", 1)[1].split(",")[0] + "_b"
    with connect(postgres_url) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        other_url = with_schema(postgres_url, schema)
        upgrade(postgis_url)
        upgrade(other_url)
        a, b = PostGISStore(postgis_url).exclusive(ALERTS), PostGISStore(other_url).exclusive(ALERTS)
        assert a.acquire() and b.acquire()
        a.release()
        b.release()
    finally:
        with connect(postgres_url) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
