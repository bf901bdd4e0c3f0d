"""Wall displays that stay signed in: enrolled kiosks with revocable device tokens.

A wall screen has no keyboard and nobody at it. A personal sign-in lasts one
browser tab, so every reload or restart of the wall's browser would leave a
sign-in form on the wall until someone walks up. Instead an administrator
*enrols* the display:

1. ``watchfloor users kiosk add wall-1 --nation GBR --clearance SECRET`` records the
   display (view-only, a nation and a clearance, an expiry: 90 days by default) and
   prints a one-time enrolment link, valid for 15 minutes.
2. Opened on the wall's browser, the link (``/kiosk/enrol``, dashboard/server.py)
   exchanges the one-time code for a long random device token, held in a cookie
   that scripts cannot read (HttpOnly), that is never sent from another site
   (SameSite=Strict), and that survives browser restarts until the expiry.
3. Every rerun and every refresh of the wall checks the token against this file
   (`check_token`): ``watchfloor users kiosk revoke wall-1`` takes effect on the
   next refresh, and so does an expiry.

Only SHA-256 hashes of codes and tokens are stored: they are 256-bit random
values, so a fast hash is enough (a slow password hash guards low-entropy
secrets). The file, ``$WATCHFLOOR_HOME/kiosks.toml``, is written like the users
file: atomically, mode 0600, under a lock.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ingest.config import home
from ingest.errors import ConfigError
from layers.access.accounts import _toml_str, atomic_write
from layers.access.errors import USERNAME_PATTERN, KioskRefused
from layers.access.policy import Viewer

KIOSKS_FILE_NAME = "kiosks.toml"
COOKIE_NAME = "wf_kiosk"
DEFAULT_LIFETIME = timedelta(days=90)
MAX_LIFETIME = timedelta(days=400)
ENROL_WINDOW = timedelta(minutes=15)
KIOSK_ROLE = "viewer"  # a wall watches; it never exports, acknowledges or draws
_KEYS = frozenset({"nation", "clearance", "created_at", "expires_at", "enrol_code_hash", "enrol_expires_at",
                   "token_hash", "revoked_at", "created_by"})


def kiosks_path() -> Path:
    return home() / KIOSKS_FILE_NAME


@dataclass(frozen=True)
class Kiosk:
    """One enrolled (or enrolling) display. Hashes only; never the code or the token."""

    name: str
    nation: str
    clearance: str
    created_at: datetime
    expires_at: datetime
    created_by: str = ""
    enrol_code_hash: str | None = None
    enrol_expires_at: datetime | None = None
    token_hash: str | None = None
    revoked_at: datetime | None = None

    def viewer(self) -> Viewer:
        return Viewer(f"kiosk:{self.name}", self.nation, self.clearance, KIOSK_ROLE, f"Wall display {self.name}")

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if now >= self.expires_at:
            return "expired"
        if self.token_hash is None:
            return "awaiting enrolment" if self.enrol_expires_at and now < self.enrol_expires_at else "not enrolled"
        return "enrolled"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).astimezone(UTC)


# -- the file -------------------------------------------------------------------------------

def load_kiosks(path: Path | None = None) -> dict[str, Kiosk]:
    """The kiosks file ``path`` as records, or without it the displays where the configured store
    keeps them (layers/access/directory.py); {} if there are none. ConfigError names anything invalid."""
    if path is None:
        from layers.access.directory import directory

        return directory().kiosks()
    if not path.exists():
        return {}
    try:
        with path.open("rb") as fh:
            doc = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"kiosks file {path}", "valid TOML", str(exc)) from None
    table = doc.get("kiosks", {})
    if set(doc) - {"kiosks"} or not isinstance(table, dict):
        raise ConfigError(f"kiosks file {path}", "only [kiosks.NAME] tables", sorted(doc))
    return {name: _record(path, name, body) for name, body in table.items()}


def _record(path: Path, name: str, body: Any) -> Kiosk:
    where = f"{path}: kiosks.{name}"
    if not USERNAME_PATTERN.fullmatch(name) or not isinstance(body, dict):
        raise ConfigError(where, "a display name of lower-case letters, digits, '.', '_' or '-'", name)
    unknown = set(body) - _KEYS
    if unknown:
        raise ConfigError(where, f"only the keys {', '.join(sorted(_KEYS))}", sorted(unknown))
    try:
        viewer = Viewer(f"kiosk:{name}", body.get("nation"), body.get("clearance"), KIOSK_ROLE)
    except ValueError as exc:
        raise ConfigError(where, "a valid nation and clearance", str(exc)) from None

    def when(key: str, required: bool = False) -> datetime | None:
        value = body.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ConfigError(f"{where}.{key}", "an offset date-time (e.g. 2026-12-04T10:00:00Z)", value)
        return value.astimezone(UTC)

    return Kiosk(name, viewer.nation, viewer.clearance, when("created_at", True), when("expires_at", True),
                 str(body.get("created_by", "")), body.get("enrol_code_hash"), when("enrol_expires_at"),
                 body.get("token_hash"), when("revoked_at"))


def write_kiosks(path: Path, kiosks: Mapping[str, Kiosk]) -> None:
    lines = ["# watchfloor wall displays: written by `watchfloor users kiosk`. SHA-256 hashes of one-time",
             "# enrolment codes and device tokens only. Keep this file readable by its owner only.", ""]
    for k in sorted(kiosks.values(), key=lambda k: k.name):
        lines.append(f"[kiosks.{_toml_str(k.name)}]")
        for key in ("nation", "clearance", "created_by", "enrol_code_hash", "token_hash"):
            value = getattr(k, key)
            if value:
                lines.append(f"{key} = {_toml_str(value)}")
        for key in ("created_at", "expires_at", "enrol_expires_at", "revoked_at"):
            value = getattr(k, key)
            if value is not None:
                lines.append(f"{key} = {value.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}")
        lines.append("")
    atomic_write(path, "\n".join(lines).encode("utf-8"))


def _directory(path: Path | None):
    """The kiosks file ``path``, or the configured directory (layers/access/directory.py)."""
    from layers.access.directory import FileDirectory, directory

    return directory() if path is None else FileDirectory(kiosks_file=path)


def _update(path: Path | None, name: str, change) -> Kiosk:
    def run(kiosks: dict[str, Kiosk]) -> Kiosk:
        kiosks[name] = change(kiosks.get(name))
        return kiosks[name]

    return _directory(path).change_kiosks(run)


# -- what administrators do ---------------------------------------------------------------------

def add_kiosk(name: str, *, nation: str, clearance: str, lifetime: timedelta = DEFAULT_LIFETIME,
              by: str = "", path: Path | None = None, now: datetime | None = None,
              replace_existing: bool = False) -> tuple[Kiosk, str]:
    """Record a display and return it with its one-time enrolment code (shown once, stored hashed)."""
    now = _now(now)
    if not USERNAME_PATTERN.fullmatch(name or ""):
        raise ConfigError("kiosk name", "lower-case letters, digits, '.', '_' or '-' (max 64)", name)
    if not (timedelta(0) < lifetime <= MAX_LIFETIME):
        raise ConfigError("kiosk lifetime", f"more than 0 and at most {MAX_LIFETIME.days} days", lifetime)
    try:
        viewer = Viewer(f"kiosk:{name}", str(nation).strip().upper(), clearance, KIOSK_ROLE)
    except ValueError as exc:
        raise ConfigError(f"kiosk {name}", "a valid nation and clearance", str(exc)) from None
    code = secrets.token_urlsafe(24)

    def change(old: Kiosk | None) -> Kiosk:
        if old is not None and not replace_existing:
            raise ConfigError(f"kiosk {name}", "a new display name (or --replace)", "already enrolled")
        return Kiosk(name, viewer.nation, viewer.clearance, now, now + lifetime, by, _hash(code),
                     now + ENROL_WINDOW)

    return _update(path, name, change), code


def new_enrolment_code(name: str, *, path: Path | None = None, now: datetime | None = None) -> str:
    """A fresh one-time code for a display (its browser profile was wiped): the old token stops working."""
    now = _now(now)
    code = secrets.token_urlsafe(24)

    def change(old: Kiosk | None) -> Kiosk:
        if old is None:
            raise KioskRefused(name, "no such display")
        if old.revoked_at is not None:
            raise KioskRefused(name, "revoked; add it again with --replace")
        return replace(old, enrol_code_hash=_hash(code), enrol_expires_at=now + ENROL_WINDOW, token_hash=None)

    _update(path, name, change)
    return code


def revoke_kiosk(name: str, *, path: Path | None = None, now: datetime | None = None) -> Kiosk:
    """Revoke a display: its token is refused from the next refresh on, and it cannot re-enrol."""
    now = _now(now)

    def change(old: Kiosk | None) -> Kiosk:
        if old is None:
            raise KioskRefused(name, "no such display")
        return replace(old, revoked_at=old.revoked_at or now, enrol_code_hash=None, enrol_expires_at=None)

    return _update(path, name, change)


# -- what a display does ------------------------------------------------------------------------

def enrol(code: str, *, path: Path | None = None, now: datetime | None = None) -> tuple[Kiosk, str]:
    """Exchange a one-time enrolment code for a device token (returned once; stored hashed).

    The code works once and for ENROL_WINDOW; the token until the display's expiry."""
    now = _now(now)
    digest = _hash(code) if isinstance(code, str) and 0 < len(code) <= 200 else None
    token = secrets.token_urlsafe(32)

    def run(kiosks: dict[str, Kiosk]) -> Kiosk:
        match = next((k for k in kiosks.values() if digest and k.enrol_code_hash
                      and hmac.compare_digest(k.enrol_code_hash, digest)), None)
        if match is None:
            raise KioskRefused(None, "unknown or already used enrolment code")
        if match.revoked_at is not None or now >= match.expires_at:
            raise KioskRefused(match.name, "display revoked or expired")
        if match.enrol_expires_at is None or now >= match.enrol_expires_at:
            raise KioskRefused(match.name, "enrolment code expired; ask for a new one")
        kiosks[match.name] = replace(match, enrol_code_hash=None, enrol_expires_at=None, token_hash=_hash(token))
        return kiosks[match.name]

    return _directory(path).change_kiosks(run), token


