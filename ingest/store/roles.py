"""`watchfloor db role ...`: the login roles of a PostGIS store (migration 0005 makes the groups).

- ``add-owner NAME``: migrations and administration (accounts, wall displays), on the admin's
  machine only; it owns the tables, so row-level security does not apply to it;
- ``add-writer NAME``: ingest and feed runners: every record, read and write; it owns nothing,
  so it cannot change a policy, disable row-level security or read another reader's scope;
- ``add-reader NAME --nation X --clearance Y [--administrators]``: one per dashboard instance.
  Its scope (a row of watchfloor_reader_scopes) is what a viewer of that nation and clearance
  (an administrator with ``--administrators``) may see under layers/access/policy.py, and the
  row-level security policies show it nothing else, even through raw SQL.

Creating logins needs a login with CREATEROLE (the cluster's administrator). The password is
read from stdin or generated and printed once; it goes to the server already hashed
(SCRAM-SHA-256, computed here by libpq), so no statement log ever holds it.
"""

from __future__ import annotations

import re
import secrets
import sys
from dataclasses import dataclass

import psycopg
from psycopg import sql

from ingest.errors import ConfigError
from ingest.markings import LEVELS, is_nation, level_of

GROUPS = {"owner": "watchfloor_owner", "writer": "watchfloor_writer", "reader": "watchfloor_reader"}
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class Scope:
    """What one reader login may see: the `policy.signature` of the viewers its instance serves."""

    nation: str
    clearance: str
    administrators: bool = False

    @property
    def level(self) -> int:
        return LEVELS.index(self.clearance)


def scope(nation: str, clearance: str, administrators: bool = False) -> Scope:
    """A checked scope: ConfigError names a bad nation or clearance."""
    code = str(nation or "").strip().upper()
    if not is_nation(code):
        raise ConfigError("reader --nation", "an ISO 3166-1 alpha-3 code (or XKX)", nation)
    level = level_of(clearance)
    if level is None:
        raise ConfigError("reader --clearance", f"one of {', '.join(LEVELS)}", clearance)
    return Scope(code, LEVELS[level], bool(administrators))


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _ROLE_NAME.fullmatch(name) or name.startswith("pg_") \
            or name in GROUPS.values():
        raise ConfigError("role name", "lower-case letters, digits and _ (max 63), not pg_* or a group", name)
    return name


def add_login(conn: psycopg.Connection, kind: str, name: str, password: str | None, *,
              reader_scope: Scope | None = None, existing: bool = False) -> None:
    """Create login ``name`` in the ``kind`` group (owner, writer, reader), with a reader's scope.

    With ``existing`` the login must exist already and only joins the group (its password is
    untouched); without, it must not exist. One transaction: a refused step leaves nothing."""
    _check_name(name)
    group = GROUPS[kind]
    if (kind == "reader") != (reader_scope is not None):
        raise ConfigError(f"{kind} {name}", "a scope for readers (and only for readers)", reader_scope)
    with conn.transaction():
        there = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone() is not None
        if there and not existing:
            raise ConfigError(f"role {name}", "a new login name (or --existing to add a login that exists)",
                              "already exists")
        if not there and existing:
            raise ConfigError(f"role {name}", "an existing login (--existing)", "no such role")
        if not there:
            if not password:
                raise ConfigError(f"role {name}", "a password", "empty")
            verifier = conn.pgconn.encrypt_password(password.encode(), name.encode(), b"scram-sha-256")
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(name), sql.Literal(verifier.decode())))
        conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), sql.Identifier(name)))
        if reader_scope is not None:
            conn.execute(
                "INSERT INTO watchfloor_reader_scopes (role_name, nation, clearance, level, administrators) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (role_name) DO UPDATE SET nation = EXCLUDED.nation, "
                "clearance = EXCLUDED.clearance, level = EXCLUDED.level, administrators = EXCLUDED.administrators",
                (name, reader_scope.nation, reader_scope.clearance, reader_scope.level,
                 reader_scope.administrators))


