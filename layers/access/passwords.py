"""Passwords: argon2id hashes, and checking a sign-in against the accounts.

`authenticate` raises a distinct error per cause (layers/access/errors.py), but
spends the same argon2 verification on every path: an unknown username is
checked against a dummy hash, so response time does not reveal which
usernames exist; a disabled account is reported only after the right
password. Passwords never reach a log line, an error message or a repr.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from layers.access.errors import (
    USERNAME_PATTERN,
    DisabledUser,
    PasswordPolicyError,
    UnknownUser,
    WrongPassword,
    shown_username,
)
from layers.access.policy import Viewer

if TYPE_CHECKING:
    from layers.access.accounts import UserRecord

log = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024  # longer is refused unhashed-for-storage; for sign-in it is just wrong

# One hasher for hashing and verifying, so the dummy verification costs what a real one does.
_HASHER = PasswordHasher()
_dummy_lock = threading.Lock()
_dummy_hash: list[str] = []


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` for the users file. Refuses blank, short or huge passwords
    (PasswordPolicyError, which never repeats the password)."""
    if not isinstance(password, str):
        raise PasswordPolicyError("expected text")
    if not password.strip():
        raise PasswordPolicyError("blank")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordPolicyError(f"shorter than {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordPolicyError(f"longer than {MAX_PASSWORD_LENGTH} characters")
    return _HASHER.hash(password)


def _dummy() -> str:
    with _dummy_lock:
        if not _dummy_hash:
            _dummy_hash.append(_HASHER.hash(secrets.token_urlsafe(24)))
        return _dummy_hash[0]


def _verify(stored_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored_hash, password)
    except VerifyMismatchError:
        return False
    except InvalidHashError:
        # A damaged stored hash fails at once; spend the usual time so it does not stand out.
        if stored_hash != _dummy():
            _verify(_dummy(), password)
        return False
    except VerificationError:
        return False


def authenticate(users: Mapping[str, UserRecord], username: str, password: str) -> Viewer:
    """The `Viewer` for these credentials, or a specific AuthenticationError.

    Every path runs one argon2 verification (a dummy one for an unknown user or an
    over-long password), so timing does not tell which usernames exist. DisabledUser is
    raised only after the right password. Log lines carry the username (if it looks like
    one) and the reason, never the password."""
    name = username.strip().lower() if isinstance(username, str) else ""
    record = users.get(name) if USERNAME_PATTERN.fullmatch(name) else None
    usable = isinstance(password, str) and 0 < len(password) <= MAX_PASSWORD_LENGTH
    if record is None:
        _verify(_dummy(), password if usable else "")
        log.info("sign-in refused for %s: unknown user", shown_username(name))
        raise UnknownUser(name)
    if usable:
        ok = _verify(record.password_hash, password)
    else:
        _verify(_dummy(), "")
        ok = False
    if not ok:
        if not record.password_hash.startswith("$argon2"):
            log.error("users file: the password hash of %s is not an argon2 hash", shown_username(name))
        log.info("sign-in refused for %s: wrong password", shown_username(name))
        raise WrongPassword(name)
    if record.disabled:
        log.info("sign-in refused for %s: account disabled", shown_username(name))
        raise DisabledUser(name)
    log.info("signed in: %s (%s, %s, %s)", shown_username(name), record.nation, record.clearance, record.role)
    return record.viewer()
