"""`watchfloor users`: add, list, disable, enable, passwd and bootstrap local accounts."""

from __future__ import annotations

import argparse
import getpass
import secrets
import sys
from pathlib import Path

from ingest.errors import ConfigError
from ingest.markings import LEVELS
from layers.access.accounts import add_user, import_users, load_users, set_disabled, set_password
from layers.access.directory import directory
from layers.access.errors import PasswordPolicyError
from layers.access.passwords import authenticate
from layers.access.policy import ADMIN, ROLES, Viewer


def add_users_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Sub-commands of ``watchfloor users``: add, list, disable, enable, passwd, bootstrap.

    Passwords are never command-line arguments (they would sit in shell history and
    the process list): they are prompted for twice, or read from stdin with
    --password-stdin for scripts."""
    parser.add_argument("--file", help="users file (default: $WATCHFLOOR_HOME/users.toml, or the PostGIS "
                        "store's accounts table when WATCHFLOOR_STORE names one)")
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
    from layers.access.kiosk import add_kiosk_arguments

    add_kiosk_arguments(sub.add_parser("kiosk", help="wall displays that stay signed in (device tokens)"))
    im = sub.add_parser("import", help="copy the accounts of a users file to where the store keeps them "
                        "(the PostGIS store's table: shared by every dashboard)")
    im.add_argument("source", help="a users.toml")
    im.add_argument("--replace", action="store_true", help="overwrite accounts that exist already")
    pw = sub.add_parser("passwd", help="set an account's password (prompts for it)")
    pw.add_argument("username")
    pw.add_argument("--password-stdin", action="store_true")
    parser.set_defaults(func=users_command)
    return parser


def users_command(args: argparse.Namespace) -> int:
    """Run one ``watchfloor users`` sub-command; returns the exit code. Errors raise
    WatchfloorError subclasses (the CLI prints them and exits 2)."""
    path = Path(args.file) if getattr(args, "file", None) else None  # None: where the store keeps them
    where = path or directory().where
    cmd = args.users_command
    if cmd == "add":
        password = _read_password(bool(args.password_stdin))
        r = add_user(path, args.username, password, nation=args.nation, clearance=args.clearance,
                     role=args.role, display_name=args.display_name, disabled=args.disabled,
                     replace=args.replace)
        print(f"added {r.username} ({r.nation}, {r.clearance}, {r.role}{', disabled' if r.disabled else ''}) "
              f"to {where}")
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
        from layers.access.kiosk import kiosk_command

        return kiosk_command(args, path.with_name("kiosks.toml") if path is not None else None)
    if cmd == "import":
        copied = import_users(args.source, path, replace=args.replace)
        print(f"copied {len(copied)} account(s) from {args.source} to {where}" + (f": {', '.join(copied)}" if copied else ""))
        return 0
    if cmd == "passwd":
        set_password(path, args.username, _read_password(bool(args.password_stdin)))
        print(f"{args.username}: password changed")
        return 0
    raise ConfigError("users command", "add, list, disable, enable, import, kiosk, bootstrap or passwd", cmd)


def bootstrap(path: Path | None, username: str, *, nation: str, clearance: str) -> int:
    """First run (``make run``): with no accounts yet, create one administrator so somebody can
    sign in and add the others. At a terminal the password is asked for; otherwise (a script, CI)
    a random one is generated and shown once on this terminal, for the operator to change with
    ``watchfloor users passwd``. Only its argon2 hash is stored; nothing is logged."""
    where = path or directory().where
    existing = load_users(path)
    if existing:
        print(f"{where}: {len(existing)} account(s) already; nothing to do")
        return 0
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    password = _read_password(False) if interactive else secrets.token_urlsafe(15)
    r = add_user(path, username, password, nation=nation, clearance=clearance, role=ADMIN,
                 display_name="Administrator")
    print(f"created administrator {r.username} ({r.nation}, {r.clearance}) in {where}")
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
        raise ConfigError(f"accounts in {directory().where}", "at least one account (add one with "
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


def add_parsers(sub: argparse._SubParsersAction) -> None:
    u = sub.add_parser("users", help="local sign-in accounts (argon2 hashes in $WATCHFLOOR_HOME/users.toml)")
    add_users_arguments(u)
