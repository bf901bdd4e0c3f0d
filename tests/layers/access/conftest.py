"""Fixtures of the access tests: a home with the site coalition NORDIC, and three accounts."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    (home / "coalitions.toml").write_text('[coalitions.NORDIC]\nmembers = ["DNK", "FIN", "ISL", "NOR", "SWE"]\n')
    monkeypatch.setenv("WATCHFLOOR_HOME", str(home))
    return home


PASSWORDS = {"alice": "correct horse battery staple", "bob": "Tr0ub4dor&3-but-longer",
             "carol": "admin pass phrase 2026!"}


@pytest.fixture(scope="module")
def users_file(tmp_path_factory):
    from layers.access import add_user

    path = tmp_path_factory.mktemp("users") / "users.toml"
    add_user(path, "alice", PASSWORDS["alice"], nation="FRA", clearance="RESTRICTED", role="analyst",
             display_name="Capt. Alice \"Al\" Martin\\")
    add_user(path, "bob", PASSWORDS["bob"], nation="GBR", clearance="SECRET", disabled=True)
    add_user(path, "carol", PASSWORDS["carol"], nation="DEU", clearance="S", role="administrator")
    return path


@pytest.fixture
def users(users_file):
    from layers.access import load_users

    return load_users(users_file)