def check_token(token: object, kiosks: Mapping[str, Kiosk], now: datetime | None = None) -> Kiosk:
    """The display a device token belongs to, if it is enrolled, unrevoked and unexpired."""
    now = _now(now)
    if not isinstance(token, str) or not 0 < len(token) <= 200:
        raise KioskRefused(None, "no device token")
    digest = _hash(token)
    kiosk = next((k for k in kiosks.values() if k.token_hash and hmac.compare_digest(k.token_hash, digest)), None)
    if kiosk is None:
        raise KioskRefused(None, "unknown device token")
    if kiosk.revoked_at is not None:
        raise KioskRefused(kiosk.name, "display revoked")
    if now >= kiosk.expires_at:
        raise KioskRefused(kiosk.name, "display enrolment expired")
    return kiosk


# -- command line: `watchfloor users kiosk ...` -------------------------------------------------

def add_kiosk_arguments(parser) -> None:
    """``watchfloor users kiosk add|list|code|revoke``: enrol wall displays."""
    sub = parser.add_subparsers(dest="kiosk_command", required=True)
    a = sub.add_parser("add", help="record a wall display and print its one-time enrolment link")
    a.add_argument("name", help="display name, e.g. wall-1")
    a.add_argument("--nation", required=True, help="ISO 3166-1 alpha-3: what the wall may show is decided by it")
    a.add_argument("--clearance", required=True, help="the highest level the wall's room may display")
    a.add_argument("--days", type=float, default=DEFAULT_LIFETIME.days, help="valid for (default 90, at most 400)")
    a.add_argument("--url", default="http://localhost:8501", help="the dashboard's address, for the link")
    a.add_argument("--replace", action="store_true", help="replace a display of that name")
    sub.add_parser("list", help="list wall displays (no secrets)")
    c = sub.add_parser("code", help="a new one-time enrolment link (the display's current token stops working)")
    c.add_argument("name")
    c.add_argument("--url", default="http://localhost:8501")
    r = sub.add_parser("revoke", help="refuse a display's token from its next refresh on")
    r.add_argument("name")


