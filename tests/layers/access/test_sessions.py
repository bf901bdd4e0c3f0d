"""Sessions (layers/access/sessions.py): they expire, and re-read the account."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from layers.access.errors import (
    DisabledUser,
    SessionExpired,
    UnknownUser,
)


def test_sessions_expire(users):
    from layers.access import check_session, start_session

    now = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)
    alice = users["alice"].viewer()
    s = start_session(alice, now=now, lifetime=timedelta(hours=12))
    assert check_session(s, now + timedelta(hours=11, minutes=59)) == alice
    with pytest.raises(SessionExpired):
        check_session(s, now + timedelta(hours=12))
    with pytest.raises(SessionExpired):
        check_session(s, now - timedelta(hours=1))   # issued in the future
    with pytest.raises(SessionExpired):
        check_session(None, now)
    with pytest.raises(ValueError):
        check_session(s, datetime(2026, 3, 1, 9))    # naive time: a bug, not a refusal


def test_session_rechecks_the_account(users):
    from layers.access import UserRecord, check_session, start_session

    now = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)
    s = start_session(users["alice"].viewer(), now=now)
    a = users["alice"]
    lowered = {**users, "alice": UserRecord(a.username, a.nation, "UNCLASSIFIED", a.role, a.password_hash,
                                            a.display_name)}
    assert check_session(s, now, lowered).clearance == "UNCLASSIFIED"
    disabled = {**users, "alice": UserRecord(a.username, a.nation, a.clearance, a.role, a.password_hash,
                                             a.display_name, disabled=True)}
    with pytest.raises(DisabledUser):
        check_session(s, now, disabled)
    with pytest.raises(UnknownUser):
        check_session(s, now, {})
