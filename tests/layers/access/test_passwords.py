"""Sign-in with a password (layers/access/passwords.py): right, wrong, unknown, disabled; same cost every path."""

from __future__ import annotations

import logging
import time

import pytest

from ingest.errors import WatchfloorError
from layers.access import (
    Viewer,
)
from layers.access.errors import (
    AuthenticationError,
    DisabledUser,
    UnknownUser,
    WrongPassword,
)
from tests.layers.access.conftest import PASSWORDS


def test_sign_in_succeeds(users):
    from layers.access import authenticate

    v = authenticate(users, "alice", PASSWORDS["alice"])
    assert v == Viewer("alice", "FRA", "RESTRICTED", "analyst", 'Capt. Alice "Al" Martin\\')
    assert authenticate(users, " Carol ", PASSWORDS["carol"]).is_admin


@pytest.mark.parametrize(("username", "password", "error"), [
    ("alice", "wrong password here", WrongPassword),
    ("alice", "", WrongPassword),
    ("alice", PASSWORDS["alice"].upper(), WrongPassword),
    ("alice", "x" * 5000, WrongPassword),
    ("mallory", "whatever password", UnknownUser),
    ("", "whatever password", UnknownUser),
    ("correct horse battery staple", "x", UnknownUser),       # a password typed into the username box
    ("bob", PASSWORDS["bob"], DisabledUser),                  # right password, disabled account
    ("bob", "wrong password here", WrongPassword),           # wrong password: do not reveal "disabled"
])
def test_sign_in_refused_with_specific_error(users, username, password, error, caplog):
    from layers.access import authenticate

    caplog.set_level(logging.DEBUG)
    with pytest.raises(error) as info:
        authenticate(users, username, password)
    exc = info.value
    assert isinstance(exc, AuthenticationError) and isinstance(exc, WatchfloorError)
    for secret in {*PASSWORDS.values(), password} - {""}:
        assert secret not in str(exc) and secret not in repr(exc) and secret not in exc.public_message
        assert secret not in caplog.text
        assert all(secret not in str(r.args) for r in caplog.records)
    if error in (WrongPassword, UnknownUser):
        assert exc.public_message == "Sign-in failed: wrong username or password."


def test_unknown_user_costs_a_real_verification(users, monkeypatch):
    """Timing must not reveal which usernames exist: every path runs one argon2 verify."""
    import layers.access.passwords as mod
    from layers.access import authenticate

    calls = []
    real = mod._HASHER

    class Counting:
        def verify(self, h, p):
            calls.append(h)
            return real.verify(h, p)

        def __getattr__(self, name):
            return getattr(real, name)

    monkeypatch.setattr(mod, "_HASHER", Counting())

    def timed(username, password):
        start = time.perf_counter()
        with pytest.raises(AuthenticationError):
            authenticate(users, username, password)
        return time.perf_counter() - start

    timed("nobody", "some password")  # the dummy hash is made once
    for username, password in (("nobody", "pw one two three"), ("alice", "pw one two three"),
                               ("alice", "y" * 5000), ("", ""), ("bob", "pw one two three")):
        calls.clear()
        timed(username, password)
        assert len(calls) == 1, username
        assert calls[0].startswith("$argon2id$")
    unknown = sorted(timed("nobody", "pw one two three") for _ in range(3))[1]
    known = sorted(timed("alice", "pw one two three") for _ in range(3))[1]
    assert 0.4 < unknown / known < 2.5, (unknown, known)
