"""Where accounts and wall displays live: local files, or the shared PostGIS store.

With the embedded store (the default) they are ``$WATCHFLOOR_HOME/users.toml`` and
``kiosks.toml`` (layers/access/accounts.py, kiosk.py). With ``WATCHFLOOR_STORE=postgresql://...``
they are the tables ``watchfloor_users`` and ``watchfloor_kiosks`` (migration 0005), so every
dashboard machine signs people in against the same accounts, and a ``watchfloor users disable``
or ``users kiosk revoke`` run anywhere is refused by every dashboard on its next refresh:
`stamp` changes with every change (a row of ``watchfloor_versions``, bumped in the same
transaction), and the dashboard re-reads the accounts when it does, as it re-reads the files
when their mtime changes.

Both kinds of directory offer the same operations: read everything, a cheap `stamp`, and
`change_users` / `change_kiosks`, a read-modify-write of the whole set that is atomic and
serialised (a file lock; a transaction holding an advisory lock), so two administrators cannot
lose each other's change. The database one writes only the rows and columns that changed: a
dashboard's reader login may record a display's enrolment (three columns) and nothing else.
Which rows a login sees is decided by row-level security (README, "Database roles and credentials").
"""

from __future__ import annotations

import functools
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable
from dataclasses import fields
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from ingest import config

if TYPE_CHECKING:
    from layers.access.accounts import UserRecord
    from layers.access.kiosk import Kiosk

log = logging.getLogger(__name__)
T = TypeVar("T")
USERS_VERSION = "_users"
KIOSKS_VERSION = "_kiosks"


class Directory(ABC):
    """Accounts and wall displays, read and changed as wholes."""

    where: str  # for messages: a file path or host:port/dbname, never a password

    @abstractmethod
    def users(self) -> dict[str, UserRecord]: ...

    @abstractmethod
    def kiosks(self) -> dict[str, Kiosk]: ...

    @abstractmethod
    def stamp(self, kind: str) -> Hashable:
        """Changes whenever ``kind`` ('users' or 'kiosks') changes: a cache key."""

    @abstractmethod
    def change_users(self, fn: Callable[[dict[str, UserRecord]], T]) -> T:
        """Run ``fn`` on the current accounts (a dict it may change in place) and store what it
        changed, atomically and serialised with every other change. Returns what ``fn`` returns."""

    @abstractmethod
    def change_kiosks(self, fn: Callable[[dict[str, Kiosk]], T]) -> T: ...


class FileDirectory(Directory):
    def __init__(self, users_file: Path | None = None, kiosks_file: Path | None = None) -> None:
        from layers.access.accounts import users_path
        from layers.access.kiosk import kiosks_path

        self.users_file = Path(users_file) if users_file is not None else users_path()
        self.kiosks_file = Path(kiosks_file) if kiosks_file is not None else kiosks_path()
        self.where = str(self.users_file)

    def users(self) -> dict[str, UserRecord]:
        from layers.access.accounts import load_users

        return load_users(self.users_file)

    def kiosks(self) -> dict[str, Kiosk]:
        from layers.access.kiosk import load_kiosks

        return load_kiosks(self.kiosks_file)

    def stamp(self, kind: str) -> Hashable:
        path = self.users_file if kind == "users" else self.kiosks_file
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        return (str(path), st.st_mtime_ns, st.st_size)

    def change_users(self, fn: Callable[[dict[str, UserRecord]], T]) -> T:
        from layers.access.accounts import _lock, load_users, write_users

        with _lock(self.users_file):
            records = load_users(self.users_file)
            before = dict(records)
            out = fn(records)
            if records != before:
                write_users(self.users_file, records)
        return out

    def change_kiosks(self, fn: Callable[[dict[str, Kiosk]], T]) -> T:
        from layers.access.accounts import _lock
        from layers.access.kiosk import load_kiosks, write_kiosks

        with _lock(self.kiosks_file):
            records = load_kiosks(self.kiosks_file)
            before = dict(records)
            out = fn(records)
            if records != before:
                write_kiosks(self.kiosks_file, records)
        return out


_USER_COLUMNS = ("username", "display_name", "nation", "clearance", "role", "password_hash", "disabled")
_KIOSK_COLUMNS = ("name", "nation", "clearance", "created_at", "expires_at", "created_by", "enrol_code_hash",
                  "enrol_expires_at", "token_hash", "revoked_at")


