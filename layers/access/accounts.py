"""The local accounts: the users file, its lock, and adding, disabling and re-keying accounts.

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
"""

from __future__ import annotations

import dataclasses
import logging
import os
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.config import home
from ingest.errors import ConfigError
from layers.access.errors import USERNAME_PATTERN, UnknownUser
from layers.access.passwords import hash_password
from layers.access.policy import Viewer

log = logging.getLogger(__name__)

USERS_FILE_NAME = "users.toml"
_USER_KEYS = frozenset({"display_name", "nation", "clearance", "role", "password_hash", "disabled"})


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


def load_users(path: str | Path | None = None) -> dict[str, UserRecord]:
    """Accounts from the users file ``path``, or without it from where the configured store keeps
    them (layers/access/directory.py: ``$WATCHFLOOR_HOME/users.toml``, or the PostGIS store's
    table); {} if there are none.

    Raises ConfigError naming the user and setting for anything invalid. Messages name keys,
    never values of secrets. Warns when the file is readable by group or others."""
    if path is None:
        from layers.access.directory import directory

        return directory().users()
    path = Path(path)
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

    def change(users: dict[str, UserRecord]) -> None:
        if name in users and not replace:
            raise ConfigError(f"user {name}", "a new username (or --replace)", "already an account")
        users[name] = record

    _directory(path).change_users(change)
    return record


def set_disabled(path: str | Path | None, username: str, disabled: bool = True) -> UserRecord:
    """Disable (or enable again) an account, atomically. UnknownUser if there is none."""
    return _change_user(path, username, disabled=disabled)


def set_password(path: str | Path | None, username: str, password: str) -> None:
    """Replace an account's password hash, atomically. UnknownUser if there is none."""
    _change_user(path, username, password_hash=hash_password(password))


def import_users(source: str | Path, path: str | Path | None = None, *, replace: bool = False) -> list[str]:
    """Copy the accounts of a users file into the configured directory (the PostGIS store's table
    when there is one): how a site moves its users.toml to the shared database. Accounts that
    exist already are kept unless ``replace``. Returns the usernames copied."""
    incoming = load_users(Path(source))

    def change(users: dict[str, UserRecord]) -> list[str]:
        copied = [n for n in sorted(incoming) if replace or n not in users]
        users.update({n: incoming[n] for n in copied})
        return copied

    return _directory(path).change_users(change)


def _change_user(path: str | Path | None, username: str, **changes: object) -> UserRecord:
    def change(users: dict[str, UserRecord]) -> UserRecord:
        record = users.get(username)
        if record is None:
            raise UnknownUser(username)
        users[username] = dataclasses.replace(record, **changes)
        return users[username]

    return _directory(path).change_users(change)


def _directory(path: str | Path | None):
    """The users file ``path``, or the configured directory (layers/access/directory.py)."""
    from layers.access.directory import FileDirectory, directory

    return directory() if path is None else FileDirectory(Path(path))


def _check_display_name(text: object) -> None:
    if not isinstance(text, str) or len(text) > 200 or any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        raise ConfigError("display name", "text up to 200 characters, no control characters", text)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigError("display name", "valid Unicode text", text) from None