def drop_login(conn: psycopg.Connection, name: str) -> None:
    """Remove a login watchfloor made: its scope, its group memberships, the role itself."""
    _check_name(name)
    with conn.transaction():
        if conn.execute("SELECT to_regclass('watchfloor_reader_scopes')").fetchone()[0] is not None:
            conn.execute("DELETE FROM watchfloor_reader_scopes WHERE role_name = %s", (name,))
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


def list_logins(conn: psycopg.Connection) -> list[tuple[str, str, str]]:
    """(login, kind, scope text) of every member of a watchfloor group, by name."""
    rows = conn.execute(
        "SELECT m.rolname, g.rolname, s.nation, s.clearance, s.administrators FROM pg_auth_members am "
        "JOIN pg_roles g ON g.oid = am.roleid JOIN pg_roles m ON m.oid = am.member "
        "LEFT JOIN watchfloor_reader_scopes s ON s.role_name = m.rolname AND g.rolname = 'watchfloor_reader' "
        "WHERE g.rolname = ANY(%s) ORDER BY m.rolname, g.rolname", (list(GROUPS.values()),)).fetchall()
    kinds = {v: k for k, v in GROUPS.items()}
    out = []
    for login, group, nation, clearance, admins in rows:
        where = "" if kinds[group] != "reader" else (
            "NO SCOPE: sees nothing" if nation is None
            else f"{nation} {clearance}{' administrators' if admins else ''}")
        out.append((login, kinds[group], where))
    return out


def add_role_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="role_command", required=True)
    for kind, what in (("owner", "migrations and administration (the admin's machine only)"),
                       ("writer", "ingest and feed runners"),
                       ("reader", "one dashboard instance, limited to a nation and clearance")):
        p = sub.add_parser(f"add-{kind}", help=f"create a login for {what}")
        p.add_argument("name", help="the login's name (lower-case letters, digits, _)")
        if kind == "reader":
            p.add_argument("--nation", required=True, help="ISO 3166-1 alpha-3: the instance's nation")
            p.add_argument("--clearance", required=True, help="the highest level the instance may show")
            p.add_argument("--administrators", action="store_true",
                           help="the instance serves administrators: unmarked records and the quarantine too")
        p.add_argument("--password-stdin", action="store_true", help="read the password from stdin "
                       "(default: generate one and print it once)")
        p.add_argument("--existing", action="store_true", help="the login exists: only join the group / set the scope")
    sub.add_parser("list", help="the logins of each watchfloor group, readers with their scope")
    d = sub.add_parser("drop", help="remove a login (and its scope)")
    d.add_argument("name")
    for p in sub.choices.values():
        p.add_argument("--url", help="postgresql://... of a login that may create roles (default: WATCHFLOOR_STORE)")


def role_command(args, conn: psycopg.Connection, where: str) -> int:
    cmd = args.role_command
    if cmd == "list":
        for login, kind, text in list_logins(conn):
            print(f"{login:<32} {kind:<7} {text}".rstrip())
        return 0
    if cmd == "drop":
        drop_login(conn, args.name)
        print(f"{where}: dropped {args.name}")
        return 0
    kind = cmd.removeprefix("add-")
    reader_scope = scope(args.nation, args.clearance, args.administrators) if kind == "reader" else None
    password = None
    generated = False
    if not args.existing:
        if args.password_stdin:
            password = sys.stdin.readline().removesuffix("\n")
        else:
            password, generated = secrets.token_urlsafe(24), True
    add_login(conn, kind, args.name, password, reader_scope=reader_scope, existing=args.existing)
    what = f" ({reader_scope.nation} {reader_scope.clearance}{', administrators' if reader_scope.administrators else ''})" \
        if reader_scope else ""
    print(f"{where}: {args.name} is a watchfloor {kind}{what}")
    if generated:
        print(f"  password (shown once; put it in that machine's WATCHFLOOR_STORE): {password}")
    return 0
