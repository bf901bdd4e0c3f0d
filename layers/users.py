"""Sign-in without internet: a local users file, argon2 password hashes, sessions.

Watch floors run air-gapped, so the default is a file, ``$WATCHFLOOR_HOME/users.toml``,
written by ``watchfloor users add`` and read with tomllib::

    [users.amartin]
    display_name = "Capt. A. Martin"
    nation = "FRA"                 # ISO 3166-1 alpha-3 (or XKX)
    clearance = "RESTRICTED"       # UNCLASSIFIED | RESTRICTED | CONFIDENTIAL | SECRET | TOP SECRET
    role = "analyst"               # viewer | analyst | administrator
    password_hash = "$argon2id$v=19$m=65536,t=3,p=4$..."
    disabled = false

The file holds argon2id hashes only (argon2-cffi, RFC 9106 defaults), never a
password; it is written atomically (temporary file, fsync, os.replace) with
mode 0600, under a lock so two ``users add`` cannot lose each other's change.
Unknown keys are refused rather than ignored, so ``disable = true`` (a typo)
cannot leave an account silently enabled.

`authenticate` raises a distinct error per cause (layers/auth_errors.py), but
spends the same argon2 verification on every path: an unknown username is
checked against a dummy hash, so response time does not reveal which
usernames exist; a disabled account is reported only after the right
password. Passwords never reach a log line, an error message or a repr.

Sessions (`Session`, `check_session`) expire after a fixed lifetime (12 h by
default: a watch plus handover); given the users, `check_session` also
re-reads the account so disabling a user or lowering a clearance takes effect
on the next rerun, not at the next sign-in.

Optional OIDC (a site identity provider), configuration only, no network code
here: the site's authenticating proxy or Streamlit's OIDC login verifies the ID
token; `oidc_viewer` maps the verified claims to a `Viewer`. In
``$WATCHFLOOR_HOME/watchfloor.toml``::

    [auth]
    method = "oidc"                       # default "local" (this users file)
    session_hours = 12

    [auth.oidc]
    issuer = "https://idp.mission.example/realms/watchfloor"
    client_id = "watchfloor"
    # the client secret comes from the environment (WATCHFLOOR_OIDC_CLIENT_SECRET), never this file
    username_claim = "preferred_username"
    display_name_claim = "name"
    nation_claim = "nationality"         # must hold an alpha-3 code
    clearance_claim = "clearance"        # a level name or abbreviation
    role_claim = "roles"                 # text or a list; highest mapped role wins
    default_role = "viewer"              # when no role is mapped; "" to refuse instead

    [auth.oidc.roles]                    # claim value -> watchfloor role
    "wf-admins" = "administrator"
    "wf-analysts" = "analyst"

Claims without a readable nation or clearance are refused (ClaimsRefused): we
cannot decide what such a person may see.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import secrets
import sys
import tempfile
import threading
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ingest.config import home, settings
from ingest.errors import ConfigError
from ingest.markings import LEVELS, is_nation, level_of
from layers.access import ADMIN, ROLES, Viewer
from layers.auth_errors import (
    USERNAME_PATTERN,
    ClaimsRefused,
    DisabledUser,
    PasswordPolicyError,
    SessionExpired,
    UnknownUser,
    WrongPassword,
    shown_username,
)

log = logging.getLogger(__name__)

USERS_FILE_NAME = "users.toml"
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024  # longer is refused unhashed-for-storage; for sign-in it is just wrong
DEFAULT_SESSION_LIFETIME = timedelta(hours=12)
CLOCK_SKEW = timedelta(minutes=5)
_USER_KEYS = frozenset({"display_name", "nation", "clearance", "role", "password_hash", "disabled"})

# One hasher for hashing and verifying, so the dummy verification costs what a real one does.
_HASHER = PasswordHasher()
_dummy_lock = threading.Lock()
_dummy_hash: list[str] = []


def users_path() -> Path:
    return home() / USERS_FILE_NAME


@dataclass(frozen=True)
class UserRecord:
    """One account as stored. The hash is left out of repr so a logged record shows no secret material."""

    username: str
    nation: str
    clearance: str
    role: str
    password_hash: str = field(repr=False)
    display_name: str = ""
    disabled: bool = False

    def viewer(self) -> Viewer:
        return Viewer(self.username, self.nation, self.clearance, self.role, self.display_name or self.username)


# -- passwords ---------------------------------------------------------------------------------

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


# -- throttling --------------------------------------------------------------------------------

class _FailureTable:
    """Failures per key with a bounded size that can never be used to forget a locked key.

    A flood of made-up names must not grow memory without bound, and must not push a
    locked-out name out of the table either (that would reset its lockout: the attack the
    bound invites). So when the table is full, forgotten first are keys whose last failure
    is older than their own wait (they would not be throttled now anyway), then unlocked keys,
    oldest first; locked keys are never dropped early. A key that finds the table full of
    locked keys is counted in one shared overflow entry, which throttles all such keys
    together: a flood slows itself down."""

    OVERFLOW = "\x00overflow"

    def __init__(self, free: int, base: float, cap: float, max_entries: int) -> None:
        self.free, self.base, self.cap, self.max_entries = free, base, cap, max_entries
        self._fails: dict[str, tuple[int, datetime]] = {}

    def _delay(self, count: int) -> float:
        return 0.0 if count < self.free else min(self.cap, self.base * 2 ** (count - self.free))

    def _remaining(self, entry: tuple[int, datetime], now: datetime) -> float:
        count, last = entry
        return max(0.0, self._delay(count) - (now - last).total_seconds())

    def _slot(self, key: str) -> str:
        return key if key in self._fails or len(self._fails) < self.max_entries else self.OVERFLOW

    def wait(self, key: str, now: datetime) -> float:
        entry = self._fails.get(key)
        if entry is None and len(self._fails) >= self.max_entries:
            entry = self._fails.get(self.OVERFLOW)  # an untracked key shares the flood's wait
        return self._remaining(entry, now) if entry else 0.0

    def failed(self, key: str, now: datetime) -> None:
        if key not in self._fails and len(self._fails) >= self.max_entries:
            self._make_room(now)
        slot = self._slot(key)
        count, _ = self._fails.get(slot, (0, now))
        self._fails[slot] = (count + 1, now)

    def clear(self, key: str) -> None:
        self._fails.pop(key, None)

    def _make_room(self, now: datetime) -> None:
        """Drop what may be dropped (see the class doc) until a tenth of the table is free."""
        target = self.max_entries - max(1, self.max_entries // 10)
        # 1. keys that would not be throttled now and whose wait has long passed
        stale = [k for k, e in self._fails.items() if k != self.OVERFLOW and self._remaining(e, now) == 0
                 and (now - e[1]).total_seconds() > max(self.cap, self.base)]
        for k in stale:
            del self._fails[k]
        if len(self._fails) <= target:
            return
        # 2. unlocked keys, oldest first
        unlocked = sorted((e[1], k) for k, e in self._fails.items()
                          if k != self.OVERFLOW and self._remaining(e, now) == 0)
        for _, k in unlocked[: len(self._fails) - target]:
            del self._fails[k]

    def __len__(self) -> int:
        return len(self._fails)


class SignInThrottle:
    """Slows password guessing, per account and per client.

    Per account: after ``free`` consecutive failures for one username the next attempt waits
    ``base`` seconds, doubling per further failure up to ``cap``; applied to every name alike,
    known or not, so it reveals nothing about which accounts exist; a success clears the name.
    Per client (its network address): the same with ``client_free`` failures, whatever names
    they tried, so one client cannot spray guesses across many names; a success does not clear
    it. Both tables are bounded and never evict a locked entry early (`_FailureTable`). One per
    dashboard process (shared by its sessions), thread-safe."""

    def __init__(self, free: int = 5, base: float = 30.0, cap: float = 900.0, *, client_free: int = 20,
                 max_entries: int = 10_000) -> None:
        self.free, self.base, self.cap = free, base, cap
        self._lock = threading.Lock()
        self._accounts = _FailureTable(free, base, cap, max_entries)
        self._clients = _FailureTable(client_free, base, cap, max_entries)

    @staticmethod
    def _key(username: object) -> str:
        return username.strip().lower()[:64] if isinstance(username, str) else ""

    def wait_seconds(self, username: object, now: datetime | None = None, *, client: str | None = None) -> float:
        """How long before ``username`` (from ``client``) may try again (0: now)."""
        now = now or datetime.now(timezone.utc)
        with self._lock:
            wait = self._accounts.wait(self._key(username), now)
            if client:
                wait = max(wait, self._clients.wait(client, now))
        return wait

    def failed(self, username: object, now: datetime | None = None, *, client: str | None = None) -> None:
        now = now or datetime.now(timezone.utc)
        with self._lock:
            self._accounts.failed(self._key(username), now)
            if client:
                self._clients.failed(client, now)

    def succeeded(self, username: object) -> None:
        with self._lock:
            self._accounts.clear(self._key(username))

    def sizes(self) -> tuple[int, int]:
        """Entries held (accounts, clients): bounded by ``max_entries`` each."""
        with self._lock:
            return len(self._accounts), len(self._clients)


# -- sessions ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Session:
    """A signed-in viewer and the validity of that sign-in (tz-aware UTC instants). Holds no secret."""

    viewer: Viewer
    issued_at: datetime
    expires_at: datetime


def start_session(viewer: Viewer, *, now: datetime | None = None,
                  lifetime: timedelta = DEFAULT_SESSION_LIFETIME) -> Session:
    now = _utc(now or datetime.now(timezone.utc), "now")
    return Session(viewer, now, now + lifetime)


def check_session(session: Session | None, now: datetime | None = None,
                  users: Mapping[str, UserRecord] | None = None) -> Viewer:
    """The session's viewer if the session is still valid at ``now``, else SessionExpired.

    A session issued in the future (beyond a few minutes of clock skew) is refused too.
    With ``users``, the account is read again: gone -> UnknownUser, disabled ->
    DisabledUser, and the returned viewer carries the current nation, clearance and role."""
    if not isinstance(session, Session):
        raise SessionExpired(None, "no session")
    now = _utc(now or datetime.now(timezone.utc), "now")
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
    return t.astimezone(timezone.utc)


# -- the users file ----------------------------------------------------------------------------

def load_users(path: str | Path | None = None) -> dict[str, UserRecord]:
    """Accounts from the users file (default ``$WATCHFLOOR_HOME/users.toml``); {} if there is none.

    Raises ConfigError naming the user and setting for anything invalid. Messages name keys,
    never values of secrets. Warns when the file is readable by group or others."""
    path = Path(path) if path is not None else users_path()
    if not path.exists():
        return {}
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        log.warning("users file %s has mode %o: it should be readable by its owner only (chmod 600)", path, mode)
    try:
        with path.open("rb") as fh:
            doc = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"users file {path}", "valid TOML", str(exc)) from None
    extra = set(doc) - {"users"}
    if extra:
        raise ConfigError(f"users file {path}", "only [users.NAME] tables", sorted(extra))
    table = doc.get("users", {})
    if not isinstance(table, dict):
        raise ConfigError(f"users file {path}", "[users.NAME] tables", type(table).__name__)
    return {name: _record(path, name, body) for name, body in table.items()}


def _record(path: Path, name: str, body: Any) -> UserRecord:
    where = f"{path}: users.{name}"
    if not USERNAME_PATTERN.fullmatch(name):
        raise ConfigError(where, "a username of lower-case letters, digits, '.', '_' or '-' (max 64)", name)
    if not isinstance(body, dict):
        raise ConfigError(where, "a table", type(body).__name__)
    unknown = set(body) - _USER_KEYS
    if unknown:
        raise ConfigError(where, f"only the keys {', '.join(sorted(_USER_KEYS))}", sorted(unknown))
    missing = {"nation", "clearance", "role", "password_hash"} - set(body)
    if missing:
        raise ConfigError(where, "nation, clearance, role and password_hash", f"missing {sorted(missing)}")
    h = body["password_hash"]
    if not isinstance(h, str) or not h.startswith("$argon2"):
        raise ConfigError(f"{where}.password_hash", "an argon2 hash from `watchfloor users add`",
                          "<not an argon2 hash>")
    disabled = body.get("disabled", False)
    if not isinstance(disabled, bool):
        raise ConfigError(f"{where}.disabled", "true or false", disabled)
    display = body.get("display_name", "")
    if not isinstance(display, str):
        raise ConfigError(f"{where}.display_name", "text", display)
    try:
        viewer = Viewer(name, body["nation"], body["clearance"], body["role"], display)
    except ValueError as exc:
        raise ConfigError(where, "a valid nation, clearance and role", str(exc)) from None
    return UserRecord(name, viewer.nation, viewer.clearance, viewer.role, h, display, disabled)


def write_users(path: str | Path, records: Mapping[str, UserRecord] | list[UserRecord]) -> None:
    """Write the whole users file atomically, mode 0600: a crash leaves the old file or the new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    items = sorted(records.values() if isinstance(records, Mapping) else records, key=lambda r: r.username)
    lines = ["# watchfloor users: written by `watchfloor users add`. Passwords are stored as argon2 hashes only.",
             "# Keep this file readable by its owner only (mode 0600).", ""]
    for r in items:
        lines += [
            f"[users.{_toml_str(r.username)}]",
            f"display_name = {_toml_str(r.display_name)}",
            f"nation = {_toml_str(r.nation)}",
            f"clearance = {_toml_str(r.clearance)}",
            f"role = {_toml_str(r.role)}",
            f"password_hash = {_toml_str(r.password_hash)}",
            f"disabled = {'true' if r.disabled else 'false'}",
            "",
        ]
    atomic_write(path, "\n".join(lines).encode("utf-8"))


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically, mode 0600: a crash leaves the old file or the
    new one, never half of either (temporary file, fsync, os.replace, fsync of the folder)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    os.chmod(path, 0o600)
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def _toml_str(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = ['"']
    for ch in text:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\u{o:04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _lock(path: Path):
    from filelock import FileLock

    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(str(path) + ".lock", timeout=30)


def add_user(path: str | Path | None, username: str, password: str, *, nation: str, clearance: str,
             role: str = "viewer", display_name: str = "", disabled: bool = False,
             replace: bool = False) -> UserRecord:
    """Add (or with ``replace``, overwrite) an account in the users file, atomically.

    Everything is validated before the file is touched: username, nation, clearance,
    role, display name, password policy. Raises ConfigError if the user exists and
    ``replace`` is false."""
    path = Path(path) if path is not None else users_path()
    name = username.strip().lower() if isinstance(username, str) else ""
    if not USERNAME_PATTERN.fullmatch(name):
        raise ConfigError("username", "lower-case letters, digits, '.', '_' or '-' (max 64)", username)
    _check_display_name(display_name)
    try:
        viewer = Viewer(name, nation, clearance, role, display_name)
    except ValueError as exc:
        raise ConfigError(f"user {name}", "a valid nation, clearance and role", str(exc)) from None
    record = UserRecord(name, viewer.nation, viewer.clearance, viewer.role, hash_password(password),
                        display_name, disabled)
    with _lock(path):
        users = load_users(path)
        if name in users and not replace:
            raise ConfigError(f"user {name}", "a new username (or --replace)", "already in the users file")
        users[name] = record
        write_users(path, users)
    return record


def set_disabled(path: str | Path | None, username: str, disabled: bool = True) -> UserRecord:
    """Disable (or enable again) an account, atomically. UnknownUser if there is none."""
    path = Path(path) if path is not None else users_path()
    with _lock(path):
        users = load_users(path)
        record = users.get(username)
        if record is None:
            raise UnknownUser(username)
        users[username] = UserRecord(record.username, record.nation, record.clearance, record.role,
                                     record.password_hash, record.display_name, disabled)
        write_users(path, users)
    return users[username]


def set_password(path: str | Path | None, username: str, password: str) -> None:
    """Replace an account's password hash, atomically. UnknownUser if there is none."""
    path = Path(path) if path is not None else users_path()
    new_hash = hash_password(password)
    with _lock(path):
        users = load_users(path)
        record = users.get(username)
        if record is None:
            raise UnknownUser(username)
        users[username] = UserRecord(record.username, record.nation, record.clearance, record.role,
                                     new_hash, record.display_name, record.disabled)
        write_users(path, users)


def _check_display_name(text: object) -> None:
    if not isinstance(text, str) or len(text) > 200 or any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        raise ConfigError("display name", "text up to 200 characters, no control characters", text)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigError("display name", "valid Unicode text", text) from None


# -- command line: `watchfloor users ...` -------------------------------------------------------

def add_users_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Sub-commands of ``watchfloor users``: add, list, disable, enable, passwd, bootstrap.

    Passwords are never command-line arguments (they would sit in shell history and
    the process list): they are prompted for twice, or read from stdin with
    --password-stdin for scripts."""
    parser.add_argument("--file", help="users file (default $WATCHFLOOR_HOME/users.toml)")
    sub = parser.add_subparsers(dest="users_command", required=True)
    a = sub.add_parser("add", help="add an account (prompts for the password)")
    a.add_argument("username")
    a.add_argument("--nation", required=True, help="ISO 3166-1 alpha-3, e.g. FRA")
    a.add_argument("--clearance", required=True, help=" | ".join(LEVELS))
    a.add_argument("--role", default="viewer", choices=ROLES)
    a.add_argument("--display-name", default="")
    a.add_argument("--disabled", action="store_true", help="create the account disabled")
    a.add_argument("--replace", action="store_true", help="overwrite an existing account")
    a.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    sub.add_parser("list", help="list accounts (no hashes)")
    for cmd, text in (("disable", "refuse this account's sign-ins"), ("enable", "allow this account again")):
        p = sub.add_parser(cmd, help=text)
        p.add_argument("username")
    b = sub.add_parser("bootstrap", help="first run: create an administrator if the file has no account")
    b.add_argument("--username", default="admin")
    b.add_argument("--nation", default="GBR", help="the administrator's nation (default GBR)")
    b.add_argument("--clearance", default="SECRET", help="the administrator's clearance (default SECRET)")
    from layers.kiosk import add_kiosk_arguments

    add_kiosk_arguments(sub.add_parser("kiosk", help="wall displays that stay signed in (device tokens)"))
    pw = sub.add_parser("passwd", help="set an account's password (prompts for it)")
    pw.add_argument("username")
    pw.add_argument("--password-stdin", action="store_true")
    parser.set_defaults(func=users_command)
    return parser


def users_command(args: argparse.Namespace) -> int:
    """Run one ``watchfloor users`` sub-command; returns the exit code. Errors raise
    WatchfloorError subclasses (the CLI prints them and exits 2)."""
    path = Path(args.file) if getattr(args, "file", None) else users_path()
    cmd = args.users_command
    if cmd == "add":
        password = _read_password(bool(args.password_stdin))
        r = add_user(path, args.username, password, nation=args.nation, clearance=args.clearance,
                     role=args.role, display_name=args.display_name, disabled=args.disabled,
                     replace=args.replace)
        print(f"added {r.username} ({r.nation}, {r.clearance}, {r.role}{', disabled' if r.disabled else ''}) "
              f"to {path}")
        return 0
    if cmd == "list":
        for r in sorted(load_users(path).values(), key=lambda r: r.username):
            print("\t".join([r.username, r.display_name, r.nation, r.clearance, r.role,
                             "disabled" if r.disabled else "enabled"]))
        return 0
    if cmd in ("disable", "enable"):
        r = set_disabled(path, args.username, cmd == "disable")
        print(f"{r.username}: {'disabled' if r.disabled else 'enabled'}")
        return 0
    if cmd == "bootstrap":
        return bootstrap(path, args.username, nation=args.nation, clearance=args.clearance)
    if cmd == "kiosk":
        from layers.kiosk import kiosk_command

        return kiosk_command(args, path.with_name("kiosks.toml") if getattr(args, "file", None) else None)
    if cmd == "passwd":
        set_password(path, args.username, _read_password(bool(args.password_stdin)))
        print(f"{args.username}: password changed")
        return 0
    raise ConfigError("users command", "add, list, disable, enable or passwd", cmd)


def bootstrap(path: Path, username: str, *, nation: str, clearance: str) -> int:
    """First run (``make run``): with no accounts yet, create one administrator so somebody can
    sign in and add the others. At a terminal the password is asked for; otherwise (a script, CI)
    a random one is generated and shown once on this terminal, for the operator to change with
    ``watchfloor users passwd``. Only its argon2 hash is stored; nothing is logged."""
    existing = load_users(path) if path.exists() else {}
    if existing:
        print(f"{path}: {len(existing)} account(s) already; nothing to do")
        return 0
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    password = _read_password(False) if interactive else secrets.token_urlsafe(15)
    r = add_user(path, username, password, nation=nation, clearance=clearance, role=ADMIN,
                 display_name="Administrator")
    print(f"created administrator {r.username} ({r.nation}, {r.clearance}) in {path}")
    if not interactive:
        print(f"  one-time password: {password}\n  sign in, then change it: watchfloor users passwd {r.username}; "
              f"add people with: watchfloor users add NAME --nation XXX --clearance LEVEL --role analyst")
    return 0


def sign_in_cli(username: str, password_stdin: bool) -> Viewer:
    """A command-line sign-in (`watchfloor export`, `watchfloor alerts ack`): the viewer for ``username``
    after checking the password against the users file, asked once (or one line of stdin).

    Raises ConfigError when the users file holds no account (nobody can sign in, so the
    password is not asked for), else `authenticate`'s AuthenticationError."""
    users = load_users()
    if not users:
        raise ConfigError(f"users file {users_path()}", "at least one account (add one with "
                          "`watchfloor users add`)", "no accounts")
    password = _read_password(True) if password_stdin else getpass.getpass("Password: ")
    return authenticate(users, username, password)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        return line.removesuffix("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != first:
        raise PasswordPolicyError("the two entries differ")
    return first


# -- OIDC claims -> Viewer (no network) ---------------------------------------------------------

@dataclass(frozen=True)
class OidcMapping:
    """Which ID-token claims hold what (see the module doc for the TOML)."""

    username_claim: str = "preferred_username"
    display_name_claim: str = "name"
    nation_claim: str = "nationality"
    clearance_claim: str = "clearance"
    role_claim: str = "roles"
    roles: Mapping[str, str] = field(default_factory=dict)  # claim value -> role; empty: values are role names
    default_role: str | None = "viewer"
    issuer: str = ""
    client_id: str = ""

    def __post_init__(self) -> None:
        bad = {k: v for k, v in self.roles.items() if v not in ROLES}
        if bad:
            raise ConfigError("auth.oidc.roles", f"roles among {', '.join(ROLES)}", bad)
        if self.default_role not in (None, *ROLES):
            raise ConfigError("auth.oidc.default_role", f"one of {', '.join(ROLES)} or empty", self.default_role)


def oidc_mapping(site_settings: Mapping[str, Any] | None = None) -> OidcMapping:
    """The [auth.oidc] table of watchfloor.toml as an OidcMapping (defaults for what it omits)."""
    conf = dict((site_settings if site_settings is not None else settings()).get("auth", {}).get("oidc", {}))
    allowed = {f for f in OidcMapping.__dataclass_fields__}
    unknown = set(conf) - allowed
    if unknown:
        raise ConfigError("auth.oidc", f"only the keys {', '.join(sorted(allowed))}", sorted(unknown))
    if "default_role" in conf and conf["default_role"] == "":
        conf["default_role"] = None
    return OidcMapping(**conf)


def oidc_viewer(claims: Mapping[str, Any], mapping: OidcMapping | Mapping[str, Any] | None = None) -> Viewer:
    """The Viewer for an identity provider's VERIFIED ID-token claims.

    Refuses (ClaimsRefused) claims without a username, an alpha-3 nation or a readable
    clearance, and without a role when no default role is configured. A role claim may be
    text or a list; the highest role it maps to wins."""
    m = mapping if isinstance(mapping, OidcMapping) else oidc_mapping({"auth": {"oidc": dict(mapping or {})}})
    if m.issuer and str(claims.get("iss", "")).rstrip("/") != m.issuer.rstrip("/"):
        raise ClaimsRefused(None, f"issuer {str(claims.get('iss'))[:200]!r} is not the configured {m.issuer!r}")
    username = claims.get(m.username_claim)
    if not isinstance(username, str) or not username.strip():
        raise ClaimsRefused(None, f"no {m.username_claim!r} claim")
    username = username.strip()
    nation = claims.get(m.nation_claim)
    if not is_nation(nation):
        raise ClaimsRefused(username, f"claim {m.nation_claim!r} is not an ISO 3166-1 alpha-3 code")
    clearance = claims.get(m.clearance_claim)
    if level_of(clearance) is None:
        raise ClaimsRefused(username, f"claim {m.clearance_claim!r} is not a clearance level")
    raw_roles = claims.get(m.role_claim)
    values = [raw_roles] if isinstance(raw_roles, str) else list(raw_roles) if isinstance(raw_roles, list) else []
    mapped = [m.roles.get(v) if m.roles else (v if v in ROLES else None) for v in values if isinstance(v, str)]
    found = [r for r in mapped if r is not None]
    role = max(found, key=ROLES.index) if found else m.default_role
    if role is None:
        raise ClaimsRefused(username, f"claim {m.role_claim!r} maps to no watchfloor role")
    display = claims.get(m.display_name_claim)
    return Viewer(username, nation, clearance, role, display if isinstance(display, str) else username)