def enrolment_link(url: str, code: str) -> str:
    return f"{url.rstrip('/')}/kiosk/enrol?code={code}"


def kiosk_command(args, path: Path | None = None) -> int:
    import getpass

    cmd = args.kiosk_command
    if cmd == "add":
        kiosk, code = add_kiosk(args.name, nation=args.nation, clearance=args.clearance,
                                lifetime=timedelta(days=args.days), by=getpass.getuser(), path=path,
                                replace_existing=args.replace)
        print(f"wall display {kiosk.name}: {kiosk.nation}, {kiosk.clearance}, view only, until "
              f"{kiosk.expires_at:%Y-%m-%d %H:%M} UTC")
        print(f"  open this link on the wall's browser within {int(ENROL_WINDOW.total_seconds() // 60)} min "
              f"(it works once):\n  {enrolment_link(args.url, code)}")
        return 0
    if cmd == "list":
        now = _now(None)
        for k in sorted(load_kiosks(path).values(), key=lambda k: k.name):
            print("\t".join([k.name, k.nation, k.clearance, k.state(now),
                             f"until {k.expires_at:%Y-%m-%d}", k.created_by]))
        return 0
    if cmd == "code":
        code = new_enrolment_code(args.name, path=path)
        print(f"new enrolment link for {args.name} (works once, for {int(ENROL_WINDOW.total_seconds() // 60)} "
              f"min):\n  {enrolment_link(args.url, code)}")
        return 0
    if cmd == "revoke":
        k = revoke_kiosk(args.name, path=path)
        print(f"{k.name}: revoked; the display shows the sign-in form from its next refresh")
        return 0
    raise ConfigError("kiosk command", "add, list, code or revoke", cmd)
