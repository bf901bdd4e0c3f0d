"""Signing in to the dashboard: nothing before a valid session; refusals that say little; no clear passwords.

Runs the real app (AppTest) over a home whose store is the demo's (a symlink) and whose
users file is this test's own, so accounts can be disabled and edited freely.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from layers.access import Session, add_user, load_users, set_disabled, start_session
from layers.access.errors import GENERIC_REFUSAL as GENERIC
from tests.conftest import ROOT, TEST_PASSWORD


@pytest.fixture
def home(tmp_path, demo_home, monkeypatch):
    h = tmp_path / "home"
    h.mkdir()
    (h / "store").symlink_to(demo_home / "store")
    add_user(h / "users.toml", "fra.analyst", TEST_PASSWORD, nation="FRA", clearance="RESTRICTED", role="analyst")
    add_user(h / "users.toml", "ukr.viewer", TEST_PASSWORD, nation="UKR", clearance="SECRET", role="viewer")
    add_user(h / "users.toml", "gone", TEST_PASSWORD, nation="DEU", clearance="SECRET", role="viewer")
    set_disabled(h / "users.toml", "gone")
    monkeypatch.setenv("WATCHFLOOR_HOME", str(h))
    monkeypatch.delenv("WATCHFLOOR_STORE", raising=False)
    st.cache_resource.clear()
    return h


def app() -> AppTest:
    return AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=120)


def submit(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input(key="signin_user").input(username)
    at.text_input(key="signin_password").input(password)
    next(b for b in at.button if b.label == "Sign in").click().run()
    assert not at.exception, at.exception
    return at


def shows_picture(at: AppTest) -> bool:
    return bool(at.get("deck_gl_json_chart")) or bool(at.metric) or bool(at.dataframe) or \
        any("wf-line" in h.proto.body for h in at.get("html"))


def test_nothing_of_the_picture_is_sent_before_sign_in(home):
    at = app().run()
    assert not at.exception
    assert not shows_picture(at)
    assert at.text_input(key="signin_user") is not None
    # a deep link to a page with a view in its query keeps both for after sign-in
    at = app()
    at.query_params["w"] = "6h"
    at.run()
    assert not shows_picture(at)
    submit(at, "fra.analyst", TEST_PASSWORD)
    assert shows_picture(at)
    assert at.query_params["w"] in ("6h", ["6h"])  # the view of the link, not the default


def test_the_right_password_signs_in_and_shows_who_is_signed_in(home):
    at = submit(app().run(), "FRA.Analyst ", TEST_PASSWORD)  # usernames are case- and space-insensitive
    assert shows_picture(at)
    assert any("fra.analyst" in c.value and "FRA" in c.value and "RESTRICTED" in c.value for c in at.sidebar.caption)


@pytest.mark.parametrize(("username", "password", "message"), [
    ("fra.analyst", "wrong password entirely", GENERIC),
    ("nobody.here", TEST_PASSWORD, GENERIC),                       # unknown user: the same words
    ("fra.analyst", "", GENERIC),
    ("gone", TEST_PASSWORD, "Sign-in refused: this account is disabled. Ask an administrator."),
])
def test_refused_sign_ins_show_nothing_of_the_picture(home, username, password, message):
    at = submit(app().run(), username, password)
    assert not shows_picture(at)
    assert [e.value for e in at.error] == [message]
    assert "wf_session" not in at.session_state


def test_a_disabled_user_with_the_wrong_password_is_told_only_the_generic_refusal(home):
    at = submit(app().run(), "gone", "not the password at all")
    assert [e.value for e in at.error] == [GENERIC]  # a guesser does not learn the account exists


def test_an_expired_session_is_refused_and_asks_to_sign_in_again(home):
    viewer = load_users(home / "users.toml")["fra.analyst"].viewer()
    past = datetime.now(timezone.utc) - timedelta(hours=13)
    at = app()
    at.session_state["wf_session"] = start_session(viewer, now=past)  # 12 h lifetime: over an hour ago
    at.run()
    assert not shows_picture(at)
    assert [w.value for w in at.warning] == ["Your session has expired. Please sign in again."]


def test_disabling_an_account_ends_its_open_session_on_the_next_rerun(home):
    at = submit(app().run(), "fra.analyst", TEST_PASSWORD)
    assert shows_picture(at)
    set_disabled(home / "users.toml", "fra.analyst")
    at.run()
    assert not shows_picture(at)
    assert any("disabled" in w.value for w in at.warning)


def test_a_forged_session_object_is_refused(home):
    at = app()
    at.session_state["wf_session"] = {"viewer": "admin", "expires_at": "2099-01-01"}
    at.run()
    assert not shows_picture(at)


def test_repeated_failures_slow_down_guessing(home):
    at = app().run()
    for _ in range(5):
        submit(at, "ukr.viewer", "guess guess guess")
    submit(at, "ukr.viewer", TEST_PASSWORD)  # even the right password waits now
    assert not shows_picture(at)
    assert "Too many failed sign-ins" in at.error[0].value


def test_a_viewer_has_no_analyst_page_and_an_analyst_does(home):
    at = submit(app().run(), "ukr.viewer", TEST_PASSWORD)
    assert shows_picture(at)
    with pytest.raises(ValueError, match="Known pages"):  # not in a viewer's navigation
        at.switch_page("views/analyst.py")
    at = submit(app().run(), "fra.analyst", TEST_PASSWORD)
    at.switch_page("views/analyst.py").run()
    assert any(t.value == "Analyst" for t in at.title)


def test_sign_out_ends_the_session(home):
    at = submit(app().run(), "fra.analyst", TEST_PASSWORD)
    at.sidebar.button(key="sign_out").click().run()
    assert not shows_picture(at) and "wf_session" not in at.session_state


def test_passwords_are_never_stored_or_logged_in_clear(home, caplog):
    caplog.set_level(logging.DEBUG)
    for user, password in (("fra.analyst", TEST_PASSWORD), ("fra.analyst", "a wrong one 12345"),
                           ("nobody", "another secret 6789")):
        submit(app().run(), user, password)
    text = (home / "users.toml").read_text()
    assert TEST_PASSWORD not in text and "$argon2id$" in text
    assert (home / "users.toml").stat().st_mode & 0o777 == 0o600
    logged = caplog.text
    assert "fra.analyst" in logged  # sign-ins are logged ...
    for secret in (TEST_PASSWORD, "a wrong one 12345", "another secret 6789"):
        assert secret not in logged  # ... their passwords never
    # and nothing in the session keeps it
    at = submit(app().run(), "fra.analyst", TEST_PASSWORD)
    for key in ("wf_session", "wf_viewer", "signin_user", "signin_password"):
        assert key not in at.session_state or TEST_PASSWORD not in repr(at.session_state[key]), key
    assert isinstance(at.session_state["wf_session"], Session)


def test_first_run_creates_one_administrator_with_a_one_time_password(tmp_path):
    """`make run` calls `watchfloor users bootstrap`: without a terminal it generates a password,
    shows it once, stores only its hash; a second run changes nothing."""
    import subprocess
    import sys

    from layers.access import authenticate

    env = {**__import__("os").environ, "WATCHFLOOR_HOME": str(tmp_path)}
    cmd = [sys.executable, "-m", "layers.cli", "users", "bootstrap"]
    first = subprocess.run(cmd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert first.returncode == 0, first.stderr
    password = next(line.split(": ", 1)[1] for line in first.stdout.splitlines() if "one-time password" in line)
    assert len(password) >= 16
    assert password not in (tmp_path / "users.toml").read_text()
    viewer = authenticate(load_users(tmp_path / "users.toml"), "admin", password)
    assert (viewer.role, viewer.nation, viewer.clearance) == ("administrator", "GBR", "SECRET")
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert again.returncode == 0 and "nothing to do" in again.stdout and "password" not in again.stdout


def test_the_throttle_forgets_a_name_after_success_and_waits_double_each_time():
    from layers.access import SignInThrottle

    t0 = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
    gate = SignInThrottle(free=2, base=10, cap=35)
    for _ in range(2):
        assert gate.wait_seconds("a", t0) == 0
        gate.failed("a", t0)
    assert gate.wait_seconds("A ", t0) == 10  # names are compared as the sign-in compares them
    gate.failed("a", t0)
    assert gate.wait_seconds("a", t0 + timedelta(seconds=5)) == 15
    gate.failed("a", t0)
    gate.failed("a", t0)
    assert gate.wait_seconds("a", t0) == 35  # capped
    assert gate.wait_seconds("b", t0) == 0  # other names are not slowed
    gate.succeeded("a")
    assert gate.wait_seconds("a", t0) == 0


def test_a_flood_of_made_up_names_cannot_reset_a_locked_name():
    """More failures than the throttle can remember, with fresh names: the locked name stays locked,
    memory stays bounded, and the flood itself is slowed down."""
    from layers.access import SignInThrottle

    t0 = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
    gate = SignInThrottle(free=5, base=30, cap=900, max_entries=1_000)
    for _ in range(8):
        gate.failed("target", t0)
    locked = gate.wait_seconds("target", t0)
    assert locked == 30 * 2 ** 3
    for i in range(5_000):  # each made-up name fails once, from many clients
        gate.failed(f"made-up-{i}", t0 + timedelta(seconds=1), client=f"10.0.{i // 250}.{i % 250}")
    assert gate.wait_seconds("target", t0 + timedelta(seconds=1)) == locked - 1
    assert max(gate.sizes()) <= 1_000
    # a table full of LOCKED names makes no room by forgetting one: new names share one entry,
    # so a flood of them is throttled together
    small = SignInThrottle(free=5, base=30, cap=900, max_entries=50)
    for i in range(50):
        for _ in range(6):
            small.failed(f"locked-{i}", t0)
    for i in range(5):
        small.failed(f"fresh-{i}", t0)
    assert small.wait_seconds("fresh-99", t0) == 30
    assert all(small.wait_seconds(f"locked-{i}", t0) == 60 for i in range(50))


def test_one_client_trying_many_names_is_slowed_per_client():
    from layers.access import SignInThrottle

    t0 = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
    gate = SignInThrottle(free=5, base=30, cap=900, client_free=20)
    for i in range(20):
        assert gate.wait_seconds(f"name-{i}", t0, client="192.0.2.7") == 0
        gate.failed(f"name-{i}", t0, client="192.0.2.7")
    assert gate.wait_seconds("a-fresh-name", t0, client="192.0.2.7") == 30
    assert gate.wait_seconds("a-fresh-name", t0, client="192.0.2.8") == 0  # another client is not slowed
    gate.succeeded("name-3")  # a success clears the account, not the client
    assert gate.wait_seconds("name-3", t0, client="192.0.2.7") == 30
