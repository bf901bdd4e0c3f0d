"""Sessions: a signed-in viewer and how long that sign-in holds.

Sessions (`Session`, `check_session`) expire after a fixed lifetime (12 h by
default: a watch plus handover); given the users, `check_session` also
re-reads the account so disabling a user or lowering a clearance takes effect
on the next rerun, not at the next sign-in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from layers.access.errors import DisabledUser, SessionExpired, UnknownUser
from layers.access.policy import Viewer

if TYPE_CHECKING:
    from layers.access.accounts import UserRecord

DEFAULT_SESSION_LIFETIME = timedelta(hours=12)
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class Session:
    """A signed-in viewer and the validity of that sign-in (tz-aware UTC instants). Holds no secret."""

    viewer: Viewer
    issued_at: datetime
    expires_at: datetime


def start_session(viewer: Viewer, *, now: datetime | None = None,
                  lifetime: timedelta = DEFAULT_SESSION_LIFETIME) -> Session:
    now = _utc(now or datetime.now(UTC), "now")
    return Session(viewer, now, now + lifetime)


def check_session(session: Session | None, now: datetime | None = None,
                  users: Mapping[str, UserRecord] | None = None) -> Viewer:
    """The session's viewer if the session is still valid at ``now``, else SessionExpired.

    A session issued in the future (beyond a few minutes of clock skew) is refused too.
    With ``users``, the account is read again: gone -> UnknownUser, disabled ->
    DisabledUser, and the returned viewer carries the current nation, clearance and role."""
    if not isinstance(session, Session):
        raise SessionExpired(None, "no session")
    now = _utc(now or datetime.now(UTC), "now")
    name = session.viewer.username
    if now >= _utc(session.expires_at, "expires_at"):
        raise SessionExpired(name, f"at {session.expires_at.isoformat()}")
    if now < _utc(session.issued_at, "issued_at") - CLOCK_SKEW:
        raise SessionExpired(name, f"not valid before {session.issued_at.isoformat()}")
    if users is None:
        return session.viewer
    record = users.get(name)
    if record is None:
        raise UnknownUser(name)
    if record.disabled:
        raise DisabledUser(name)
    return record.viewer()


def _utc(t: datetime, what: str) -> datetime:
    if not isinstance(t, datetime) or t.tzinfo is None:
        raise ValueError(f"{what}: expected a tz-aware datetime, found {t!r}")
    return t.astimezone(UTC)