class DatabaseDirectory(Directory):
    """The accounts tables of a PostGIS store, through the store's connection pool."""

    def __init__(self, url: str) -> None:
        from ingest.store.postgis import PostGISStore, redact

        self.store = PostGISStore(url)
        self.where = f"the PostGIS store at {redact(url)}"

    def users(self) -> dict[str, UserRecord]:
        return self.store.run(lambda conn: _load_users(conn))

    def kiosks(self) -> dict[str, Kiosk]:
        return self.store.run(lambda conn: _load_kiosks(conn))

    def stamp(self, kind: str) -> Hashable:
        name = USERS_VERSION if kind == "users" else KIOSKS_VERSION
        row = self.store.run(lambda conn: conn.execute(
            "SELECT version FROM watchfloor_versions WHERE name = %s", (name,)).fetchone())
        return int(row[0]) if row else 0

    def change_users(self, fn: Callable[[dict[str, UserRecord]], T]) -> T:
        return self._change("watchfloor_users", "username", _USER_COLUMNS, USERS_VERSION, _load_users, fn)

    def change_kiosks(self, fn: Callable[[dict[str, Kiosk]], T]) -> T:
        return self._change("watchfloor_kiosks", "name", _KIOSK_COLUMNS, KIOSKS_VERSION, _load_kiosks, fn)

    def _change(self, table: str, key: str, columns: tuple[str, ...], version: str, load, fn):
        from psycopg import sql

        from ingest.markings import LEVELS
        from ingest.store.postgis import bump

        def run(conn):
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(coalesce(current_schema(), '') || %s))",
                         ("." + table,))
            records = load(conn)
            before = dict(records)
            out = fn(records)
            changed = False
            for name in before.keys() - records.keys():
                conn.execute(sql.SQL("DELETE FROM {} WHERE {} = %s").format(sql.Identifier(table), sql.Identifier(key)),
                             (name,))
                changed = True
            for name, record in records.items():
                old = before.get(name)
                if old == record:
                    continue
                row = {c: getattr(record, c) for c in columns}
                row["level"] = LEVELS.index(record.clearance)
                if old is None:
                    conn.execute(sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, row)),
                        sql.SQL(", ").join(sql.Placeholder() * len(row))), list(row.values()))
                else:  # only the columns that changed: a reader may update three of them
                    diff = {c: v for c, v in row.items() if c != "level" and getattr(old, c) != v}
                    if old.clearance != record.clearance:
                        diff["level"] = row["level"]
                    conn.execute(sql.SQL("UPDATE {} SET {} WHERE {} = %s").format(
                        sql.Identifier(table),
                        sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in diff),
                        sql.Identifier(key)), [*diff.values(), name])
                changed = True
            if changed:
                bump(conn, version)
            return out

        return self.store.run(run, transaction=True)


def _load_users(conn) -> dict[str, UserRecord]:
    from layers.access.accounts import UserRecord

    rows = conn.execute(f"SELECT {', '.join(_USER_COLUMNS)} FROM watchfloor_users ORDER BY username").fetchall()
    return {r[0]: UserRecord(r[0], r[2], r[3], r[4], r[5], r[1], bool(r[6])) for r in rows}


def _load_kiosks(conn) -> dict[str, Kiosk]:

    from layers.access.kiosk import Kiosk

    names = [f.name for f in fields(Kiosk)]
    assert set(names) == set(_KIOSK_COLUMNS), names
    out = {}
    for r in conn.execute(f"SELECT {', '.join(names)} FROM watchfloor_kiosks ORDER BY name").fetchall():
        values = {n: v.astimezone(UTC) if hasattr(v, "astimezone") else v for n, v in zip(names, r)}
        values["created_by"] = values["created_by"] or ""
        out[r[0]] = Kiosk(**values)
    return out


@functools.lru_cache(maxsize=4)
def _database(url: str) -> DatabaseDirectory:
    return DatabaseDirectory(url)


def is_database(url: str | None) -> bool:
    return bool(url) and url.startswith(("postgresql://", "postgres://"))


def directory() -> Directory:
    """The directory the configured store implies: its tables with PostGIS, else the local files
    (paths read now, so a changed WATCHFLOOR_HOME is honoured)."""
    url = config.store_url()
    if is_database(url):
        d = _database(url)
        local = FileDirectory()
        if local.users_file.exists():
            _warn_ignored(str(local.users_file), d.where)
        return d
    return FileDirectory()


@functools.lru_cache(maxsize=8)
def _warn_ignored(path: str, where: str) -> None:
    log.warning("%s is not used: with the PostGIS store, accounts live in %s "
                "(`watchfloor users import %s` copies them there)", path, where, path)
