"""Why a sign-in or a session was refused, as distinct exception classes.

Kept in their own module (not ingest/errors.py) because sign-in is a
dashboard concern and ingest never raises them; they still derive from
WatchfloorError, so the CLI's one ``except WatchfloorError`` handles them.

Two texts per error, on purpose:
- ``str(exc)`` says exactly what happened and to which account (``unknown user
  'bob'``): for the audit log and for tests;
- ``exc.public_message`` is what a sign-in page may show. It is the same for a
  wrong password and an unknown user, so the page cannot be used to find out
  which usernames exist.

No message ever contains a password: the classes do not accept one. A username
is quoted only if it looks like a username (people type passwords into the
username box); anything else is shown as ``<not a username>``.
"""

from __future__ import annotations

import re

from ingest.errors import WatchfloorError

USERNAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
GENERIC_REFUSAL = "Sign-in failed: wrong username or password."


def shown_username(username: object) -> str:
    """The username as it may appear in a message or a log line."""
    if isinstance(username, str) and USERNAME_PATTERN.fullmatch(username):
        return repr(username)
    return "<not a username>"


class AuthenticationError(WatchfloorError):
    """Base of every sign-in and session refusal."""

    public_message = GENERIC_REFUSAL

    def __init__(self, username: object, reason: str) -> None:
        self.username = username if isinstance(username, str) and USERNAME_PATTERN.fullmatch(username) else None
        self.reason = reason
        super().__init__(f"sign-in refused for {shown_username(username)}: {reason}")


class UnknownUser(AuthenticationError):
    def __init__(self, username: object) -> None:
        super().__init__(username, "unknown user")


class WrongPassword(AuthenticationError):
    def __init__(self, username: object) -> None:
        super().__init__(username, "wrong password")


class DisabledUser(AuthenticationError):
    """Raised only after the right password, so it tells nothing to someone guessing."""

    public_message = "Sign-in refused: this account is disabled. Ask an administrator."

    def __init__(self, username: object) -> None:
        super().__init__(username, "account disabled")


class SessionExpired(AuthenticationError):
    public_message = "Your session has expired. Please sign in again."

    def __init__(self, username: object, detail: str = "") -> None:
        super().__init__(username, "session expired" + (f" ({detail})" if detail else ""))


class ClaimsRefused(AuthenticationError):
    """An identity provider's claims do not say enough to decide what the user may see."""

    public_message = "Sign-in refused: your account lacks a nation, clearance or role for watchfloor."

    def __init__(self, username: object, reason: str) -> None:
        super().__init__(username, reason)


class KioskRefused(AuthenticationError):
    """A wall display's device token or enrolment code was refused (unknown, used, revoked, expired)."""

    public_message = ("This wall display is not (or no longer) enrolled. An administrator can enrol it with "
                      "`watchfloor users kiosk add`.")

    def __init__(self, name: object, reason: str) -> None:
        super().__init__(name, reason)


class NotPermitted(AuthenticationError):
    """Signed in, but the account's role does not allow this action."""

    def __init__(self, username: object, action: str, roles: tuple[str, ...]) -> None:
        allowed = " or ".join(roles) or "no role"
        self.public_message = f"Not permitted: {action.replace('_', ' ')} needs the {allowed} role."
        super().__init__(username, f"{action} needs the role {allowed}")


class PasswordPolicyError(WatchfloorError):
    """A new password was refused (too short, blank). Says why, never what the password was."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"password refused: {reason}")
