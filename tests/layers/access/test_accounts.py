"""The users file (layers/access/accounts.py): hashes only, atomic writes, refusals that echo no secret."""

from __future__ import annotations

import logging
import stat
import tomllib
from datetime import datetime, timezone

import pytest

from ingest.errors import ConfigError
from layers.access.errors import (
    PasswordPolicyError,
)
from tests.layers.access.conftest import PASSWORDS


def test_users_file_holds_no_password(users_file, users):
    from layers.access import start_session

    text = users_file.read_text(encoding="utf-8")
    for pw in PASSWORDS.values():
        assert pw not in text
    assert stat.S_IMODE(users_file.stat().st_mode) == 0o600
    doc = tomllib.loads(text)
    assert set(doc["users"]) == {"alice", "bob", "carol"}
    assert all(u["password_hash"].startswith("$argon2id$") for u in doc["users"].values())
    assert not [p for p in users_file.parent.iterdir() if p.name.endswith(".tmp")]
    for name, pw in PASSWORDS.items():
        v = users[name].viewer()
        s = start_session(v, now=datetime.now(timezone.utc))
        for text in (repr(v), repr(s), repr(users[name]), str(users[name])):
            assert pw not in text and "$argon2" not in text


def test_adding_users_and_refusals(tmp_path, caplog):
    from layers.access import add_user, load_users, set_disabled

    caplog.set_level(logging.DEBUG)
    path = tmp_path / "u" / "users.toml"
    pw = "a brand new passphrase"
    add_user(path, "dave", pw, nation="XKX", clearance="CONFIDENTIAL")
    with pytest.raises(ConfigError):
        add_user(path, "dave", pw, nation="XKX", clearance="CONFIDENTIAL")
    add_user(path, "dave", pw, nation="UKR", clearance="C", replace=True)
    assert load_users(path)["dave"].nation == "UKR"
    for bad in ({"nation": "XX", "clearance": "SECRET"}, {"nation": "FRA", "clearance": "NATO SECRET"},
                {"nation": "FRA", "clearance": "SECRET", "role": "root"}):
        with pytest.raises(ConfigError):
            add_user(path, "erin", pw, **bad)
    with pytest.raises(ConfigError):
        add_user(path, "Bad Name!", pw, nation="FRA", clearance="SECRET")
    with pytest.raises(PasswordPolicyError) as info:
        add_user(path, "erin", "short pw", nation="FRA", clearance="SECRET")
    assert "short pw" not in str(info.value)
    assert set_disabled(path, "dave").disabled and load_users(path)["dave"].disabled
    assert pw not in caplog.text and pw not in path.read_text()


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    import layers.access.accounts as mod

    path = tmp_path / "w" / "users.toml"
    mod.add_user(path, "dave", "a brand new passphrase", nation="FRA", clearance="SECRET")
    before = path.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(mod.os, "replace", boom)
    with pytest.raises(OSError):
        mod.add_user(path, "erin", "another long passphrase", nation="FRA", clearance="SECRET")
    assert path.read_bytes() == before
    assert not [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize(("body", "shown_not"), [
    (('[users.x]\nnation = "FRA"\nclearance = "SECRET"\nrole = "viewer"\npassword = "plaintext-secret"\n'
     'password_hash = "$argon2id$x"\n'), "plaintext-secret"),
    ('[users.x]\nnation = "FRA"\nclearance = "SECRET"\nrole = "viewer"\npassword_hash = "plaintext-secret"\n',
     "plaintext-secret"),
    (('[users.x]\nnation = "FRA"\nclearance = "SECRET"\nrole = "viewer"\npassword_hash = "$argon2id$x"\n'
     'disable = true\n'), None),
    ('[users.x]\nnation = "FR"\nclearance = "SECRET"\nrole = "viewer"\npassword_hash = "$argon2id$x"\n', None),
    ('[users.X]\nnation = "FRA"\nclearance = "SECRET"\nrole = "viewer"\npassword_hash = "$argon2id$x"\n', None),
])
def test_bad_users_files_are_refused_without_echoing_secrets(tmp_path, body, shown_not):
    from layers.access import load_users

    path = tmp_path / "users.toml"
    path.write_text(body)
    with pytest.raises(ConfigError) as info:
        load_users(path)
    if shown_not:
        assert shown_not not in str(info.value)
